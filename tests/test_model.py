"""The cost model end to end on a tiny real dataset: real compiled asm, real qemu counts.

Two builtin programs x three pipelines are compiled and measured once per session; a
sentencepiece vocabulary and a 2-layer 64-dim Llama are trained on their assembly.
Everything runs on CPU in about a minute.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

import torch  # noqa: E402

from costtune.cli import main as cli_main  # noqa: E402
from costtune.errors import DatasetError, ModelLoadError  # noqa: E402
from costtune.model import CostModel, PretrainConfig, TrainConfig  # noqa: E402
from costtune.model.pretrain import pretrain  # noqa: E402
from costtune.model.train import train  # noqa: E402

PROGRAMS = ("builtin/bitcount", "builtin/checksum")
PIPELINES = ("O0", "O1", "O3")
TINY_TRAIN = dict(max_len=64, max_chunks=2, group_size=3, epochs=2.0, lr=5e-3, warmup=1, threads=1, device="cpu")


@pytest.fixture(scope="session")
def dataset(tmp_path_factory) -> Path:
    from costtune.asm import program_functions
    from costtune.benchmarks import get_benchmark
    from costtune.compile import compile_benchmark
    from costtune.measure import measure

    d = tmp_path_factory.mktemp("data")
    rows = []
    for prog in PROGRAMS:
        bench = get_benchmark(prog)
        for p in PIPELINES:
            cr = compile_benchmark(bench, p)
            assert cr.ok, cr.describe()
            m = measure(cr.artifact, bench, metric="insns", repeat=1)
            assert m.ok, m.describe()
            fns = program_functions(cr.artifact)
            rows.append({"program": prog, "candidate": p, "pipeline": p, "latency": m.value,
                         "text": "\n".join(fns.values()), "functions": fns,
                         "split": "test" if prog == PROGRAMS[1] else "train"})
    (d / "ranking.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (d / "all_assembly.txt").write_text("\n".join(r["text"] for r in rows))
    return d


@pytest.fixture(scope="session")
def tiny_base(dataset, tmp_path_factory) -> tuple[Path, object]:
    from costtune.tokenizer import train_spm

    root = tmp_path_factory.mktemp("base")
    train_spm(dataset / "all_assembly.txt", 400, root / "tok")
    cfg = PretrainConfig(hidden_size=64, num_layers=2, num_heads=2, intermediate_size=128, max_len=64,
                         steps=30, batch_size=4, lr=1e-2, warmup=2, threads=1, device="cpu")
    res = pretrain(dataset / "all_assembly.txt", root / "tok", root / "llama", cfg)
    return root / "llama", res


@pytest.fixture(scope="session")
def rank_model(dataset, tiny_base, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("rank")
    train(dataset, tiny_base[0], out, TrainConfig(**TINY_TRAIN))
    return out


def test_pretrain_loss_drops(tiny_base):
    base, res = tiny_base
    assert (base / "config.json").is_file() and (base / "tokenizer.model").is_file()
    assert res.last_loss < res.first_loss - 0.5


def test_rank_model_saves_and_reloads_identically(dataset, rank_model):
    from costtune.model.data import load_ranking

    cfg = json.loads((rank_model / "costtune_model.json").read_text())
    assert cfg["format_version"] >= 1 and cfg["costtune_version"]
    assert cfg["metrics"]["test_programs"] == [PROGRAMS[1]]
    cands = load_ranking(dataset)
    a = CostModel.from_pretrained(rank_model)
    b = CostModel.from_pretrained(rank_model)
    sa = a.score([c.functions for c in cands])
    sb = b.score([c.text for c in cands])  # a listing is split into the same functions
    assert all(math.isfinite(x) for x in sa)
    assert sa == pytest.approx(sb, abs=1e-5)
    assert len(set(round(x, 6) for x in sa)) > 1  # not a constant
    # the cache: scoring again costs no model call
    misses = a.cache_misses
    assert a.score([c.functions for c in cands]) == sa and a.cache_misses == misses
    order = a.rank([c.functions for c in cands])
    assert sorted(order) == list(range(len(cands))) and sa[order[0]] == min(sa)


def test_merge_and_unload_equivalent(dataset, rank_model):
    from costtune.model.data import load_ranking

    m = CostModel.from_pretrained(rank_model)
    cands = [c.functions for c in load_ranking(dataset)]
    assert m.merged().score(cands) == pytest.approx(m.score(cands), abs=1e-4)


def test_pairwise_sft_masks_prompt(dataset, tiny_base, tmp_path):
    from costtune.model.base import load_tokenizer
    from costtune.model.costmodel import SFT_FASTER, sft_prompt
    from costtune.model.sft import sft_example

    tok = load_tokenizer(tiny_base[0])
    prompt = sft_prompt("mov w0, wzr\nret", "ret")
    ids, labels = sft_example(tok, prompt, SFT_FASTER)
    n_prompt = len(tok(prompt, add_special_tokens=False)["input_ids"]) + (tok.bos_token_id is not None)
    assert labels[:n_prompt] == [-100] * n_prompt
    assert all(x != -100 for x in labels[n_prompt:]) and labels[n_prompt:] == ids[n_prompt:]
    assert tok.decode(ids[n_prompt:], skip_special_tokens=True).strip() == SFT_FASTER

    out = tmp_path / "sft"
    res = train(dataset, tiny_base[0], out, TrainConfig(head="pairwise-sft", sft_max_len=128, max_steps=3,
                                                        **{k: v for k, v in TINY_TRAIN.items() if k != "epochs"}))
    assert res.steps == 3
    m = CostModel.from_pretrained(out)
    from costtune.model.data import load_ranking

    cands = [c.functions for c in load_ranking(dataset) if c.program == PROGRAMS[1]]
    s = m.score(cands)
    assert len(s) == 3 and all(0 <= x <= 2 for x in s)


def test_eval_prints_table_and_json_with_baselines(dataset, rank_model, tmp_path, capsys):
    js = tmp_path / "eval.json"
    assert cli_main(["eval", "--model", str(rank_model), "--data", str(dataset), "--json", str(js)]) == 0
    out = capsys.readouterr().out
    for name in ("model", "static_insns", "opcode_gbm", "random"):
        assert name in out
    rep = json.loads(js.read_text())
    assert rep["programs"] == [PROGRAMS[1]]
    for name in ("model", "static_insns", "opcode_gbm", "random"):
        o = rep["overall"][name]
        assert o["pairs"] == rep["overall"]["model"]["pairs"] > 0
        assert 0 <= o["pair_acc"] <= 1 and 0 < o["top1"] <= 1 and -1 <= o["kendall_tau"] <= 1
    # static count: O0 has the most instructions and is the slowest here
    assert rep["overall"]["static_insns"]["top1"] <= 1


def test_eval_on_new_data_uses_its_test_split(dataset, rank_model, tmp_path, capsys):
    """A dataset without the model's own held-out programs is scored on the dataset's test split."""
    rows = [json.loads(line) for line in (dataset / "ranking.jsonl").read_text().splitlines()]
    new = tmp_path / "new"
    new.mkdir()
    renamed = [dict(r, program="mine/checksum") if r["program"] == PROGRAMS[1] else r for r in rows]
    (new / "ranking.jsonl").write_text("".join(json.dumps(r) + "\n" for r in renamed))
    js = tmp_path / "eval.json"
    assert cli_main(["eval", "--model", str(rank_model), "--data", str(new), "--json", str(js)]) == 0
    assert json.loads(js.read_text())["programs"] == ["mine/checksum"]


def test_eval_without_json_prints_the_table_only_with_top_k_labelled_scores(dataset, rank_model, capsys):
    assert cli_main(["eval", "--model", str(rank_model), "--data", str(dataset)]) == 0
    out = capsys.readouterr().out
    head = out.splitlines()[0].split()
    assert head == ["scorer", "pair_acc", "kendall_tau", "top1_score", "top5_score", "pairs"]
    assert "best latency / latency of the best of the scorer's top K" in out
    assert "{" not in out and '"overall"' not in out  # no JSON after the table


def test_eval_on_data_without_training_programs_skips_the_gbm_only(dataset, rank_model, tmp_path, capsys):
    """A dataset made with --split 0,0,1: every scorer but the GBM (fitted on training programs)."""
    rows = [json.loads(line) for line in (dataset / "ranking.jsonl").read_text().splitlines()]
    only_test = tmp_path / "only_test"
    only_test.mkdir()
    (only_test / "ranking.jsonl").write_text("".join(json.dumps(dict(r, split="test")) + "\n" for r in rows))
    js = tmp_path / "eval.json"
    assert cli_main(["eval", "--model", "default", "--data", str(only_test), "--json", str(js)]) == 0
    out = capsys.readouterr().out
    rep = json.loads(js.read_text())
    assert rep["programs"] == sorted(PROGRAMS)
    assert set(rep["overall"]) == {"model", "static_insns", "random"}
    assert "opcode_gbm" in rep["skipped"] and "no training programs" in rep["skipped"]["opcode_gbm"]
    assert "opcode_gbm" in out and "skipped: no training programs" in out


def test_corrupt_checkpoint_is_one_line_error(rank_model, tmp_path, capsys):
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(rank_model, bad)
    (bad / "adapter" / "adapter_model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ModelLoadError):
        CostModel.from_pretrained(bad)
    rc = cli_main(["eval", "--model", str(bad), "--data", str(tmp_path)])
    err = capsys.readouterr().err
    assert rc != 0 and "Traceback" not in err
    lines = [l for l in err.splitlines() if l.strip()]
    assert rc == 1 and len(lines) == 1 and lines[0].startswith("costtune: error:"), err

    missing = tmp_path / "nothing"
    with pytest.raises(ModelLoadError):
        CostModel.from_pretrained(missing)


def test_tokenizer_mismatch_is_model_load_error(rank_model, tmp_path):
    import shutil

    bad = tmp_path / "mm"
    shutil.copytree(rank_model, bad)
    cfg = json.loads((bad / "costtune_model.json").read_text())
    cfg["vocab_size"] += 7
    (bad / "costtune_model.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelLoadError, match="do not match"):
        CostModel.from_pretrained(bad)


def test_dataset_errors(tmp_path, dataset, tiny_base):
    (tmp_path / "ranking.jsonl").write_text("")
    with pytest.raises(DatasetError):
        train(tmp_path, tiny_base[0], tmp_path / "o", TrainConfig(**TINY_TRAIN))
    one = tmp_path / "one"
    one.mkdir()
    lines = [l for l in (dataset / "ranking.jsonl").read_text().splitlines() if PROGRAMS[0] in l]
    (one / "ranking.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(DatasetError, match="both sides"):
        train(one, tiny_base[0], tmp_path / "o", TrainConfig(**TINY_TRAIN))


def test_profile_weights_follow_inlining(dataset, tiny_base, tmp_path):
    from costtune.benchmarks import get_benchmark
    from costtune.model.data import load_ranking
    from costtune.model.profile import candidate_weights, reference_profile

    ref = reference_profile(get_benchmark(PROGRAMS[0]), "O0")
    assert ref.weights and abs(sum(ref.weights.values()) - 1) < 1e-6
    cands = {c.candidate: c for c in load_ranking(dataset) if c.program == PROGRAMS[0]}
    o3 = cands["O3"].functions
    w = candidate_weights(o3, ref)
    assert set(w) == set(o3)
    # the work of functions inlined away lands on functions the O3 build still has
    assert sum(w.values()) == pytest.approx(sum(ref.weights.values()), rel=0.05)

    out = tmp_path / "prof"
    train(dataset, tiny_base[0], out, TrainConfig(weights="profile", max_steps=2,
                                                  **{k: v for k, v in TINY_TRAIN.items() if k != "epochs"}))
    m = CostModel.from_pretrained(out)
    assert m.config.weights == "profile"
    s1 = m.score([c.functions for c in cands.values()], ref)
    s0 = m.score([c.functions for c in cands.values()])
    assert all(math.isfinite(x) for x in s1) and s1 != s0
