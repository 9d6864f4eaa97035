import json
import textwrap
from pathlib import Path

import pytest

from costtune import process, toolchain
from costtune.benchmarks import get_benchmark
from costtune.cli import main
from costtune.compile import compile_benchmark

PROGRAM = textwrap.dedent(
    """
    #include <stdio.h>
    #include <stdlib.h>
    #include "helper.h"
    int main(int argc, char **argv) {
        int n = argc > 1 ? atoi(argv[1]) : 1;
        unsigned s = 0;
        for (int r = 0; r < n; r++) for (unsigned i = 0; i < 10000; i++) s = mix(s, i);
        printf("%u\\n", s);
        return 0;
    }
    """
)
HELPER_C = "#include \"helper.h\"\nunsigned mix(unsigned s, unsigned i) { return (s ^ i) * 16777619u + (i >> 3); }\n"


@pytest.fixture()
def program(tmp_path, monkeypatch):
    monkeypatch.setenv("COSTTUNE_CACHE", str(tmp_path / "cache"))
    d = tmp_path / "prog"
    d.mkdir()
    (d / "main.c").write_text(PROGRAM)
    (d / "helper.c").write_text(HELPER_C)
    (d / "helper.h").write_text("unsigned mix(unsigned s, unsigned i);\n")
    (d / "bench.yaml").write_text("name: mixer\nsources: [main.c, helper.c]\nargs: ['{repeat}']\nrepeat: 2\n")
    return get_benchmark(str(d))


def run_binary(art, bench, target):
    argv = [art.binary, *bench.render_args()]
    if target == "aarch64":
        argv = [toolchain.find().qemu, *argv]
    res = process.run(argv, timeout=60, env=process.MINIMAL_ENV)
    assert res.ok, res.stderr_tail()
    return res.stdout


@pytest.mark.parametrize("target", ["aarch64", "host"])
@pytest.mark.parametrize("llvm", [19, 14])
def test_two_file_program_builds_and_runs(program, target, llvm):
    tc = toolchain.find(llvm)
    outs = set()
    for pipe in ("O0", "O3", "Oz"):
        res = compile_benchmark(program, pipe, target, tc)
        assert res.ok, res.describe()
        art = res.artifact
        for f in (art.linked_bc, art.opt_ll, art.asm, art.obj, art.binary):
            assert f.is_file() and f.stat().st_size > 0
        outs.add(run_binary(art, program, target))
    assert len(outs) == 1  # same output at every level


def test_cache_hit_and_shared_frontend(program):
    first = compile_benchmark(program, "O2", "aarch64")
    assert first.ok and not first.artifact.cached and "opt" in first.seconds
    again = compile_benchmark(program, "O2", "aarch64")
    assert again.artifact.cached and again.seconds == {}
    assert again.artifact.binary_hash == first.artifact.binary_hash
    other = compile_benchmark(program, "O1", "aarch64")
    assert "frontend" not in other.seconds  # the frontend result is shared by all pipelines
    assert other.artifact.linked_bc.read_bytes() == first.artifact.linked_bc.read_bytes()


def test_hashes_are_deterministic(program, tmp_path, monkeypatch):
    a = compile_benchmark(program, "O3", "aarch64").artifact
    monkeypatch.setenv("COSTTUNE_CACHE", str(tmp_path / "cache2"))
    b = compile_benchmark(program, "O3", "aarch64").artifact
    assert (a.ir_hash, a.text_hash, a.binary_hash) == (b.ir_hash, b.text_hash, b.binary_hash)
    c = compile_benchmark(program, "O0", "aarch64").artifact
    assert c.text_hash != a.text_hash


def test_opt_failure_is_a_result(program):
    res = compile_benchmark(program, "function(no-such-pass)", "aarch64")
    assert res.status == "compile_error" and res.step == "opt"
    assert "no-such-pass" in res.stderr_tail


def test_frontend_failure_is_a_result(tmp_path, monkeypatch):
    monkeypatch.setenv("COSTTUNE_CACHE", str(tmp_path / "cache"))
    d = tmp_path / "bad"
    d.mkdir()
    (d / "bad.c").write_text("int main( { return 0; }\n")
    (d / "bench.yaml").write_text("name: bad\n")
    res = compile_benchmark(get_benchmark(str(d)), "O3", "aarch64")
    assert res.status == "compile_error" and res.step == "frontend" and "error" in res.stderr_tail
    # the one-line message names clang's diagnostic (file, line, what), not "1 error generated."
    assert "bad.c:1:" in res.describe() and "error:" in res.describe()


