"""Failures of the machine are errors of the run, never results of a candidate.

A real, small tmpfs stands for a full disk (we mount one where we may: as root), an
immutable directory (chattr +i) or a path under a file for an unusable ``--out``; real
tools that really die of SIGBUS or SIGSEGV for the signal rules.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from costtune import process
from costtune.benchmarks import get_benchmark
from costtune.cli import main
from costtune.compile import compile_benchmark
from costtune.errors import EnvironmentFailure
from costtune.records import RecordStore

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture()
def small_disk(tmp_path):
    """A directory on a 1 MiB tmpfs (too small for one compile); ``grow()`` frees space.
    Where no tmpfs can be mounted, a directory nobody may write stands for it."""
    d = tmp_path / "disk"
    d.mkdir()
    mounted = os.geteuid() == 0 and process.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", d]).ok

    def grow():
        if mounted:
            assert process.run(["mount", "-o", "remount,size=256m", d]).ok
        else:
            d.chmod(0o755)

    if not mounted:
        d.chmod(0o555)
    try:
        yield SimpleNamespace(path=d, grow=grow)
    finally:
        if mounted:
            process.run(["umount", "-l", d])


def _cached_failures(cache: Path) -> list[dict]:
    out = []
    for name in ("artifact.json", "frontend.json"):
        for f in cache.rglob(name):
            payload = json.loads(f.read_text())
            if payload.get("status") != "ok":
                out.append(payload)
    return out


def test_a_full_compile_cache_is_an_error_and_nothing_is_cached(small_disk, monkeypatch):
    monkeypatch.setenv("COSTTUNE_CACHE", str(small_disk.path))
    bench = get_benchmark("builtin/bitcount")
    with pytest.raises(EnvironmentFailure) as e:
        compile_benchmark(bench, "O3")
    assert "nothing recorded or cached" in str(e.value) and len(str(e.value).splitlines()) == 1
    assert _cached_failures(small_disk.path) == []
    small_disk.grow()  # space freed: the same compile now builds
    res = compile_benchmark(bench, "O3")
    assert res.ok and not res.artifact.cached, res.describe()


def test_a_failure_cached_by_an_older_costtune_on_a_full_disk_is_built_again(tmp_path, monkeypatch):
    monkeypatch.setenv("COSTTUNE_CACHE", str(tmp_path / "cache"))
    bench = get_benchmark("builtin/bitcount")
    res = compile_benchmark(bench, "O1")
    assert res.ok
    # what costtune wrote before it told the machine's failures apart
    f = res.artifact.dir / "artifact.json"
    f.write_text(json.dumps({"status": "compile_error", "step": "llc", "bench_id": bench.id, "target": "aarch64",
                             "pipeline": res.pipeline, "commands": [],
                             "stderr": "LLVM ERROR: IO failure on output stream: No space left on device\n"}))
    again = compile_benchmark(bench, "O1")
    assert again.ok and not again.artifact.cached


def test_a_tool_killed_by_sigbus_is_the_machine_a_segfault_is_the_candidate(tmp_path):
    bus = process.run(["sh", "-c", "kill -BUS $$"])
    segv = process.run(["sh", "-c", "kill -SEGV $$"])
    abrt = process.run(["sh", "-c", "kill -ABRT $$"])
    assert bus.describe() == "killed by SIGBUS" and "SIGBUS" in process.environment_cause(bus, tmp_path)
    assert process.environment_cause(segv, tmp_path) is None  # opt crashing on a pipeline: a result
    assert process.environment_cause(abrt, tmp_path) is None
    full = process.run(["sh", "-c", "echo 'error: No space left on device' >&2; exit 1"])
    assert process.environment_cause(full, tmp_path) is not None


def _cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    e = dict(os.environ)
    e["PYTHONPATH"] = str(ROOT) + os.pathsep + e.get("PYTHONPATH", "")
    e.update(env or {})
    return subprocess.run([sys.executable, "-m", "costtune", *args], capture_output=True, text=True, env=e,
                          timeout=300)


def _one_error_line(res: subprocess.CompletedProcess) -> str:
    assert res.returncode != 0, res.stdout
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("costtune: error: "), res.stderr[-3000:]
    return lines[0]


def test_compile_out_under_a_file_or_in_an_immutable_directory_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COSTTUNE_CACHE", str(tmp_path / "cache"))
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert main(["compile", "builtin/bitcount", "--passes", "O1", "--out", str(afile / "out")]) == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"costtune: error: --out: Not a directory: {afile / 'out'}"]
    imm = tmp_path / "imm"
    imm.mkdir()
    if not process.run(["chattr", "+i", imm]).ok:
        imm.chmod(0o555)  # where chattr is refused, a read-only directory
    try:
        assert main(["compile", "builtin/bitcount", "--passes", "O1", "--out", str(imm / "out")]) == 3
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("costtune: error: ") and str(imm / "out") in err[0]
    finally:
        process.run(["chattr", "-i", imm])


def test_collect_on_a_full_cache_records_nothing_and_the_next_run_does_every_job(small_disk, tmp_path):
    db = str(tmp_path / "r.db")
    args = ["collect", "--suite", "builtin", "--benchmarks", "bitcount", "--samples", "1", "--references", "O0,O3",
            "--repeat", "1", "--db", db, "--no-progress", "--min-len", "3", "--max-len", "6"]
    env = {"COSTTUNE_CACHE": str(small_disk.path)}
    line = _one_error_line(_cli(*args, env=env))
    assert "no space" in line.lower() or "not writable" in line or "Permission denied" in line
    with RecordStore(db) as s:
        assert list(s.records()) == []  # no false compile_error
    assert _cached_failures(small_disk.path) == []
    small_disk.grow()
    res = _cli(*args, env=env)
    assert res.returncode == 0, res.stderr[-2000:]
    with RecordStore(db) as s:
        recs = list(s.records())
    assert sorted(r.label for r in recs) == ["O0", "O3", "rand0"]
    assert {r.label: r.status for r in recs}["O3"] == "ok"


def test_bad_suites_and_model_configs_are_one_line(tmp_path):
    suite = tmp_path / "suite" / "p"
    suite.mkdir(parents=True)
    (suite / "bench.yaml").write_text("name: [unclosed\n  x: :\n")
    (suite / "main.c").write_text("int main(void){return 0;}\n")
    # the list shows the program unsupported, with the reason; using it is one line
    res = _cli("benchmarks", "list", "--suite", str(tmp_path / "suite"))
    assert res.returncode == 0 and "unsupported: " in res.stdout and "bench.yaml" in res.stdout, res.stdout
    line = _one_error_line(_cli("search", "--suite", str(tmp_path / "suite"), "--benchmarks", "p", "--budget", "2",
                                "--out", str(tmp_path / "never")))
    assert "bench.yaml" in line
    model = tmp_path / "model"
    model.mkdir()
    (model / "costtune_model.json").write_text("[1, 2]")
    line = _one_error_line(_cli("search", "--suite", "builtin", "--benchmarks", "bitcount", "--budget", "2",
                                "--model", str(model), "--out", str(tmp_path / "out")))
    assert "JSON object" in line


def test_search_on_a_full_cache_is_one_line(small_disk, tmp_path):
    line = _one_error_line(_cli("search", "--suite", "builtin", "--benchmarks", "bitcount", "--budget", "2",
                                "--sampler", "tpe", "--repeat", "1", "--out", str(tmp_path / "out"), "--no-progress",
                                env={"COSTTUNE_CACHE": str(small_disk.path)}))
    assert "no space" in line.lower() or "not writable" in line or "denied" in line
