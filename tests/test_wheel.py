"""The wheel as a user gets it: built with ``python -m build``, installed into a fresh virtualenv
outside the repository, run from an empty directory with a cache of its own.

The core install (no extras) compiles, measures and searches with ``--model static``; ``serve``
says which extra it needs; then ``costtune[serve,train]`` (with the CPU torch this venv runs, so no
CUDA packages come in) serves the shipped default model and ``score`` asks it. pip reads the same
indexes and find-links as setup.sh (the machine's pip configuration).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: what the build reads: the package (its data/ links point into the top-level folders) and the metadata
SOURCES = ("costtune", "passes", "benchmarks/builtin", "tuner_configs", "setup.cfg", "pyproject.toml",
           "README.md", "LICENSE")
PROGRAM = "builtin/checksum"
TIMINGS: dict[str, float] = {}


def _run(cmd, *, cwd, env, timeout=600, check=True, label=None) -> subprocess.CompletedProcess:
    t0 = time.perf_counter()
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    TIMINGS[label or " ".join(Path(str(c)).name for c in cmd[:3])] = time.perf_counter() - t0
    if check:
        assert proc.returncode == 0, f"{cmd}: rc {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def _dir_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink()) / 2**20


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(venv, wheel, run): the core wheel installed in a fresh venv; run(*args) runs its costtune."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    for name in SOURCES:  # a copy: the build writes build/ and *.egg-info next to its sources
        s = ROOT / name
        if s.is_dir():
            shutil.copytree(s, src / name, symlinks=True, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(s, src / name)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHON"))}
    dist = tmp / "dist"
    # without build isolation: this venv's setuptools builds it, no index is asked
    _run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", dist, src], cwd=tmp, env=env,
         label="build")
    wheel, = dist.glob("costtune-*.whl")
    venv = tmp / "venv"
    _run([sys.executable, "-m", "venv", venv], cwd=tmp, env=env, label="venv")
    # --no-compile: no bytecode for all of torch up front (what is imported compiles on first use)
    pip = [venv / "bin" / "python", "-m", "pip", "install", "-q", "--no-compile", "--disable-pip-version-check"]
    _run([*pip, wheel], cwd=tmp, env=env, label="install core")
    empty = tmp / "empty"
    empty.mkdir()
    run_env = dict(env, PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}", COSTTUNE_CACHE=str(tmp / "cache"))
    run_env.pop("COSTTUNE_PASSES_DIR", None)

    def run(*args, check=True, timeout=600):
        return _run([venv / "bin" / "costtune", *args], cwd=empty, env=run_env, check=check, timeout=timeout)

    yield venv, wheel, run, pip, empty, run_env
    print(f"\nwheel {wheel.stat().st_size / 2**20:.1f} MB, venv {_dir_mb(venv):.0f} MB; seconds: "
          + ", ".join(f"{k} {v:.0f}" for k, v in TIMINGS.items() if v >= 1))


def _site_packages(venv: Path) -> Path:
    sp, = (venv / "lib").glob("python*/site-packages")
    return sp


def _no_cuda_packages(venv: Path) -> None:
    nvidia = [p.name for p in _site_packages(venv).iterdir() if p.name.lower().startswith("nvidia")]
    assert not nvidia, f"CUDA packages in the venv: {nvidia}"


def test_the_core_wheel_compiles_measures_and_searches_outside_the_repository(installed):
    venv, wheel, run, _, empty, _ = installed
    sp = _site_packages(venv)
    assert not (sp / "passes").exists() and (sp / "costtune" / "data" / "passes" / "llvm-19" / "passes.csv").is_file()
    # the shipped function-variant model (--model variant, --strategy screen_model)
    assert all((sp / "costtune" / "data" / "variant_model" / f).is_file()
               for f in ("variant_model.json", "weights.safetensors"))
    assert "toolchain" in run("--help").stdout
    assert "aarch64" in run("toolchain").stdout
    rows = run("passes", "list", "--llvm", "19").stdout.splitlines()
    assert len(rows) > 100 and str(sp / "costtune" / "data" / "passes") in rows[-1], rows[-1]
    listing = run("benchmarks", "list").stdout
    assert PROGRAM in listing and "18 programs, 18 ok" in listing, listing
    out = empty / "compiled"
    run("compile", PROGRAM, "--passes", "O3", "--out", out)
    binary = (out / "prog").read_bytes()
    assert binary[:4] == b"\x7fELF" and int.from_bytes(binary[18:20], "little") == 183  # EM_AARCH64
    measured = run("measure", PROGRAM, "--passes", "O3", "--repeat", "1").stdout
    row = next(line.split() for line in measured.splitlines() if line.startswith(PROGRAM))
    assert row[1:3] == ["O3", "insns"] and int(row[3]) > 1_000_000 and row[4] == "ok", measured
    # a shipped config by its name, two measurements (O3 and one screened candidate)
    res = json.loads(run("search", "--strategy", "search_quick", "--suite", "builtin", "--benchmarks",
                         PROGRAM.split("/")[1], "--budget", "2", "--repeat", "1", "--model", "static", "--k", "2",
                         "--no-progress", "--json", "--out", empty / "search").stdout)
    prog, = res["programs"]
    assert prog["measurements"] == 2 and prog["o3_value"] > 1_000_000 and prog["best_value"] <= prog["o3_value"]
    assert (empty / "search" / "records.db").is_file() and (empty / "search" / "search.db").is_file()
    # the commands of extras that are not installed say which one, in one line
    for args, extra in ((("serve",), "serve"),
                        (("search", "--benchmarks", "checksum", "--budget", "2", "--model", "default"), "train")):
        proc = run(*args, check=False)
        assert proc.returncode == 2 and proc.stderr.strip().splitlines() == [
            f"costtune: error: 'costtune {args[0]}' needs the {extra} extra: pip install 'costtune[{extra}]' "
            f"(no module named '{'grpc' if extra == 'serve' else 'torch'}')"], proc.stderr
    assert sorted(p.name for p in empty.iterdir()) == ["compiled", "search"]
    _no_cuda_packages(venv)


def test_the_serve_and_train_extras_serve_the_default_model_and_score(installed):
    venv, wheel, run, pip, empty, run_env = installed
    # the CPU torch this venv runs, from the same index/find-links setup.sh installs it from
    torch = metadata.version("torch")
    _run([*pip, f"torch=={torch}", f"{wheel}[serve,train]"], cwd=empty, env=run_env, label="install serve,train")
    _no_cuda_packages(venv)
    proc = subprocess.Popen([venv / "bin" / "costtune", "serve", "--port", "0", "--threads", "1"], cwd=empty,
                            env=run_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        line = proc.stdout.readline()
        assert "listening on 127.0.0.1:" in line, line + proc.stderr.read()
        addr = line.split("listening on ")[1].split()[0]
        ranked = json.loads(run("score", "--server", addr, PROGRAM, "--passes", "O0", "O3", "--json").stdout)
        assert sorted(r["pipeline"] for r in ranked) == ["O0", "O3"] and [r["rank"] for r in ranked] == [1, 2]
        assert ranked[0]["cost"] <= ranked[1]["cost"]
        served = proc.stdout.readline()
        assert served.startswith("costtune serve: serving "), served
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, proc.stderr.read()