def test_cli_compile_writes_every_file(program, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["compile", str(program.root), "--passes", "O3", "--target", "aarch64", "--out", str(out)]) == 0
    for name in ("linked.bc", "opt.ll", "prog.s", "prog.o", "prog", "artifact.json"):
        assert (out / name).is_file(), name
    meta = json.loads((out / "artifact.json").read_text())
    assert meta["pipeline"] == "default<O3>" and len(meta["binary_hash"]) == 64
    assert any("opt-19" in c[0] or c[0].endswith("opt") for c in meta["commands"])
    assert meta["versions"]["opt"].startswith("19.")


def test_cli_compile_error_is_one_line(program, capsys):
    assert main(["compile", str(program.root), "--passes", "function(no-such-pass)"]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("costtune: error:") and "opt failed" in err[0]


def test_unknown_benchmark(capsys):
    assert main(["compile", "builtin/definitely-not-here", "--passes", "O3"]) == 2
    assert "unknown benchmark" in capsys.readouterr().err


def test_step_times_include_the_frontend(program):
    res = compile_benchmark(program, "O1", "host")
    assert res.ok and {"frontend", "link-ir", "opt", "llc", "link"} <= set(res.seconds)
    assert res.seconds["frontend"] > 0


@pytest.mark.parametrize("llvm", [19, 14])
def test_object_is_the_assembled_asm_and_same_ir_shares_the_backend(program, llvm):
    tc = toolchain.find(llvm)
    a = compile_benchmark(program, "O2", "aarch64", tc).artifact
    # the object comes from prog.s; on AArch64 it is byte for byte what llc -filetype=obj writes
    direct = a.dir.parent / "direct.o"
    res = process.run([tc.llc, "-O2", "-mtriple=aarch64-linux-gnu", "-filetype=obj", a.opt_ll, "-o", direct])
    assert res.ok and direct.read_bytes() == a.obj.read_bytes()
    assert [c for c in a.commands if "-c" in c and str(a.asm).endswith(c[c.index("-c") + 1].split("/")[-1])]
    # a pipeline that ends in the same IR (O2 then a verifier) reuses the backend
    b = compile_benchmark(program, "default<O2>,verify", "aarch64", tc).artifact
    assert b.dir != a.dir and b.ir_hash == a.ir_hash
    assert "backend_reused" in b.seconds and "llc" not in b.seconds
    assert (b.binary_hash, b.text_hash) == (a.binary_hash, a.text_hash)
    assert b.binary.read_bytes() == a.binary.read_bytes() and b.asm.read_text() == a.asm.read_text()
    # shared, not copied: one file on disk for the binary and for the linked bitcode
    assert b.binary.stat().st_ino == a.binary.stat().st_ino
    assert (b.dir / "linked.bc").stat().st_ino == (a.dir / "linked.bc").stat().st_ino
    # if the artifact it points at is gone, the backend is built again
    import shutil

    shutil.rmtree(a.dir)
    assert b.binary.read_bytes()  # b's own links outlive a
    c = compile_benchmark(program, "default<O2>,verify,verify", "aarch64", tc).artifact
    assert "llc" in c.seconds and c.binary_hash == a.binary_hash
    d = compile_benchmark(program, "default<O2>,verify,verify,verify", "aarch64", tc).artifact
    assert "backend_reused" in d.seconds and d.binary_hash == a.binary_hash


def test_the_compile_cache_cap_evicts_least_recently_used_artifacts(program, tmp_path, monkeypatch):
    import os
    import time

    from costtune.cache import prune_compile

    monkeypatch.setenv("COSTTUNE_CACHE", str(tmp_path / "cache"))  # not the user's cache

    arts = {p: compile_benchmark(program, p, "aarch64").artifact for p in ("O0", "O1", "O2")}
    old = time.time() - 7200
    for i, p in enumerate(("O0", "O1")):  # used two hours ago, O0 first
        os.utime(arts[p].dir, (old + i, old + i))
    size = sum(f.stat().st_size for f in arts["O2"].dir.iterdir())
    deleted, freed = prune_compile(size * 2)  # room for about two artifacts: the least recently used goes
    assert deleted == 1 and freed > 0 and not arts["O0"].dir.exists() and arts["O1"].dir.exists()
    assert compile_benchmark(program, "O1", "aarch64").artifact.cached  # a hit marks O1 as used now
    assert prune_compile(0) == (0, 0)  # over the cap, but everything left was used in the last 15 min
    assert arts["O1"].dir.exists() and arts["O2"].dir.exists()
    again = compile_benchmark(program, "O0", "aarch64")  # a pruned artifact is simply built again
    assert again.ok and not again.artifact.cached and again.artifact.binary_hash == arts["O0"].binary_hash


def test_the_cache_cap_counts_a_file_that_artifacts_share_once(program, tmp_path, monkeypatch):
    import os
    import time

    from costtune.cache import compile_bytes, prune_compile

    monkeypatch.setenv("COSTTUNE_CACHE", str(tmp_path / "cache"))
    # the same IR: the second artifact's .s, .o and binary are the first's files, hard-linked
    arts = [compile_benchmark(program, p, "aarch64").artifact for p in ("O2", "default<O2>,verify,verify")]
    old = time.time() - 7200
    for i, a in enumerate(arts):
        os.utime(a.dir, (old + i, old + i))
    total = compile_bytes()
    deleted, freed = prune_compile(total - 1)
    after = compile_bytes()
    assert deleted == 1 and 0 < freed < total and after == total - freed <= total - 1
    assert arts[1].binary.is_file()  # the files it shared stay with the artifact that holds them


def test_costtune_cache_reports_and_prunes_the_compile_cache(program, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("COSTTUNE_CACHE", str(tmp_path / "cache"))
    for p in ("O0", "O1"):
        assert compile_benchmark(program, p, "aarch64").ok
    assert main(["cache"]) == 0
    assert "2 compile artifacts" in capsys.readouterr().out
    assert main(["cache", "--max-gb", "0"]) == 0  # both were used just now: they stay
    out = capsys.readouterr().out
    assert "pruned 0 artifacts" in out and "used in the last 15 min and stays" in out
    assert main(["cache", "--max-gb", "0", "--min-age-min", "0"]) == 0
    assert "now 0 compile artifacts" in capsys.readouterr().out
    assert main(["cache", "--max-gb", "-1"]) != 0
    assert "--max-gb" in capsys.readouterr().err


def test_the_cache_cap_walks_the_cache_at_most_every_few_minutes(program, tmp_path, monkeypatch):
    import os
    import time

    from costtune import cache

    monkeypatch.setenv("COSTTUNE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(cache, "_last_cap", -cache.CAP_INTERVAL_S)
    old = time.time() - 7200
    a = compile_benchmark(program, "O0", "aarch64").artifact
    os.utime(a.dir, (old, old))
    cache.cap_compile(1e-9)
    assert not a.dir.exists()  # over the cap and unused for two hours: pruned
    b = compile_benchmark(program, "O1", "aarch64").artifact
    os.utime(b.dir, (old, old))
    cache.cap_compile(1e-9)
    assert b.dir.exists()  # checked a moment ago: no second walk yet
    cache.cap_compile(0)  # 0: no cap
    assert b.dir.exists()


def test_the_same_sources_in_two_checkouts_build_the_same_binary(tmp_path):
    """assert() embeds __FILE__: the checkout's path must not reach the binary (a corpus's
    binary hashes are checked against builds in other users' checkouts)."""
    from costtune.benchmarks import DirectorySuite

    src = '#include <assert.h>\n#include <stdio.h>\nint main(int c, char **v) { assert(c > 0); puts("ok"); return 0; }\n'
    hashes = []
    for where in ("first/checkout", "second/elsewhere/deeper"):
        d = tmp_path / where / "prog"
        d.mkdir(parents=True)
        (d / "prog.c").write_text(src)
        (d / "bench.yaml").write_text("sources: [prog.c]\n")
        res = compile_benchmark(DirectorySuite(d.parent, name="s").get("prog"), "O2")
        assert res.ok, res.describe()
        assert str(tmp_path).encode() not in res.artifact.binary.read_bytes()
        hashes.append(res.artifact.binary_hash)
    assert hashes[0] == hashes[1]
