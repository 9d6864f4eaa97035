"""csmith suite: deterministic generation, real builds at O0 and O3 under qemu."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import pytest

from costtune.benchmarks.csmith import CHECK_FILE, CsmithSuite, check_program
from costtune.compile import compile_benchmark
from costtune.errors import BenchmarkError, UnknownBenchmark
from costtune.measure.reference import job_for
from costtune.measure.registry import get_runner

SEED = 4  # fixed; the programs of seeds 4..6 terminate quickly (csmith 2.3.0, DEFAULT_OPTIONS)



def _digest(b):
    return hashlib.sha256(b.source_paths()[0].read_bytes()).hexdigest()


def test_generation_is_deterministic(tmp_path, monkeypatch):
    monkeypatch.setenv("COSTTUNE_CACHE", str(tmp_path / "a"))
    first = CsmithSuite(n=3, seed=SEED).list()
    assert [b.name for b in first] == [f"csmith-{s}" for s in range(SEED, SEED + 3)]
    monkeypatch.setenv("COSTTUNE_CACHE", str(tmp_path / "b"))  # a fresh cache: generated again
    second = CsmithSuite(n=3, seed=SEED).list()
    assert [_digest(b) for b in first] == [_digest(b) for b in second]
    assert len({_digest(b) for b in first}) == 3  # different seeds, different programs
    for b in first:
        assert b.suite == "csmith" and b.id == f"csmith/{b.name}"
        assert any(f.startswith("-I") and f.endswith("csmith") for f in b.cflags)
        assert b.inputs == () and b.args == () and b.env == ()
        assert 100 < len(b.source_paths()[0].read_text().splitlines()) < 5000


def test_programs_build_and_agree_at_o0_and_o3(tmp_path, monkeypatch):
    monkeypatch.setenv("COSTTUNE_CACHE", str(tmp_path))
    suite = CsmithSuite(n=3, seed=SEED, check=True)
    benches = suite.list()
    assert all(b.status == "ok" for b in benches), [(b.name, b.reason) for b in benches]
    for b in benches:
        assert (b.root / CHECK_FILE).is_file()
    with get_runner(None, "aarch64", "wall") as runner:
        for b in benches:
            stdouts = []
            for level in ("O0", "O3"):
                res = compile_benchmark(b, level, "aarch64")
                assert res.ok, res.describe()
                (run,) = runner.run(job_for(b, res.artifact.binary, "aarch64", None, 60), 1)
                assert run.ok, run.describe()
                stdouts.append(run.stdout)
            assert stdouts[0].startswith(b"checksum = ")
            assert stdouts[0] == stdouts[1]


def test_failing_program_is_unsupported(tmp_path, monkeypatch):
    """A program that never finishes is reported unsupported with the reason, and remembered."""
    monkeypatch.setenv("COSTTUNE_CACHE", str(tmp_path))
    suite = CsmithSuite(n=1, seed=SEED)
    (b,) = suite.list()
    # replace the generated program by one that spins, then check it
    b.source_paths()[0].write_text("int main(void) { volatile unsigned x = 1; while (x) x |= 1; return 0; }\n")
    quick = replace(b, timeout=0.1)
    reason = check_program(quick)
    assert "does not finish" in reason
    (again,) = CsmithSuite(n=1, seed=SEED).list()  # the stored verdict is used
    assert again.status == "unsupported" and "does not finish" in again.reason


def test_bad_arguments(tmp_path, monkeypatch):
    monkeypatch.setenv("COSTTUNE_CACHE", str(tmp_path))
    with pytest.raises(BenchmarkError):
        CsmithSuite(n=0)
    suite = CsmithSuite(n=1, seed=SEED)
    assert suite.get(f"csmith-{SEED + 5}").name == f"csmith-{SEED + 5}"  # any seed is addressable
    with pytest.raises(UnknownBenchmark):
        suite.get("not-a-csmith-name")
