"""stderr as a compared output (any program), and the MILEPOST codelets and PolyBench/C
programs of a real cTuning checkout (when ``COSTTUNE_CBENCH_ROOT`` points at one; the
programs are third-party code and cannot live in this repository)."""

from __future__ import annotations

import dataclasses
import logging
import os

import pytest

from costtune.benchmarks import get_benchmark, get_suite
from costtune.benchmarks.cbench import ENV_ROOT
from costtune.cli import main as cli_main
from costtune.compile import compile_benchmark
from costtune.measure import measure, reference
from costtune.measure._base import sha256
from costtune.measure.local import QemuRunner
from costtune.measure.reference import job_for, reference_output

STDERR_PROGRAM = r"""
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 1, s = 0;
    for (long i = 0; i < n * 1000; i++) s += i % 7;
    printf("done\n");
    fprintf(stderr, "result %ld\n", s * VALUE);
    return 0;
}
"""


def _stderr_program(tmp_path, name, value, compare_stderr):
    d = tmp_path / name
    d.mkdir(parents=True)
    (d / "p.c").write_text(STDERR_PROGRAM)
    (d / "bench.yaml").write_text(f"name: {name}\nargs: ['{{repeat}}']\ncflags: [-DVALUE={value}]\n"
                                  f"compare_stderr: {'true' if compare_stderr else 'false'}\ntimeout: 10\n")
    return get_benchmark(str(d))


def _built(bench, level):
    res = compile_benchmark(bench, level, "aarch64")
    assert res.ok, res.describe()
    return res.artifact


def test_stderr_difference_is_wrong_output(tmp_path, monkeypatch):
    """A 'miscompile' that changes only stderr: caught with compare_stderr, invisible without."""
    monkeypatch.setenv("COSTTUNE_CACHE", str(tmp_path / "cache"))
    good = _stderr_program(tmp_path, "kernel", 1, True)
    assert good.compare_stderr
    bad_art = _built(dataclasses.replace(good, cflags=("-DVALUE=2",)), "O2")  # same stdout, other stderr
    ref = reference_output(good, "aarch64")
    assert ref.compare_stderr and ref.stderr_head.startswith("result ") and ref.stderr_len > 0
    ok = measure(_built(good, "O2"), good, "insns")
    assert ok.ok, ok.detail
    wrong = measure(bad_art, good, "insns")
    assert wrong.status == "wrong_output" and "stderr differs" in wrong.detail, wrong
    assert wrong.value is None

    unchecked = _stderr_program(tmp_path / "u", "kernel", 1, False)
    assert not unchecked.compare_stderr
    assert measure(bad_art, unchecked, "insns").ok


