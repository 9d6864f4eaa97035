"""The corpus: o3-edits collection with per-function counts, the corpus file, families and the
fixed split, and ``costtune dataset --from-corpus`` (real compiles and qemu runs)."""

from __future__ import annotations

import gzip
import math
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from costtune.collect import CollectConfig, collect, plan_jobs, resolve_benchmarks
from costtune.corpus import export_corpus, family_of, import_corpus, read_corpus, split_of
from costtune.errors import RecordStoreError
from costtune.records import RecordStore
from costtune.toolchain import find

ROOT = Path(__file__).resolve().parent.parent
SMALL = dict(suite="builtin", benchmarks=["bitcount"], repeat=1, space="o3-edits", samples=4, seed=3)


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "costtune", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)


# ---------------------------------------------------------------- families and the split

def test_programs_that_share_code_share_a_family_across_suites():
    gsm = {family_of(b) for b in ("cbench/telecom-gsm", "testsuite/MultiSource-Benchmarks-mediabench-gsm-toast",
                                  "testsuite/MultiSource-Benchmarks-MiBench-telecomm-gsm")}
    assert gsm == {"mibench:gsm"}
    assert family_of("cbench/security-blowfish-encode") == family_of("cbench/security-blowfish-decode")
    assert family_of("codelets/mibench-automotive-susan-src-susan-codelet-1-1") == \
        family_of("cbench/automotive-susan-corners")
    assert family_of("polybench/medley-floyd-warshall") == \
        family_of("testsuite/SingleSource-Benchmarks-Polybench-medley-floyd-warshall") == "polybench:floyd-warshall"
    assert family_of("polybench/2mm") != family_of("polybench/3mm")
    assert family_of("builtin/sha256") != family_of("cbench/security-sha")  # our own code


def test_split_is_fixed_and_keeps_the_search_development_out_of_test():
    for held_out in ("cbench/telecom-gsm", "cbench/automotive-susan-edges", "cbench/bzip2-decode"):
        assert split_of(family_of(held_out)) == "test"
    for developed in ("cbench/security-sha", "cbench/telecom-adpcm-c", "cbench/automotive-qsort1",
                      "cbench/telecom-crc32", "cbench/automotive-bitcount", "cbench/office-stringsearch2",
                      "cbench/network-patricia", "cbench/security-rijndael-encode", "cbench/security-blowfish-decode"):
        assert split_of(family_of(developed)) == "train"
    shares = [split_of(f"x:{i}") for i in range(4000)]
    assert abs(shares.count("test") / 4000 - 0.2) < 0.03
    assert abs(shares.count("validation") / 4000 - 0.1) < 0.03
    assert [split_of(f"x:{i}") for i in range(50)] == shares[:50]


# ---------------------------------------------------------------- collection and the file

@pytest.fixture(scope="module")
def collected(tmp_path_factory):
    d = tmp_path_factory.mktemp("corpus")
    db = str(d / "records.db")
    summary = collect(CollectConfig(db=db, references=("O0", "O3"), **SMALL))
    assert summary.errors == 0 and summary.remaining == 0
    return d, db


def test_o3_edits_plan_is_seeded_and_near_o3():
    cfg = CollectConfig(**SMALL)
    tc = find()
    benches = resolve_benchmarks(cfg)
    a, b = plan_jobs(cfg, benches, tc.llvm, tc.opt), plan_jobs(cfg, benches, tc.llvm, tc.opt)
    assert [j.key for j in a] == [j.key for j in b]
    edits = [j for j in a if j.label.startswith("edit")]
    assert len(edits) == 4 and len({j.pipeline for j in edits}) == 4
    assert all("cgscc(" in j.pipeline for j in edits)  # O3's tree, not a flat list
    other = plan_jobs(CollectConfig(**{**SMALL, "seed": 4}), benches, tc.llvm, tc.opt)
    assert {j.pipeline for j in edits} != {j.pipeline for j in other if j.label.startswith("edit")}


def test_every_measurement_keeps_its_per_function_counts(collected):
    _, db = collected
    with RecordStore(db, create=False) as s:
        recs = [r for r in s.records() if r.status == "ok"]
    assert {r.label for r in recs} >= {"O0", "O3"}
    for r in recs:
        fns = r.detail["functions"]
        assert sum(fns.values()) == r.value  # the same qemu run: exact
        assert "main" in fns and "main" in r.detail["function_hashes"]
        assert ("blocks" in r.detail) == (r.label in ("O0", "O3"))
    o0 = next(r for r in recs if r.label == "O0")
    assert sum(n * e for _, n, e in o0.detail["blocks"]) == o0.value


