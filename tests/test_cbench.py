"""cBench loader: a CK-layout checkout written here from scratch (always), and the
real cTuning checkout when ``COSTTUNE_CBENCH_ROOT`` points at one (cBench is
third-party code and cannot live in this repository)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from costtune.benchmarks.cbench import ENV_ROOT, CBenchSuite, resolve_root
from costtune.compile import compile_benchmark
from costtune.errors import BenchmarkError, UnknownBenchmark
from costtune.measure._base import sha256
from costtune.measure.reference import job_for
from costtune.measure.registry import get_runner

FAKE_C = r"""
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv) {
    long rep = getenv("CT_REPEAT_MAIN") ? atol(getenv("CT_REPEAT_MAIN")) : 1;
    FILE *in = fopen(argv[1], "r"), *out = fopen(argv[2], "w");
    unsigned sum = 0; int c;
    if (!in || !out) return 2;
    while ((c = fgetc(in)) != EOF) sum = sum * 31u + (unsigned)c * SCALE;
    for (long r = 1; r < rep; r++) sum ^= (unsigned)r;
    fprintf(out, "%u\n", sum);
    printf("bytes summed, flag=%d\n", FLAG);
    return 0;
}
"""


def write_fake_checkout(base: Path) -> None:
    """One program with two run commands (one has no matching dataset) and one dataset."""
    prog = base / "program" / "cbench-demo-sum"
    (prog / ".cm").mkdir(parents=True)
    (prog / "sum.c").write_text(FAKE_C)
    run_time = {
        "run_cmd_main": "$#BIN_FILE#$ $#dataset_path#$$#dataset_filename#$ tmp-output.tmp",
        "run_cmd_out1": "tmp-output1.tmp",
        "run_cmd_out2": "tmp-output2.tmp",
        "run_correctness_output_files": ["tmp-output.tmp", "tmp-output2.tmp"],
    }
    meta = {
        "build_compiler_vars": {"XOPENME": "", "SCALE": "3", "FLAG": ""},
        "source_files": ["sum.c"],
        "run_cmds": {
            "text": {"dataset_tags": ["demo", "dataset"], "run_time": run_time},
            "video": {"dataset_tags": ["video", "dataset"], "run_time": run_time},
        },
        "run_vars": {"CT_REPEAT_MAIN": "1"},
        "tags": ["cbench", "program"],
    }
    (prog / ".cm" / "meta.json").write_text(json.dumps(meta))
    ds = base / "dataset" / "demo-0001"
    (ds / ".cm").mkdir(parents=True)
    (ds / "input.txt").write_text("hello cbench\n" * 50)
    (ds / ".cm" / "meta.json").write_text(json.dumps({"tags": ["dataset", "demo", "small"], "dataset_files": ["input.txt"]}))


def test_fake_checkout_is_parsed(tmp_path, monkeypatch):
    monkeypatch.setenv("COSTTUNE_CACHE", str(tmp_path / "cache"))
    write_fake_checkout(tmp_path / "ck")
    suite = CBenchSuite(tmp_path / "ck")
    by_name = {b.name: b for b in suite.list()}
    assert sorted(by_name) == ["demo-sum-text", "demo-sum-video"]

    b = by_name["demo-sum-text"]
    assert b.status == "ok", b.reason
    assert b.id == "cbench/demo-sum-text"
    assert b.root == (tmp_path / "ck" / "program" / "cbench-demo-sum").resolve()
    assert b.sources == ("sum.c",)
    assert "-DSCALE=3" in b.cflags and "-DFLAG" in b.cflags
    assert not any("XOPENME" in f for f in b.cflags)
    assert b.args == ("input.txt", "tmp-output.tmp")
    assert [p.name for p in b.inputs] == ["input.txt"] and all(p.is_absolute() for p in b.inputs)
    assert b.outputs == ("tmp-output.tmp",)  # the CK stdout/stderr redirection files are not outputs
    assert b.render_env(7) == {"CT_REPEAT_MAIN": "7"}
    assert "demo-0001" in b.description

    missing = by_name["demo-sum-video"]
    assert missing.status == "unsupported"
    assert "video" in missing.reason and "dataset" in missing.reason

    with pytest.raises(UnknownBenchmark):
        suite.get("demo-sum")


def test_fake_checkout_builds_and_runs(tmp_path, monkeypatch):
    """The parsed benchmark really builds (flags, defines) and runs (inputs, args, env, outputs)."""
    monkeypatch.setenv("COSTTUNE_CACHE", str(tmp_path / "cache"))
    write_fake_checkout(tmp_path / "ck")
    b = CBenchSuite(tmp_path / "ck").get("demo-sum-text")
    results = {}
    with get_runner(None, "aarch64", "wall") as runner:
        for level in ("O0", "O3"):
            res = compile_benchmark(b, level, "aarch64")
            assert res.ok, res.describe()
            for repeat in (1, 2):
                (run,) = runner.run(job_for(b, res.artifact.binary, "aarch64", repeat, 60), 1)
                assert run.ok, run.describe() + run.stderr_tail
                results[level, repeat] = (run.stdout, run.outputs["tmp-output.tmp"])
    assert results["O0", 1][0] == b"bytes summed, flag=1\n"
    assert results["O0", 1] == results["O3", 1]
    assert results["O0", 2] == results["O3", 2]
    assert results["O0", 1][1] != results["O0", 2][1]  # CT_REPEAT_MAIN reached the program


def test_root_rule(tmp_path, monkeypatch):
    monkeypatch.setenv("COSTTUNE_CACHE", str(tmp_path / "cache"))
    # two repositories side by side, as cloned from github.com/ctuning
    write_fake_checkout(tmp_path / "tmp")
    (tmp_path / "ck" / "ctuning-programs").mkdir(parents=True)
    (tmp_path / "ck" / "ctuning-datasets-min").mkdir(parents=True)
    (tmp_path / "tmp" / "program").rename(tmp_path / "ck" / "ctuning-programs" / "program")
    (tmp_path / "tmp" / "dataset").rename(tmp_path / "ck" / "ctuning-datasets-min" / "dataset")
    programs, datasets = resolve_root(tmp_path / "ck")
    assert programs.name == "program" and datasets.name == "dataset"
    assert CBenchSuite(tmp_path / "ck").get("demo-sum-text").status == "ok"
    monkeypatch.setenv(ENV_ROOT, str(tmp_path / "ck"))
    assert CBenchSuite().get("demo-sum-text").status == "ok"
    # no datasets at all: every variant that needs one is unsupported, not an exception
    (tmp_path / "ck" / "ctuning-datasets-min").rename(tmp_path / "elsewhere")
    assert {b.status for b in CBenchSuite(tmp_path / "ck").list()} == {"unsupported"}
    with pytest.raises(BenchmarkError):
        CBenchSuite(tmp_path / "nothing-here")
    monkeypatch.delenv(ENV_ROOT)
    with pytest.raises(BenchmarkError):
        CBenchSuite()


# ---- the real cBench (needs a checkout) ----

REAL_ROOT = os.environ.get(ENV_ROOT)
needs_cbench = pytest.mark.skipif(
    not REAL_ROOT,
    reason=f"set {ENV_ROOT} to a ctuning checkout (ctuning-programs + ctuning-datasets-min) to test real cBench",
)
MIN_PASSING = 25


@needs_cbench
def test_real_cbench_lists_every_variant():
    variants = CBenchSuite(REAL_ROOT).list()
    assert len(variants) >= 29
    assert len({b.name for b in variants}) == len(variants)
    for b in variants:
        assert b.status in ("ok", "unsupported")
        assert b.status == "ok" or b.reason
    assert sum(b.status == "ok" for b in variants) >= MIN_PASSING


@needs_cbench
def test_real_cbench_o0_equals_o3_on_aarch64():
    passing, failures = [], {}
    with get_runner(None, "aarch64", "wall") as runner:
        for b in CBenchSuite(REAL_ROOT).list():
            if b.status != "ok":
                failures[b.name] = b.reason
                continue
            seen = []
            for level in ("O0", "O3"):
                res = compile_benchmark(b, level, "aarch64")
                if not res.ok:
                    failures[b.name] = f"{level}: {res.describe()}"
                    break
                (run,) = runner.run(job_for(b, res.artifact.binary, "aarch64", 1, b.timeout * runner.timeout_factor), 1)
                if not run.ok:
                    failures[b.name] = f"{level}: {run.describe()} {run.stderr_tail[-200:]}"
                    break
                outs = run.outputs or {}
                if any(v is None for v in outs.values()):
                    failures[b.name] = f"{level}: did not write {[k for k, v in outs.items() if v is None]}"
                    break
                seen.append((sha256(run.stdout), {k: sha256(v) for k, v in outs.items()}))
            else:
                if seen[0] == seen[1]:
                    passing.append(b.name)
                else:
                    failures[b.name] = "O0 and O3 outputs differ"
    assert len(passing) >= MIN_PASSING, failures
