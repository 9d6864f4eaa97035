"""costtune collect: real compiles and qemu runs into real SQLite and PostgreSQL databases."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import create_database
from costtune.collect import CollectConfig, collect, plan_jobs, resolve_benchmarks
from costtune.errors import ConfigError, RecordStoreError, UnknownBenchmark
from costtune.records import STATUSES, RecordStore
from costtune.toolchain import find

ROOT = Path(__file__).resolve().parent.parent
PROGRAMS = ["bitcount", "checksum"]  # small builtin programs
SMALL = dict(suite="builtin", benchmarks=PROGRAMS, repeat=1, min_len=3, max_len=8)


def cli_args(db: str, samples: int, jobs: int = 1, seed: int = 1) -> list[str]:
    return [sys.executable, "-m", "costtune", "collect", "--suite", "builtin", "--benchmarks", *PROGRAMS,
            "--samples", str(samples), "--db", db, "--seed", str(seed), "--jobs", str(jobs),
            "--repeat", "1", "--min-len", "3", "--max-len", "8", "--no-progress", "--json"]


def run_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def identity(url: str) -> set[tuple]:
    with RecordStore(url, create=False) as s:
        return {(r.job_key, r.pipeline, r.value, r.status) for r in s.records()}


def planned_keys(**kw) -> set[str]:
    config = CollectConfig(**kw)
    return {j.key for j in plan_jobs(config, resolve_benchmarks(config), find(config.llvm).llvm)}


def test_plan_is_deterministic():
    llvm = find().llvm
    cfg = CollectConfig(samples=5, seed=3, **SMALL)
    benches = resolve_benchmarks(cfg)
    a = plan_jobs(cfg, benches, llvm)
    assert a == plan_jobs(cfg, benches, llvm)
    assert len(a) == len(PROGRAMS) * (4 + 5) and len({j.key for j in a}) == len(a)
    # sample i does not depend on how many samples are asked for
    fewer = plan_jobs(CollectConfig(samples=2, seed=3, **SMALL), benches, llvm)
    assert set(fewer) <= set(a)
    # another seed: the same references, other random pipelines
    other = plan_jobs(CollectConfig(samples=5, seed=4, **SMALL), benches, llvm)
    refs = lambda jobs: {j.key for j in jobs if j.sample_index is None}
    rand = lambda jobs: {j.pipeline for j in jobs if j.sample_index is not None}
    assert refs(a) == refs(other) and rand(a) != rand(other)
    for j in a:
        if j.pass_seq is not None:
            assert 3 <= len(j.pass_seq) <= 8 and j.pipeline


def test_collect_writes_each_job_once(tmp_path):
    db = str(tmp_path / "c.db")
    s = collect(CollectConfig(samples=2, seed=1, db=db, **SMALL))
    assert (s.jobs, s.already_done, s.written, s.errors, s.remaining) == (12, 0, 12, 0, 0)
    with RecordStore(db, create=False) as store:
        recs = list(store.records())
        assert store.claims() == []
    assert len(recs) == 12 and {r.status for r in recs} <= set(STATUSES)
    by_label = {(r.benchmark, r.label): r for r in recs}
    for b in PROGRAMS:
        o0, o3 = by_label[(f"builtin/{b}", "O0")], by_label[(f"builtin/{b}", "O3")]
        assert o0.status == o3.status == "ok"
        assert o3.value < o0.value  # O3 runs fewer instructions than no optimisation
        assert o3.pipeline == "default<O3>" and o0.pipeline == ""
    for r in recs:
        assert r.toolchain_fingerprint and r.source_hash and r.repeat == 1 and r.runner == "qemu"
        if r.status == "ok":
            assert r.binary_hash and r.value > 0 and r.values and r.n >= 1
        if r.reused_from is not None:
            src = next(x for x in recs if x.id == r.reused_from)
            assert (src.binary_hash, src.value) == (r.binary_hash, r.value)
    # a rerun has nothing to do
    again = collect(CollectConfig(samples=2, seed=1, db=db, **SMALL))
    assert (again.already_done, again.written) == (12, 0)


def _failing_suite(root: Path) -> Path:
    """Programs whose optimised builds misbehave: signed overflow folded by the optimiser."""
    head = "#include <stdio.h>\n#include <stdlib.h>\nstatic int grows(int x) { return x + 1 > x; }\n"
    bodies = {
        "ubabort": "if (grows(v)) abort();",
        "ubhang": "volatile unsigned spin = 0; if (grows(v)) for (;;) spin++;",
        "ubprint": "printf(\"%d\\n\", grows(v));",
    }
    for name, body in bodies.items():
        d = root / name
        d.mkdir(parents=True)
        (d / "main.c").write_text(head + "int main(void) { volatile int v = 2147483647; "
                                  + body + " printf(\"done\\n\"); return 0; }\n")
        (d / "bench.yaml").write_text(f"name: {name}\nsources: [main.c]\ntimeout: 0.5\n")
    return root


def test_failing_candidates_are_recorded_and_the_batch_goes_on(tmp_path):
    suite = _failing_suite(tmp_path / "ubsuite")
    db = str(tmp_path / "f.db")
    s = collect(CollectConfig(suite=str(suite), samples=0, db=db,
                              references=("O0", "O2", "function(no-such-pass)")))
    assert s.written == 9 and s.remaining == 0
    with RecordStore(db, create=False) as store:
        got = {(r.benchmark.split("/")[1], r.label): r for r in store.records()}
    assert {k: r.status for k, r in got.items()} == {
        ("ubabort", "O0"): "ok", ("ubabort", "O2"): "crash", ("ubabort", "function(no-such-pass)"): "compile_error",
        ("ubhang", "O0"): "ok", ("ubhang", "O2"): "timeout", ("ubhang", "function(no-such-pass)"): "compile_error",
        ("ubprint", "O0"): "ok", ("ubprint", "O2"): "wrong_output", ("ubprint", "function(no-such-pass)"): "compile_error",
    }
    bad = got[("ubabort", "function(no-such-pass)")]
    assert "no-such-pass" in bad.stderr_tail and bad.detail["step"] == "opt" and bad.value is None


def test_bad_input_is_one_error_and_writes_nothing(tmp_path):
    with pytest.raises(UnknownBenchmark):
        collect(CollectConfig(samples=1, db=str(tmp_path / "u.db"), suite="builtin", benchmarks=["no-such-program"]))
    with pytest.raises(RecordStoreError):
        collect(CollectConfig(samples=1, db="mysql://u@h/d", **SMALL))
    with pytest.raises(ConfigError):
        CollectConfig(samples=1, min_len=10, max_len=5)
    with pytest.raises(ConfigError):
        CollectConfig(samples=1, cache_max_gb=-1)
    proc = subprocess.run(cli_args(str(tmp_path / "sub" / "x.db"), 1) + ["--llvm", "13"],
                          capture_output=True, text=True, env=run_env(), timeout=120)
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]  # one line
    assert proc.stderr.startswith("costtune: error: ") and "LLVM 13" in proc.stderr
    assert not (tmp_path / "sub" / "x.db").exists()


def test_kill_midway_and_resume_gives_the_uninterrupted_record_set(tmp_path):
    samples, total = 4, len(PROGRAMS) * (4 + 4)
    killed_db = str(tmp_path / "killed.db")
    proc = subprocess.Popen(cli_args(killed_db, samples, jobs=2), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env=run_env(), start_new_session=True)
    seen = 0
    try:
        deadline = time.time() + 240
        while time.time() < deadline and proc.poll() is None:
            if Path(killed_db).exists():
                try:
                    with RecordStore(killed_db, create=False) as s:
                        seen = s.count()
                except RecordStoreError:
                    seen = 0  # still being created
            if seen >= 3:
                break
            time.sleep(0.1)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the CLI and its workers, like kill -9
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-2000:]
    with RecordStore(killed_db, create=False) as s:
        at_kill = s.count()
    assert 3 <= at_kill < total, f"the run was not interrupted midway ({at_kill} of {total})"

    resumed = subprocess.run(cli_args(killed_db, samples, jobs=2), capture_output=True, text=True,
                             env=run_env(), timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    summary = json.loads(resumed.stdout)
    assert summary["already_done"] == at_kill and summary["written"] == total - at_kill
    fresh_db = str(tmp_path / "fresh.db")
    fresh = subprocess.run(cli_args(fresh_db, samples, jobs=1), capture_output=True, text=True,
                           env=run_env(), timeout=600)
    assert fresh.returncode == 0, fresh.stderr[-2000:]

    a, b = identity(killed_db), identity(fresh_db)
    assert len(a) == total and a == b
    assert {k for k, *_ in a} == planned_keys(samples=samples, seed=1, **SMALL)
    with RecordStore(killed_db, create=False) as s:
        assert s.claims() == []  # the killed workers' claims were taken over and released


def test_two_collectors_share_one_postgres_database(postgres_url):
    url = create_database(postgres_url)
    samples = 3
    procs = [subprocess.Popen(cli_args(url, samples, jobs=1), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=run_env()) for _ in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err[-2000:]
    summaries = [json.loads(out) for out, _ in outs]
    keys = planned_keys(samples=samples, seed=1, **SMALL)
    with RecordStore(url, create=False) as s:
        recs = list(s.records())
        assert s.claims() == []
    assert len(recs) == len(keys) and {r.job_key for r in recs} == keys
    # no job was done twice: the two workers' writes add up to the job set
    assert sum(x["written"] for x in summaries) == len(keys)
    assert all(x["remaining"] == 0 or x["held_elsewhere"] > 0 for x in summaries)


# -- faults (issue 25) ------------------------------------------------------------------------

def _program(root: Path, name: str, body: str, timeout: int = 60) -> None:
    d = root / name
    d.mkdir(parents=True)
    (d / "main.c").write_text("#include <stdio.h>\n#include <stdlib.h>\n" + body)
    (d / "bench.yaml").write_text(f"name: {name}\nsources: [main.c]\ntimeout: {timeout}\n")


def test_a_program_failing_at_o0_records_its_failure_and_the_batch_goes_on(tmp_path, monkeypatch):
    monkeypatch.setenv("COSTTUNE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("COSTTUNE_QEMU_TIMEOUT_FACTOR", "1")
    suite = tmp_path / "suite"
    _program(suite, "good", "int main(void){ unsigned s = 0; for (int i = 0; i < 1000; i++) s += i * i;"
                            " printf(\"%u\\n\", s); return 0; }\n")
    _program(suite, "segv", "int main(void){ volatile int *p = 0; *p = 1; return 0; }\n")
    _program(suite, "exit3", "int main(void){ puts(\"x\"); return 3; }\n")
    # the manifest says 2 s: the loop is killed after ~2 s x the runner's factor (1 here), not 3x that
    _program(suite, "loop", "int main(void){ volatile unsigned s = 0; for (;;) s++; }\n", timeout=2)
    db = str(tmp_path / "r.db")
    t0 = time.monotonic()
    s = collect(CollectConfig(suite=str(suite), db=db, samples=1, min_len=3, max_len=6,
                              references=("O0", "O3")))
    seconds = time.monotonic() - t0
    assert s.errors == 0 and s.skipped == 3 * 2, s.to_dict()
    with RecordStore(db, create=False) as store:
        recs = {(r.benchmark.split("/")[-1], r.label): r for r in store.records()}
    o0 = {b: recs[(b, "O0")] for b in ("segv", "exit3", "loop")}
    assert o0["segv"].status == "crash" and o0["exit3"].status == "crash" and o0["loop"].status == "timeout"
    assert "reference" in o0["loop"].detail["reference_error"]
    assert {k for k in recs if k[0] == "good"} == {("good", "O0"), ("good", "O3"), ("good", "rand0")}
    assert all(r.status == "ok" for k, r in recs.items() if k[0] == "good")
    # the reference run and the O0 record's run: 2 x ~2 s, not 2 x 6 s
    assert o0["loop"].detail["measure_seconds"] < 4.5
    assert "timed out after" in o0["loop"].detail["reference_error"]
    ref_s = float(o0["loop"].detail["reference_error"].split("timed out after ")[1].split("s")[0])
    assert ref_s < 4.5, o0["loop"].detail["reference_error"]
    assert seconds < 60


def test_a_dead_workers_stale_claim_is_taken_over(postgres_db, tmp_path, monkeypatch):
    monkeypatch.setenv("COSTTUNE_CACHE", str(tmp_path / "cache"))
    cfg = CollectConfig(samples=0, references=("O0", "O3"), **{**SMALL, "benchmarks": ["bitcount"]}, db=postgres_db)
    first = plan_jobs(cfg, resolve_benchmarks(cfg), find(cfg.llvm).llvm)[0].key  # the job this run reaches first
    # a worker (its pid cannot be checked: it is ours) claimed that job with an 8 s claim and died
    with RecordStore(postgres_db, claim_ttl=8, worker="deadhost:1:dead") as dead:
        assert dead.claim(first) == "claimed"
    t0 = time.monotonic()
    s = collect(cfg)
    assert s.remaining == 0 and s.measured == 2 and s.held_elsewhere == 0, s.to_dict()
    assert time.monotonic() - t0 >= 7  # taken over once the claim went stale, not before


def test_a_database_in_a_directory_that_does_not_exist_is_an_error(tmp_path):
    missing = tmp_path / "nonexistent" / "dir"
    res = subprocess.run(cli_args(f"sqlite:///{missing}/x.db", 0), capture_output=True, text=True, env=run_env(),
                         timeout=120)
    lines = res.stderr.strip().splitlines()
    assert res.returncode != 0 and len(lines) == 1 and "does not exist" in lines[0], res.stderr[-2000:]
    assert not (tmp_path / "nonexistent").exists()