def test_corpus_round_trip_and_idempotent_import(collected, tmp_path):
    d, db = collected
    path = tmp_path / "c.jsonl.gz"
    s = export_corpus(db, path)
    assert s.programs == 1 and s.candidates == 6
    header, programs = read_corpus(path)
    assert header["llvm"] == find().llvm and header["metric"] == "insns"
    prog, cands = programs[0]
    assert prog["family"] == "builtin:bitcount" and prog["split"] == split_of("builtin:bitcount")
    assert not any(k in json.dumps(programs) for k in ("int main", "ldr ", "define "))  # no code
    back = tmp_path / "back.db"
    assert import_corpus(path, back).inserted == 6
    assert import_corpus(path, back).inserted == 0
    with RecordStore(db, create=False) as a, RecordStore(back, create=False) as b:
        ra = {r.job_key: r for r in a.records()}
        rb = {r.job_key: r for r in b.records()}
    assert ra.keys() == rb.keys()
    for k, r in ra.items():
        assert (rb[k].value, rb[k].status, rb[k].binary_hash, rb[k].pipeline) == (r.value, r.status, r.binary_hash,
                                                                                  r.pipeline)
        assert rb[k].detail.get("functions") == r.detail.get("functions")


def test_a_corpus_of_another_version_is_one_line(collected, tmp_path):
    _, db = collected
    path = tmp_path / "c.jsonl.gz"
    export_corpus(db, path)
    lines = gzip.open(path, "rt").read().splitlines()
    head = json.loads(lines[0])
    head["version"] = 99
    bad = tmp_path / "v99.jsonl.gz"
    with gzip.open(bad, "wt") as fh:
        fh.write("\n".join([json.dumps(head), *lines[1:]]) + "\n")
    with pytest.raises(RecordStoreError, match="version 99"):
        read_corpus(bad)
    res = cli("dataset", "--from-corpus", str(bad), "--out", str(tmp_path / "ds"), cwd=tmp_path)
    assert res.returncode != 0 and res.stderr.strip().count("\n") == 0 and "version 99" in res.stderr
    assert not (tmp_path / "ds").exists()


