"""The builtin benchmark suite (benchmarks/builtin): layout, inputs, and that
every program builds with the host C compiler and prints the same thing at
-O0 and -O2 (repeat=1)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from costtune.benchmarks.directory import DirectorySuite

ROOT = Path(__file__).resolve().parent.parent / "benchmarks" / "builtin"
CC = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")


def _suite() -> DirectorySuite:
    return DirectorySuite(ROOT, name="builtin")


def _names() -> list[str]:
    return yaml.safe_load((ROOT / "manifest.yaml").read_text())["programs"]


def test_suite_loads_with_enough_programs():
    benches = _suite().list()
    assert len(benches) >= 14
    assert [b.name for b in benches] == _names()
    assert len({b.name for b in benches}) == len(benches)
    for b in benches:
        assert b.suite == "builtin"
        assert b.id == f"builtin/{b.name}"
        assert b.status == "ok"


def test_a_users_program_is_found_despite_a_broken_sibling_and_errors_name_the_cause(tmp_path):
    from costtune.errors import BenchmarkError, UnknownBenchmark

    for name, spec in (("good", "args: []\n"), ("broken", "args: [1\n  x: 2\n"), ("noyaml", None),
                       ("envlist", "env: [A=1]\n")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "main.c").write_text("int main(void) { return 0; }\n")
        if spec is not None:
            (tmp_path / name / "bench.yaml").write_text(spec)
    suite = DirectorySuite(tmp_path)
    assert suite.get("good").name == "good"
    with pytest.raises(BenchmarkError, match=r"broken/bench\.yaml:2:\d+: invalid YAML"):
        suite.get("broken")
    with pytest.raises(BenchmarkError, match="noyaml: no bench.yaml"):
        suite.get("noyaml")
    with pytest.raises(UnknownBenchmark, match="no folder"):
        suite.get("missing")
    # the list shows the broken one with its reason instead of failing for every program
    listed = {b.name: b for b in suite.list()}
    assert listed["good"].status == "ok" and listed["broken"].status == "unsupported"
    assert "invalid YAML" in listed["broken"].reason and "noyaml" not in listed  # no bench.yaml: no program
    assert listed["envlist"].status == "unsupported"  # a field of the wrong type: one line, no traceback
    with pytest.raises(BenchmarkError, match="envlist/bench.yaml"):
        suite.get("envlist")


def test_manifest_lists_every_program_directory():
    on_disk = sorted(p.parent.name for p in ROOT.glob("*/bench.yaml"))
    assert sorted(_names()) == on_disk


@pytest.mark.parametrize("name", _names())
def test_program_spec(name):
    b = next(x for x in _suite().list() if x.name == name)
    assert b.root == (ROOT / name).resolve()
    assert len(b.description) > 20
    assert b.sources and all(p.is_file() and p.suffix == ".c" for p in b.source_paths())
    assert b.inputs, "every builtin program reads input files"
    for p in b.inputs:
        assert p.is_file()
        assert p.stat().st_size <= 256 * 1024
    # every input is named on the command line by its basename
    assert {p.name for p in b.inputs} <= set(b.args)
    assert "{repeat}" in b.args
    assert b.repeat >= 1 and b.timeout > 0
    assert b.render_args(1) == [a.replace("{repeat}", "1") for a in b.args]


def test_inputs_are_small():
    total = sum(p.stat().st_size for p in ROOT.glob("*/data/*") if p.is_file())
    assert total <= 2 * 1024 * 1024


def test_make_inputs_reproduces_committed_files(tmp_path):
    """make_inputs.py is deterministic and matches what is committed."""
    script = tmp_path / "make_inputs.py"
    shutil.copy(ROOT / "make_inputs.py", script)
    subprocess.run([sys.executable, str(script)], cwd=tmp_path, check=True, timeout=300)
    produced = sorted(p.relative_to(tmp_path) for p in tmp_path.glob("*/data/*"))
    assert produced, "make_inputs.py wrote nothing"
    for rel in produced:
        assert (ROOT / rel).read_bytes() == (tmp_path / rel).read_bytes(), str(rel)


def _build(b, opt: str, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    exe = out / "prog"
    cmd = [CC, opt, "-w", *b.cflags, *map(str, b.source_paths()), "-o", str(exe), *b.ldflags]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, f"{' '.join(cmd)}\n{res.stderr[-3000:]}"
    return exe


def _run(b, exe: Path, rundir: Path, repeat: int) -> tuple[str, dict[str, bytes]]:
    rundir.mkdir(parents=True)
    for p in b.inputs:
        shutil.copy(p, rundir / p.name)
    shutil.copy(exe, rundir / "prog")
    res = subprocess.run(["./prog", *b.render_args(repeat)], cwd=rundir, capture_output=True,
                         timeout=b.timeout, env={"PATH": "/usr/bin:/bin", **b.render_env(repeat)})
    assert res.returncode == 0, f"{b.id} exited {res.returncode}: {res.stderr[-2000:]!r}"
    outputs = {}
    for name in b.outputs:
        f = rundir / name
        assert f.is_file(), f"{b.id} did not write {name}"
        outputs[name] = f.read_bytes()
    return res.stdout.decode(), outputs


@pytest.mark.parametrize("name", _names())
def test_program_o0_matches_o2(name, tmp_path):
    b = next(x for x in _suite().list() if x.name == name)
    exe0 = _build(b, "-O0", tmp_path / "O0")
    exe2 = _build(b, "-O2", tmp_path / "O2")
    out0, files0 = _run(b, exe0, tmp_path / "run0", 1)
    out2, files2 = _run(b, exe2, tmp_path / "run2", 1)
    assert out0.strip(), f"{b.id} printed nothing"
    assert len(out0) < 4000, f"{b.id} prints too much"
    assert out0 == out2
    assert files0 == files2
    # the repeat knob changes the work, so the summary changes with it
    out2b, _ = _run(b, exe2, tmp_path / "run2b", 2)
    assert out2b != out2, f"{b.id}: output does not depend on repeat"
