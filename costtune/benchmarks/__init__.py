"""Benchmark suites: ``builtin`` (ours), ``cbench``, ``codelets`` and ``polybench``
(a user's cTuning checkout), ``csmith`` (random programs), or any directory of
program folders; ``testsuite`` (a user's llvm-test-suite checkout).

A benchmark is addressed as ``suite/name``; a directory suite as ``DIR/name`` or
just ``DIR`` for a single program directory.
"""

from __future__ import annotations

import os
from pathlib import Path

from costtune.benchmarks._base import Benchmark, Suite
from costtune.benchmarks.directory import DirectorySuite, load_program
from costtune.errors import UnknownBenchmark
from costtune.resources import builtin_dir

__all__ = ["Benchmark", "Suite", "DirectorySuite", "load_program", "get_suite", "get_benchmark",
           "BUILTIN_DIR", "SUITES"]

BUILTIN_DIR = builtin_dir()
SUITES = ("builtin", "cbench", "codelets", "polybench", "csmith", "testsuite")
#: suites read from a cTuning checkout (``--cbench-root`` / ``COSTTUNE_CBENCH_ROOT``)
CK_SUITES = ("cbench", "codelets", "polybench")


def get_suite(name: str, *, cbench_root: str | os.PathLike | None = None,
              testsuite_root: str | os.PathLike | None = None,
              csmith_n: int | None = None, csmith_seed: int | None = None) -> Suite:
    if name == "builtin":
        return DirectorySuite(BUILTIN_DIR, name="builtin")
    if name in CK_SUITES:
        from costtune.benchmarks.cbench import CBenchSuite
        from costtune.benchmarks.ctuning import CodeletSuite, PolybenchSuite

        root = cbench_root or os.environ.get("COSTTUNE_CBENCH_ROOT")
        if not root:
            raise UnknownBenchmark(f"the {name} suite needs --cbench-root DIR or COSTTUNE_CBENCH_ROOT "
                                   "(a checkout of ctuning-programs and ctuning-datasets-min)")
        suite_class = {"cbench": CBenchSuite, "codelets": CodeletSuite, "polybench": PolybenchSuite}[name]
        return suite_class(Path(root))
    if name == "testsuite":
        from costtune.benchmarks.testsuite import TestSuite

        return TestSuite(testsuite_root)
    if name == "csmith":
        from costtune.benchmarks.csmith import CsmithSuite

        kwargs = {}
        if csmith_n is not None:
            kwargs["n"] = csmith_n
        if csmith_seed is not None:
            kwargs["seed"] = csmith_seed
        return CsmithSuite(**kwargs)
    path = Path(name)
    if path.is_dir():
        return DirectorySuite(path)
    raise UnknownBenchmark(f"unknown suite '{name}' (choose from {', '.join(SUITES)} or a directory)")


def program_dir_of(bench: Benchmark) -> str | None:
    """The folder of a directory suite's program (its records keep it, so that ``dataset`` and
    ``eval`` find the program from any working directory); None for the named suites."""
    return str(bench.root) if bench.suite not in SUITES else None


def get_benchmark(spec: str, program_dir: str | os.PathLike | None = None, **suite_kwargs) -> Benchmark:
    """Resolve ``suite/name`` (or a program directory) to a :class:`Benchmark`.

    ``program_dir``: where a record says a directory suite's program ``suite/name`` lives
    (:func:`program_dir_of`); used while it still holds that program, else ``spec`` is
    resolved as usual (relative to the working directory)."""
    if program_dir and (Path(program_dir) / "bench.yaml").is_file() and "/" in spec:
        bench = load_program(Path(program_dir), suite=spec.rpartition("/")[0])
        if bench.id == spec:
            return bench
    path = Path(spec)
    if path.is_dir() and (path / "bench.yaml").is_file():
        return load_program(path, suite=path.parent.name or "local")
    suite, sep, name = spec.rpartition("/")
    if not sep or not name:
        raise UnknownBenchmark(f"benchmark '{spec}' must be written suite/name (e.g. builtin/checksum)")
    return get_suite(suite, **suite_kwargs).get(name)