def test_dataset_from_corpus_rebuilds_and_leaves_out_a_changed_candidate(collected, tmp_path):
    _, db = collected
    path = tmp_path / "c.jsonl.gz"
    export_corpus(db, path)
    lines = gzip.open(path, "rt").read().splitlines()
    objs = [json.loads(x) for x in lines]
    edits = [o for o in objs if o.get("type") == "candidate" and o["label"].startswith("edit") and o["status"] == "ok"]
    o3 = next(o for o in objs if o.get("label") == "O3")
    victim = next(o for o in edits if o["binary_hash"] != o3["binary_hash"])
    victim["binary_hash"] = "0" * 64  # as if measured from other code
    tampered = tmp_path / "t.jsonl.gz"
    with gzip.open(tampered, "wt") as fh:
        fh.write("".join(json.dumps(o) + "\n" for o in objs))
    res = cli("dataset", "--from-corpus", str(tampered), "--out", str(tmp_path / "ds"), "--eps", "0.001",
              "--no-plots", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "1 differ" in res.stdout
    summary = json.loads((tmp_path / "ds" / "dataset.json").read_text())
    split = split_of("builtin:bitcount")
    assert summary["splits"][split] == ["builtin/bitcount"]
    ranking = [json.loads(x) for x in (tmp_path / "ds" / "ranking.jsonl").read_text().splitlines()]
    assert victim["pipeline"] not in {r["pipeline"] for r in ranking}


def test_eval_ranks_cold_with_the_variant_model_on_a_dataset_from_the_corpus(collected, tmp_path):
    _, db = collected
    path = tmp_path / "c.jsonl.gz"
    export_corpus(db, path)
    res = cli("dataset", "--from-corpus", str(path), "--out", str(tmp_path / "ds"), "--eps", "0.001", "--no-plots",
              cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    # on a dataset from the corpus the default model is the variant model (the references' profiles are there)
    res = cli("eval", "--model", "default", "--data", str(tmp_path / "ds"), "--benchmarks", "builtin/bitcount",
              "--eps", "0", "--json", str(tmp_path / "eval.json"), cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    rep = json.loads((tmp_path / "eval.json").read_text())
    assert rep["programs"] == ["builtin/bitcount"]
    assert {"model", "profile_estimate", "static_insns", "random"} <= set(rep["overall"])
    # the O0 and O3 builds are the known references: the rest are ranked
    ranked = rep["per_program"]["model"]["builtin/bitcount"]["n"]
    assert 2 <= ranked == rep["per_program"]["profile_estimate"]["builtin/bitcount"]["n"]
    # a dataset without the corpus's profiles: one line
    res = cli("eval", "--model", "variant", "--data", str(tmp_path), cwd=tmp_path)
    assert res.returncode != 0 and res.stderr.strip().count("\n") == 0 and "--from-corpus" in res.stderr
    # a corpus collected without block profiles: one line, nothing written
    with gzip.open(path, "rt") as f, gzip.open(tmp_path / "bare.jsonl.gz", "wt") as g:
        for line in f:
            d = json.loads(line)
            d.pop("blocks", None)  # a candidate's block profile (the O0 and O3 references keep one)
            g.write(json.dumps(d) + "\n")
    res = cli("dataset", "--from-corpus", str(tmp_path / "bare.jsonl.gz"), "--out", str(tmp_path / "bare"), "--eps",
              "0.001", "--no-plots", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    res = cli("eval", "--model", "variant", "--data", str(tmp_path / "bare"), "--benchmarks", "builtin/bitcount",
              "--json", str(tmp_path / "bare.json"), cwd=tmp_path)
    assert res.returncode != 0 and res.stderr.strip().count("\n") == 0, res.stderr
    assert "no block profile" in res.stderr and not (tmp_path / "bare.json").exists()
    # the same dataset gives the variant model's training examples
    script = Path(__file__).resolve().parent.parent / "benchmarks" / "variant_examples.py"
    res = subprocess.run([sys.executable, str(script), "--data", str(tmp_path / "ds"), "--splits", "train,validation,test",
                          "--out", str(tmp_path / "ex.jsonl.gz")], capture_output=True, text=True, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    examples = [json.loads(x) for x in gzip.open(tmp_path / "ex.jsonl.gz", "rt")]
    assert examples and f"{len(examples)} examples" in res.stdout
    assert all(e["ref"] and e["new"] and e["true"] >= 0 and e["scaled"] >= 0 for e in examples)


# ---------------------------------------------------------------- the learned residual of the profile estimate

def test_residual_model_keeps_known_candidates_exact_and_learns_a_real_residual():
    """Synthetic tables over real assembly shapes: a candidate made of measured variants keeps
    the estimate; one with a new-shape hot function gets the correction the training taught."""
    import random

    from costtune.model.residual import FEATURES, ResidualModel, residual_features
    from costtune.search.variants import VariantTable

    def fn(name, body):
        return f"<{name}>:\n" + "\n".join(body) + "\nret"

    loop = ["mov w8, wzr", "L1:", "add w8, w8, #1", "ldr w9, [x0]", "cmp w8, w1", "b.ne L1"]
    ref = {"main": fn("main", ["bl work", "mov w0, wzr"]), "work": fn("work", loop)}
    ref_counts = {"main": 10.0, "work": 1000.0}
    table = VariantTable()
    table.observe("o3", ref, ref_counts, 1100.0)
    rng = random.Random(0)
    programs, cands = [], []
    for i in range(200):  # unrolled-by-k variants really run about 1/k of the loop's instructions per element
        k = rng.randint(2, 4)
        body = ["mov w8, wzr", "L1:"] + ["add w8, w8, #1", "ldr w9, [x0]"] * k + ["cmp w8, w1", "b.ne L1"]
        if i % 3 == 0:
            body.append("nop")  # a distinct text each time
        c = {"main": ref["main"], "work": fn("work", body + [f"mov w{i % 7}, w{i % 5}"])}
        cands.append((c, 100.0 + 1000.0 / k * (1 + 0.01 * rng.random())))
    programs.append((table, ref, ref_counts, cands))
    model = ResidualModel(seed=0).fit(programs)
    assert model.n_train == 200
    est_known = table.estimate(ref)
    assert model.score(table, ref, ref_counts, [ref]) == [est_known]  # all known: the estimate exactly
    test = [c for c, _ in cands[:20]]
    truth = [t for _, t in cands[:20]]
    est = [table.estimate(c) for c in test]
    fixed = model.score(table, ref, ref_counts, test)
    err = lambda pred: sum(abs(math.log(p / t)) for p, t in zip(pred, truth)) / len(truth)  # noqa: E731
    assert err(fixed) < 0.5 * err(est)  # the length-scaled estimate is off by the unroll factor
    assert len(residual_features(table, ref, ref_counts, test[0], est[0])) == len(FEATURES)
