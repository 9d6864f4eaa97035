"""The pass catalog and pipeline rendering, checked against the real opt-19 and opt-14."""

import random

import pytest

from costtune import process, toolchain
from costtune.errors import InvalidPassPipeline
from costtune.passes import (LEVELS, load_catalog, mutate, parse_pipeline, random_pipeline, render,
                             resolve_pipeline)
from costtune.passes_probe import parse_print_passes

VERSIONS = (19, 14)

PROGRAM = r"""
#include <stdio.h>
static int table[64];
static int square(int x) { return x * x; }
int sum(int *a, int n) {
    int s = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < 4; j++)
            s += a[i] * j + square(j);
    return s;
}
int main(int argc, char **argv) {
    for (int i = 0; i < 64; i++) table[i] = i * argc;
    int s = 0;
    while (s < 100000) s += sum(table, 64) + 1;
    printf("%d\n", s);
    return 0;
}
"""

#: a mix of every level; what render must produce for it (instcombine's form differs per version)
MIX = ["globalopt", "inline", "sroa", "instcombine", "licm", "loop-rotate", "indvars", "gvn",
       "loop-unroll-and-jam", "chr", "globaldce", "argpromotion", "function-attrs", "gvn<no-pre>"]
MIX_EXPECTED = ("globalopt,cgscc(inline),require<profile-summary>,function(sroa,{ic},loop-mssa(licm),"
                "loop(loop-rotate,indvars),gvn,loop(loop-unroll-and-jam),chr),globaldce,"
                "cgscc(argpromotion,function-attrs),function(gvn<no-pre>)")
IC_FORM = {19: "instcombine<no-verify-fixpoint>", 14: "instcombine"}


def _tc(v):
    return toolchain.find(v, require_qemu=False)


@pytest.fixture(scope="module", params=VERSIONS, ids=lambda v: f"llvm{v}")
def env(request, tmp_path_factory):
    """(llvm, toolchain, catalog, bitcode of a small C program with loops and calls)."""
    v = request.param
    tc = _tc(v)
    d = tmp_path_factory.mktemp(f"llvm{v}")
    src = d / "prog.c"
    src.write_text(PROGRAM)
    bc = d / "prog.bc"
    res = process.run([tc.clang, "--target=aarch64-linux-gnu", "-O0", "-Xclang", "-disable-O0-optnone",
                       "-emit-llvm", "-c", "-w", "-nostdinc", "-isystem", "/usr/aarch64-linux-gnu/include",
                       src, "-o", bc], timeout=60)
    if not res.ok:  # without the cross headers: declare printf ourselves
        src.write_text("int printf(const char *, ...);\n" + PROGRAM.replace("#include <stdio.h>", ""))
        res = process.run([tc.clang, "--target=aarch64-linux-gnu", "-O0", "-Xclang", "-disable-O0-optnone",
                           "-emit-llvm", "-c", "-w", src, "-o", bc], timeout=60)
    assert res.ok, res.stderr_tail()
    return v, tc, load_catalog(v), bc


def opt_accepts(tc, pipeline, bc):
    res = process.run([tc.opt, f"-passes={pipeline}", "-disable-output", bc], timeout=60)
    return res.ok, res.stderr_tail(600)


def test_catalog_matches_print_passes(env):
    v, tc, cat, _ = env
    listed = parse_print_passes(process.run([tc.opt, "-print-passes"], timeout=60).stdout.decode())
    assert {p.name for p in listed} == set(cat.by_name), "catalog out of date: costtune passes refresh"
    counts = cat.counts()
    # opt -print-passes lists 75/7/130/24/5 plain names (module/cgscc/function/loop/loop-nest) in opt-14,
    # 95/6/163/21/4 in opt-19 (+ parameterised ones)
    assert counts["module"][0] >= 75 and counts["function"][0] >= 130 and counts["cgscc"][0] >= 6
    assert 15 <= counts["loop"][0] + counts["loop-nest"][0] <= 40
    for level in LEVELS:
        total, safe = counts[level]
        assert 0 < safe <= total, level
    # curated exclusions are in, with reasons
    for name in ("print<domtree>" if v == 19 else "print<loops>", "debugify", "structurizecfg", "codegenprepare"):
        if name in cat.by_name:
            assert not cat[name].safe and cat[name].reason, name
    assert all(r.reason for r in cat.rows if not r.safe)
    assert {"inline", "sroa", "licm", "gvn", "globalopt", "loop-rotate"} <= set(cat.safe_names())


def test_render_mix_exact_and_accepted(env):
    v, tc, cat, bc = env
    text = render(MIX, cat)
    assert text == MIX_EXPECTED.format(ic=IC_FORM[v])
    ok, err = opt_accepts(tc, text, bc)
    assert ok, err


def test_render_grouping(env):
    v, tc, cat, bc = env
    assert render(["licm"], cat) == "function(loop-mssa(licm))"
    assert render(["loop-rotate", "licm", "licm"], cat) == "function(loop(loop-rotate),loop-mssa(licm,licm))"
    assert render(["inline", "argpromotion", "sroa", "ipsccp"], cat) == "cgscc(inline,argpromotion),function(sroa),ipsccp"
    assert render(["ipsccp", "globalopt"], cat) == "ipsccp,globalopt"
    for names in (["licm"], ["loop-rotate", "licm", "licm"], ["ipsccp", "globalopt"]):
        ok, err = opt_accepts(tc, render(names, cat), bc)
        assert ok, err


def test_unknown_name_suggests(env):
    v, tc, cat, bc = env
    with pytest.raises(InvalidPassPipeline, match="did you mean.*instcombine"):
        render(["sroa", "instcombin"], cat)
    with pytest.raises(InvalidPassPipeline, match="licm"):
        resolve_pipeline("sroa,lcim", v)


