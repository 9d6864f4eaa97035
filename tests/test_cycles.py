"""--metric cycles: estimated cycles on a named AArch64 core (qemu block counts x llvm-mca), end to end.

Real clang/opt/llc/lld, real qemu-aarch64 with costtune's plugin, real llvm-mca-19, real SQLite.
"""

from __future__ import annotations

import json
import logging
import struct

import pytest

from costtune.benchmarks import get_benchmark
from costtune.cli import main as cli_main
from costtune.compile import compile_benchmark
from costtune.errors import ConfigError, MeasurementError
from costtune.measure import cycles, measure
from costtune.measure.cycles import CostCache, byte_key, estimate, metric_name, normalise
from costtune.records import RecordStore


def _measure_cli(capsys, *extra) -> tuple[int, str, str]:
    rc = cli_main(["measure", "builtin/bitcount", "--passes", "O3", "--repeat", "1", *extra])
    out, err = capsys.readouterr()
    return rc, out, err


def test_measure_cycles_prints_the_same_number_twice(capsys):
    values = []
    for _ in range(2):
        rc, out, _ = _measure_cli(capsys, "--metric", "cycles", "--cpu", "cortex-a57", "--json")
        assert rc == 0, out
        m = json.loads(out)
        assert m["status"] == "ok" and m["metric"] == "cycles:cortex-a57"
        values.append(m["value"])
    assert values[0] == values[1] > 0
    rc, out, _ = _measure_cli(capsys, "--metric", "insns", "--json")
    insns = json.loads(out)["value"]
    assert values[0] != insns and f"{insns:.0f} insns" in m["detail"]
    # another core models other latencies: another figure, recorded under its own metric
    rc, out, _ = _measure_cli(capsys, "--metric", "cycles", "--cpu", "neoverse-n1", "--json")
    n1 = json.loads(out)
    assert rc == 0 and n1["metric"] == "cycles:neoverse-n1" and n1["value"] != values[0]


def test_bad_core_and_cpu_without_cycles_are_one_line(capsys):
    rc, out, err = _measure_cli(capsys, "--metric", "cycles", "--cpu", "cortex-z9")
    lines = err.strip().splitlines()
    assert rc != 0 and len(lines) == 1 and "Traceback" not in err
    assert lines[0].startswith("costtune: error: unknown core 'cortex-z9'")
    assert "cortex-a57" in lines[0] and "neoverse-v2" in lines[0]
    rc, out, err = _measure_cli(capsys, "--metric", "insns", "--cpu", "cortex-a72")
    assert rc != 0 and err.strip() == "costtune: error: --cpu needs --metric cycles (the metric is 'insns')"
    with pytest.raises(MeasurementError, match="names core neoverse-n1 but --cpu is cortex-a72"):
        metric_name("cycles:neoverse-n1", "cortex-a72")
    assert metric_name("cycles") == "cycles:cortex-a57" and metric_name("insns") == "insns"


def test_normalised_text_has_no_addresses():
    assert normalise("b\t0x238154 <main>", "aarch64") == "b ct_target"
    assert normalise("adrp\tx0, 0x2a2000 <_sys_errlist_internal+0x400>", "aarch64") == "adrp x0, ct_target"
    assert normalise("stp\tx29, x30, [sp, #-0x20]!", "aarch64") == "stp x29, x30, [sp, #-0x20]!"
    assert normalise("mov\tx29, #0x0               // =0", "aarch64") == "mov x29, #0x0"
    assert normalise("callq\t0x23f0e0 <atoi>", "host") == "callq ct_target"
    assert normalise("leaq\t0x10(%rip), %rax          # 0x4a5b8 <x>", "host") == "leaq 0x10(%rip), %rax"
    # the byte key ignores branch offsets (the text has none), not other immediates
    bl = [struct.pack("<I", 0x94000000 | off) for off in (0x10, 0x2000)]
    assert byte_key(bl[0], "aarch64", 1) == byte_key(bl[1], "aarch64", 1)
    add = [struct.pack("<I", 0x91000000 | (imm << 10)) for imm in (1, 2)]  # add x0, x0, #imm
    assert byte_key(add[0], "aarch64", 1) != byte_key(add[1], "aarch64", 1)


def test_estimate_is_cached_by_content_and_falls_back_loudly(tmp_path, caplog):
    bench = get_benchmark("builtin/checksum")
    cr = compile_benchmark(bench, "O3")
    assert cr.ok, cr.describe()
    m = measure(cr.artifact, bench, "insns", repeat=1, profile=True)
    assert m.ok and m.blocks
    cache = CostCache(tmp_path / "blocks.sqlite")
    cycles._said.clear()  # a block is said once per process: an earlier test may have said these
    with caplog.at_level(logging.WARNING, logger="costtune.measure.cycles"):
        cold = estimate(cr.artifact.binary, m.blocks, cache=cache)
        warm = estimate(cr.artifact.binary, m.blocks, cache=cache)
    assert cold.insns == m.value and cold.cycles > 0
    assert cold.analysed > 0 and cold.disassembled
    assert warm.analysed == 0 and not warm.disassembled and warm.cycles == cold.cycles
    assert set(cold.by_mode) == {"rthru", "latency"} and cold.by_mode["latency"] > cold.by_mode["rthru"]
    # glibc's LSE/SVE paths (picked for qemu's CPU) are not in cortex-a57's model: counted 1 cycle each, said once
    said = [r for r in caplog.records if "cannot analyse" in r.getMessage()]
    if cold.fallback_insns:
        assert len(said) == 1 and cold.fallback_blocks >= 1
    # a block whose address is not in the binary: 1 cycle per instruction, never zero
    far = [*m.blocks, (0x10, 7, 1000)]
    with caplog.at_level(logging.WARNING, logger="costtune.measure.cycles"):
        est = estimate(cr.artifact.binary, far, cache=cache)
    assert est.cycles == pytest.approx(cold.cycles + 7000, abs=0.2)
    assert est.fallback_insns == cold.fallback_insns + 7000
    assert "7000 executed insns" in est.describe() or est.fallback_insns > 7000
    assert any("not in" in r.getMessage() for r in caplog.records)
    cache.close()