def test_uncompared_stderr_warns_once_per_benchmark(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("COSTTUNE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(reference, "_warned_stderr", set())
    quiet = _stderr_program(tmp_path, "checked", 1, True)
    loud = _stderr_program(tmp_path, "unchecked", 1, False)
    with caplog.at_level(logging.WARNING, logger="costtune"):
        for _ in range(2):  # the second lookup reads the cached reference: still no second warning
            reference_output(quiet, "aarch64")
            reference_output(loud, "aarch64")
    warnings = [r.getMessage() for r in caplog.records if "stderr" in r.getMessage()]
    assert len(warnings) == 1, warnings
    assert loud.id in warnings[0] and "not compared" in warnings[0] and "compare_stderr" in warnings[0]


# ---- the real checkout ----

REAL_ROOT = os.environ.get(ENV_ROOT)
needs_checkout = pytest.mark.skipif(
    not REAL_ROOT, reason=f"set {ENV_ROOT} to a ctuning checkout to test the codelets and PolyBench suites")
#: programs of each suite in the checkout, and how many give their O0 output at O3 (measured)
EXPECTED = {"codelets": (44, 43), "polybench": (28, 27)}


@needs_checkout
@pytest.mark.parametrize("suite_name", sorted(EXPECTED))
def test_real_suite_lists_every_program(suite_name, capsys):
    rows = get_suite(suite_name, cbench_root=REAL_ROOT).list()
    listed, passing = EXPECTED[suite_name]
    assert len(rows) == listed and len({b.name for b in rows}) == listed
    assert sum(b.status == "ok" for b in rows) == passing
    for b in rows:
        assert b.status in ("ok", "unsupported") and (b.status == "ok" or b.reason)
        assert b.compare_stderr and b.extra_sources and all(p.is_file() for p in b.extra_sources)
        assert b.env == (("CT_REPEAT_MAIN", "{repeat}"),) and b.repeat >= 1
    assert cli_main(["benchmarks", "list", "--suite", suite_name, "--cbench-root", REAL_ROOT]) == 0
    assert f"{listed} programs, {passing} ok" in capsys.readouterr().out


@needs_checkout
def test_real_codelet_measured_at_o0_and_o3():
    b = get_suite("codelets", cbench_root=REAL_ROOT).get("mibench-consumer-jpeg-c-src-jfdctint-codelet-2-1")
    ref = reference_output(b, "aarch64")
    assert ref.compare_stderr and ref.stderr_head.startswith("region 0: ") and "Total time: 0.000000" in ref.stderr_head
    assert ref.stdout_head.startswith("Reading ")
    counts = {}
    for level in ("O0", "O3"):
        m = measure(_built(b, level), b, "insns")
        assert m.ok, (level, m.detail)
        counts[level] = m.value
    assert 1e7 <= counts["O3"] < counts["O0"] <= 1e9, counts
    # the runtime hashes the kernel's data after the run: one more call of the in-place DCT is caught
    other = measure(_built(b, "O3"), b, "insns", repeat=b.repeat + 1, reference=ref)
    assert other.status == "wrong_output" and "stderr differs" in other.detail, other


@needs_checkout
def test_real_polybench_measured_at_o0_and_o3():
    b = get_suite("polybench", cbench_root=REAL_ROOT).get("atax")
    ref = reference_output(b, "aarch64")
    assert ref.compare_stderr and ref.stderr_len > 100 and ref.stdout_len == 0
    counts = {}
    for level in ("O0", "O3"):
        m = measure(_built(b, level), b, "insns")
        assert m.ok, (level, m.detail)
        counts[level] = m.value
    assert 1e7 <= counts["O3"] < counts["O0"] <= 1e9, counts
    # a build that computes a smaller problem prints other arrays on stderr
    smaller = _built(dataclasses.replace(b, cflags=(*b.cflags, "-DNX=15")), "O3")
    m = measure(smaller, b, "insns")
    assert m.status == "wrong_output" and "stderr differs" in m.detail, m


@needs_checkout
@pytest.mark.parametrize("suite_name", sorted(EXPECTED))
def test_real_suite_o0_equals_o3_on_aarch64(suite_name):
    """Every supported program gives the same stdout and stderr at O0 and O3 (the README's figure)."""
    passing, failures = [], {}
    runner = QemuRunner()
    for b in get_suite(suite_name, cbench_root=REAL_ROOT).list():
        if b.status != "ok":
            continue
        seen = []
        for level in ("O0", "O3"):
            res = compile_benchmark(b, level, "aarch64")
            if not res.ok:
                failures[b.name] = f"{level}: {res.describe()}"
                break
            (run,) = runner.run(job_for(b, res.artifact.binary, "aarch64", None, b.timeout * runner.timeout_factor), 1)
            if not run.ok:
                failures[b.name] = f"{level}: {run.describe()} {run.stderr_tail[-200:]}"
                break
            seen.append((sha256(run.stdout), sha256(run.stderr)))
        else:
            if seen[0] == seen[1]:
                passing.append(b.name)
            else:
                failures[b.name] = "O0 and O3 outputs differ"
    assert len(passing) == EXPECTED[suite_name][1], failures