def test_random_safe_pipelines_pass_opt(env):
    v, tc, cat, bc = env
    rng = random.Random(1234)
    failures = []
    for _ in range(30):
        names = random_pipeline(rng, cat, rng.randint(20, 60))
        assert all(cat[n].safe for n in names)
        ok, err = opt_accepts(tc, render(names, cat), bc)
        if not ok:
            failures.append((names, err))
    assert not failures, failures[:2]


def test_presets_and_raw(env):
    v, tc, cat, bc = env
    assert resolve_pipeline("O0", v) == ""
    for p in ("O1", "O2", "O3", "Os", "Oz"):
        text = resolve_pipeline(p, v)
        assert text == f"default<{p}>"
        ok, err = opt_accepts(tc, text, bc)
        assert ok, err
    raw = "function(sroa,loop-mssa(licm))"
    assert resolve_pipeline(raw, v) == raw
    assert resolve_pipeline("sroa, gvn licm", v) == "function(sroa,gvn,loop-mssa(licm))"
    for bad in ("function(sroa", "function()", "sroa;rm -rf", ""):
        with pytest.raises(InvalidPassPipeline):
            resolve_pipeline(bad, v)


def test_o3_flatten_roundtrip(env):
    v, tc, cat, bc = env
    res = process.run([tc.opt, "-passes=default<O3>", "-print-pipeline-passes", "-disable-output", bc], timeout=60)
    assert res.ok
    printed = res.stdout.decode().strip()
    names = parse_pipeline(printed, cat)
    assert len(names) > 60 and "inline" in names and "licm" in names and "slp-vectorizer" in names
    assert not any(n.startswith(("require", "invalidate", "verify")) for n in names)
    with_params = parse_pipeline(printed, cat, keep_params=True)
    assert "loop-unroll<O3>" in with_params and len(with_params) == len(names)
    for seq in (names, with_params):
        ok, err = opt_accepts(tc, render(seq, cat), bc)
        assert ok, err
    rng = random.Random(7)
    mutated = mutate(names, rng, cat, n=5)
    assert mutated != names and all(n in cat for n in mutated)
    ok, err = opt_accepts(tc, render(mutated, cat), bc)
    assert ok, err


def test_ddmin_finds_the_minimal_failing_subsequence():
    from costtune.passes_probe import ddmin

    seq = [f"p{i}" for i in range(40)]
    calls = []

    def fails(sub):  # fails when p7 runs somewhere before p31
        calls.append(sub)
        return "p7" in sub and "p31" in sub and sub.index("p7") < sub.index("p31")

    assert ddmin(seq, fails) == ["p7", "p31"]
    assert len(calls) < 100


def test_cli_passes_list(capsys):
    from costtune.cli import main

    _tc(19)
    assert main(["passes", "list", "--llvm", "19", "--level", "cgscc"]) == 0
    out = capsys.readouterr().out
    assert "inline" in out and "argpromotion" in out and "gvn " not in out
    assert main(["passes", "list", "--llvm", "19", "--safe"]) == 0
    out = capsys.readouterr().out
    assert "codegenprepare" not in out and "licm" in out


def test_cli_passes_refresh_without_a_runnable_program(tmp_path, monkeypatch, capsys):
    """The probe runs the passes on builtin programs that build and run at O0; with none it says so
    in one line and writes no catalog (it used to end in a ZeroDivisionError)."""
    import costtune.benchmarks
    from costtune.cli import main

    toolchain.find(19)
    prog = tmp_path / "builtin" / "exits3"
    prog.mkdir(parents=True)
    (prog / "exits3.c").write_text("int main(void) { return 3; }\n")
    (prog / "bench.yaml").write_text("name: exits3\nsources: [exits3.c]\n")
    monkeypatch.setattr(costtune.benchmarks, "BUILTIN_DIR", tmp_path / "builtin")
    monkeypatch.setenv("COSTTUNE_PASSES_DIR", str(tmp_path / "passes"))
    assert main(["passes", "refresh", "--llvm", "19", "--sequences", "0"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == ("costtune: error: none of the 1 builtin programs built and ran at O0: "
                       "no program to probe the passes on"), err
    assert not (tmp_path / "passes").exists()


def test_cli_passes_validate_and_o3_check(tmp_path, capsys):
    """validate and o3-check are actions of `costtune passes` (the probe has no CLI of its own):
    a few random safe pipelines on one program with their JSON report, then default<O3> against
    its flattened sequence on that program."""
    import json

    from costtune.cli import main

    toolchain.find(19)
    out = tmp_path / "validate.json"
    rc = main(["passes", "validate", "--llvm", "19", "-n", "3", "--programs", "checksum", "--jobs", "1",
               "--out", str(out)])
    rep = json.loads(out.read_text())
    assert rep["pipelines"] == 3 and rep["programs"] == ["builtin/checksum"] and rep["builds"] == 3
    assert rc == (0 if rep["ok_pipelines"] == 3 else 1)
    assert f"{rep['ok_pipelines']}/3 pipelines correct" in capsys.readouterr().out
    o3 = tmp_path / "o3.json"
    assert main(["passes", "o3-check", "--llvm", "19", "--programs", "checksum", "--out", str(o3)]) == 0
    got = json.loads(o3.read_text())
    assert [r["bench"] for r in got["rows"]] == ["builtin/checksum"] and got["rows"][0]["o3_insns"] > 0
    assert got["pipeline"] and "geomean dynamic insns" in capsys.readouterr().out