def test_search_on_cycles_and_a_study_never_mixes_metrics(tmp_path):
    from costtune.search import SearchConfig, run_search

    base = dict(benchmarks=["bitcount"], budget=2, repeat=1, out=str(tmp_path / "out"), progress=False,
                sampler="random", slots=4, max_trials_factor=30)
    res = run_search(SearchConfig(metric="cycles", cpu="cortex-a57", **base))
    p = res.programs[0]
    assert p.o3_value and p.best_value and p.measurements == 2
    with RecordStore(res.db) as s:
        recs = list(s.records())
    assert recs and {r.metric for r in recs} == {"cycles:cortex-a57"}
    o3 = [r for r in recs if r.status == "ok" and r.label.endswith(":O3")]
    assert o3 and o3[0].value == p.o3_value
    with pytest.raises(ConfigError, match="holds values of metric cycles:cortex-a57, this search measures metric"):
        run_search(SearchConfig(**base))
    # another repeat knob: the study's best would not compare with a new O3 (refused before measuring)
    with pytest.raises(ConfigError, match="holds values of repeat 1, this search measures repeat 2"):
        run_search(SearchConfig(metric="cycles", cpu="cortex-a57", **{**base, "repeat": 2}))


@pytest.fixture(scope="module")
def cycles_data(tmp_path_factory):
    """Three builtin programs collected on cycles (o3-edits), and their dataset."""
    from costtune import dataset as ds
    from costtune.collect import CollectConfig, collect

    root = tmp_path_factory.mktemp("cycles")
    db = str(root / "records.db")
    programs = ["bitcount", "checksum", "sorting"]
    summary = collect(CollectConfig(suite="builtin", benchmarks=programs, samples=3, db=db, seed=5, repeat=1,
                                    space="o3-edits", metric="cycles", references=("O0", "O3")))
    out = ds.build_dataset(db=db, out=root / "ds", metric="cycles:cortex-a57", eps=0.0, split=(1.0, 0.0, 0.0),
                           split_explicit=True, plots=False)
    return root, db, summary, out


def test_collect_and_dataset_on_cycles(cycles_data):
    from costtune import dataset as ds

    root, db, summary, out = cycles_data
    assert summary.remaining == 0 and summary.errors == 0, summary
    with RecordStore(db) as s:
        recs = [r for r in s.records() if r.status == "ok"]
    assert {r.metric for r in recs} == {"cycles:cortex-a57"}
    assert all("cycles on cortex-a57" in r.detail["measure_detail"] for r in recs if r.reused_from is None)
    assert out.total_candidates >= 6 and out.total_pairs > 0
    lat = [json.loads(line)["latency"] for line in (root / "ds" / "ranking.jsonl").read_text().splitlines()]
    assert set(lat) <= {r.value for r in recs}
    # the same database read as instruction counts holds nothing: metrics never mix
    with pytest.raises(Exception, match="insns|valid record"):
        ds.build_dataset(db=db, out=root / "ds2", metric="insns", split=(1.0, 0.0, 0.0), split_explicit=True,
                         plots=False)


def test_a_cost_model_trains_on_a_cycles_dataset_and_scores_its_candidates(cycles_data):
    pytest.importorskip("torch")
    import math

    from costtune.model import CostModel, PretrainConfig, TrainConfig
    from costtune.model.pretrain import pretrain
    from costtune.model.train import train
    from costtune.tokenizer import train_spm

    from costtune import dataset as ds

    root, db = cycles_data[:2]
    d = root / "ds_split"  # two programs to train on, one to test
    ds.build_dataset(db=db, out=d, metric="cycles:cortex-a57", eps=0.0, split=(0.6, 0.0, 0.4), split_explicit=True,
                     plots=False)
    train_spm(d / "all_assembly.txt", 400, root / "tok")
    pretrain(d / "all_assembly.txt", root / "tok", root / "base",
             PretrainConfig(hidden_size=64, num_layers=2, num_heads=2, intermediate_size=128, max_len=64, steps=10,
                            batch_size=4, lr=1e-2, warmup=2, threads=1, device="cpu"))
    train(d, root / "base", root / "model", TrainConfig(max_len=64, max_chunks=2, group_size=3, epochs=1.0, lr=5e-3,
                                                        warmup=1, threads=1, device="cpu"))
    rows = [json.loads(line) for line in (d / "ranking.jsonl").read_text().splitlines()]
    costs = CostModel.from_pretrained(root / "model").score([r["functions"] for r in rows])
    assert len(costs) == len(rows) and all(math.isfinite(c) for c in costs) and len(set(costs)) > 1
