"""llvm-test-suite as a suite: the fpcmp-style comparison (always), and the user's real
checkout when ``COSTTUNE_TESTSUITE_ROOT`` points at one (the suite is third-party code
and cannot live in this repository): listing, a hashed-output and an FP-tolerance
program built and checked at O0 and O3 under qemu, an unsupported program, a missing root."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from costtune.measure.expected import check_expected, fp_compare, harness_output

REAL_ROOT = os.environ.get("COSTTUNE_TESTSUITE_ROOT")
needs_checkout = pytest.mark.skipif(
    not REAL_ROOT or not Path(REAL_ROOT).expanduser().is_dir(),
    reason="set COSTTUNE_TESTSUITE_ROOT to a checkout of llvm/llvm-test-suite to test the real suite",
)


@pytest.fixture()
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("COSTTUNE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_fp_compare_tolerances():
    want = b"x = 1.000000\nsum 200 -3.5e-3\nexit 0\n"
    assert fp_compare(want, want) == ""
    # numbers compare by value: another spelling of the same number passes with no tolerance
    assert fp_compare(b"x = 1.0\nsum 200 -3.5E-3\nexit 0\n", want) == ""
    # 0.05% off: within a relative tolerance of 0.1%, not without it
    near = b"x = 1.000500\nsum 200 -3.5e-3\nexit 0\n"
    assert fp_compare(near, want, rel=1e-3) == ""
    assert "1.0005" in fp_compare(near, want)
    assert fp_compare(near, want, abs_=1e-3) == ""
    assert fp_compare(near, want, abs_=1e-4) != ""
    # relative to the expected value: 1% off fails a 0.1% tolerance
    assert fp_compare(b"x = 1.01\nsum 200 -3.5e-3\nexit 0\n", want, rel=1e-3) != ""
    # text is never tolerated, nor a missing or extra line
    assert "line 2" in fp_compare(b"x = 1.000000\nsun 200 -3.5e-3\nexit 0\n", want, rel=1)
    assert fp_compare(want + b"more\n", want, rel=1) != ""
    assert fp_compare(b"x = 1.000000\n", want, rel=1) != ""
    # the exit status is a number like any other: exit 1 is not exit 0
    assert fp_compare(b"x = 1.000000\nsum 200 -3.5e-3\nexit 1\n", want, abs_=0.5) != ""


def test_harness_output_appends_exit_and_hashes(tmp_path):
    assert harness_output(b"a\nb", 3, append_exit=True, hash_output=False) == b"a\nbexit 3\n"
    hashed = harness_output(b"a\n", 0, append_exit=True, hash_output=True)
    assert hashed == hashlib.md5(b"a\nexit 0\n").hexdigest().encode() + b"\n"
    ref = tmp_path / "ref"
    ref.write_bytes(hashed)
    assert check_expected(b"a\n", 0, ref, append_exit=True, hash_output=True) == ""
    assert "md5" in check_expected(b"a\n", 1, ref, append_exit=True, hash_output=True)


def _suite():
    from costtune.benchmarks.testsuite import TestSuite

    return TestSuite(REAL_ROOT, verdicts=False)


@needs_checkout
def test_real_listing():
    rows = _suite().list()
    names = [b.name for b in rows]
    assert len(names) == len(set(names))
    assert len(rows) >= 250
    ok = [b for b in rows if b.status == "ok"]
    assert len(ok) >= 150
    assert all(b.status == "unsupported" and b.reason for b in rows if b.status != "ok")
    by = {b.name: b for b in rows}
    q = by["Stanford-Queens"]
    assert q.status == "ok" and q.sources == ("Queens.c",) and q.fp_tolerance == 0.001
    assert q.expected_output.name == "Queens.reference_output" and q.append_exit_status and q.merge_stderr
    jpeg = by["MiBench-consumer-jpeg"]
    assert jpeg.args == ("-dct", "int", "-ppm", "-outfile", "/dev/null", "input_large.jpg")
    assert [p.name for p in jpeg.inputs] == ["input_large.jpg"] and len(jpeg.sources) > 40
    mm = by["Polybench-linear-algebra-kernels-2mm"]
    assert mm.hash_output and mm.expected_output.name == "2mm.reference_output.small"
    assert "-DSMALL_DATASET" in mm.cflags and "-DPOLYBENCH_DUMP_ARRAYS" in mm.cflags
    adpcm = by["mediabench-adpcm-rawcaudio"]  # '< clinton.pcm' from llvm_test_data(SOURCE_DIR ../data)
    assert adpcm.stdin is not None and adpcm.stdin.name == "clinton.pcm" and adpcm.stdin.is_file()
    cxx = by["Adobe-C++-loop_unroll"]
    assert cxx.status == "unsupported" and cxx.reason == "C++ not supported"


@needs_checkout
def test_real_hashed_and_tolerant_programs_pass_at_o0_and_o3(private_cache):
    from costtune.benchmarks.check import check_benchmark

    suite = _suite()
    for name in ("Polybench-linear-algebra-kernels-2mm", "Misc-whetstone"):
        bench = suite.get(name)
        assert bench.hash_output == (name.startswith("Polybench"))
        assert bench.fp_tolerance == (0.0 if bench.hash_output else 0.001)
        assert bench.expected_output.name.endswith(".small")
        v = check_benchmark(bench, ("O0", "O3"))
        assert v["status"] == "ok", v
        assert set(v["passes"]) == {"O0", "O3"}
        assert all(p["insns"] > 1e5 for p in v["passes"].values())


@needs_checkout
def test_real_wrong_expected_output_fails_at_o0(private_cache, tmp_path):
    from costtune.benchmarks.check import check_benchmark

    bench = _suite().get("Misc-whetstone")
    text = bench.expected_output.read_bytes()
    assert text.count(b"1.0000e+00") >= 1
    moved = tmp_path / bench.expected_output.name  # a number 1% off: beyond FP_TOLERANCE 0.001
    moved.write_bytes(text.replace(b"1.0000e+00", b"1.0100e+00", 1))
    v = check_benchmark(dataclasses.replace(bench, expected_output=moved), ("O0", "O3"))
    assert v["status"] == "fail" and v["reason"].startswith("fails its reference at O0: wrong_output")
    assert "line 1" in v["reason"]
    # the same run with the true expected output passes the comparison
    assert check_benchmark(bench, ("O0",))["status"] == "ok"


def _cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "costtune", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=120)


def test_missing_root_is_one_error_line(tmp_path):
    res = _cli("benchmarks", "list", "--suite", "testsuite", "--testsuite-root", str(tmp_path / "nope"))
    assert res.returncode != 0
    assert res.stderr.strip().startswith("costtune: error: ") and len(res.stderr.strip().splitlines()) == 1
    assert "not a directory" in res.stderr
    env = {k: v for k, v in os.environ.items() if k != "COSTTUNE_TESTSUITE_ROOT"}
    res = subprocess.run([sys.executable, "-m", "costtune", "benchmarks", "list", "--suite", "testsuite"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode != 0 and len(res.stderr.strip().splitlines()) == 1
    assert "--testsuite-root" in res.stderr


def test_fp_compare_blanks_before_numbers():
    # a sign takes a blank's column: fpcmp reads both as numbers
    assert fp_compare(b"  1    -0.0000\n", b"  1     0.0000\n") == ""
    assert fp_compare(b"a  -1.5\n", b"a   1.5\n") != ""
