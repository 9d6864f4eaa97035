"""Suites made of program directories: the builtin suite and a user's own programs.

A program directory holds C sources and a ``bench.yaml``::

    name: crc32                  # defaults to the directory name
    description: table-driven CRC-32 over a file
    sources: [crc32.c]           # relative to the directory; default: every *.c
    cflags: [-DNDEBUG]           # extra frontend flags
    ldflags: [-lm]
    inputs: [data/input.bin]     # copied into the run directory (basename kept)
    args: [input.bin, "{repeat}"]
    repeat: 20                   # default value of {repeat}
    outputs: []                  # files the program writes, compared besides stdout
    env: {}                      # extra environment variables
    timeout: 60                  # seconds for one native run
    compare_stdout: true         # compare stdout with the O0 reference
    compare_stderr: false        # compare stderr too (a program that dumps its results there)

A suite directory holds program directories and an optional ``manifest.yaml``
(``programs: [name, ...]`` fixes the order and the members); a single program
directory is a suite of one.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from costtune.benchmarks._base import Benchmark, Suite
from costtune.config import yaml_error
from costtune.errors import BenchmarkError, UnknownBenchmark

BENCH_FILE = "bench.yaml"
MANIFEST_FILE = "manifest.yaml"


def load_program(directory: Path, suite: str) -> Benchmark:
    """The program in ``directory`` from its bench.yaml; BenchmarkError names what is wrong with it."""
    directory = Path(directory).resolve()
    spec_path = directory / BENCH_FILE
    try:
        spec = yaml.safe_load(spec_path.read_text()) or {}
    except FileNotFoundError:
        raise BenchmarkError(f"{directory}: no {BENCH_FILE}") from None
    except yaml.YAMLError as e:
        raise BenchmarkError(yaml_error(spec_path, e)) from None
    except (OSError, ValueError) as e:  # unreadable, or not UTF-8
        raise BenchmarkError(f"{spec_path}: {e}") from None
    try:
        return _program(directory, spec_path, spec, suite)
    except (TypeError, ValueError, AttributeError) as e:  # a field of the wrong type (env: a list, sources: 5)
        raise BenchmarkError(f"{spec_path}: {e}") from None


def _program(directory: Path, spec_path: Path, spec, suite: str) -> Benchmark:
    if not isinstance(spec, dict):
        raise BenchmarkError(f"{spec_path}: expected a mapping")
    known = {"name", "description", "sources", "cflags", "ldflags", "inputs", "args",
             "repeat", "outputs", "env", "timeout", "compare_stdout", "compare_stderr"}
    extra = set(spec) - known
    if extra:
        raise BenchmarkError(f"{spec_path}: unknown keys {sorted(extra)}")
    sources = spec.get("sources") or sorted(p.name for p in directory.glob("*.c"))
    if not sources:
        raise BenchmarkError(f"{directory}: no C sources")
    for s in sources:
        if not (directory / s).is_file():
            raise BenchmarkError(f"{spec_path}: source '{s}' not found")
    inputs = []
    for i in spec.get("inputs") or []:
        p = directory / i
        if not p.is_file():
            raise BenchmarkError(f"{spec_path}: input '{i}' not found")
        inputs.append(p)
    bench = Benchmark(
        suite=suite,
        name=str(spec.get("name") or directory.name),
        root=directory,
        sources=tuple(sources),
        cflags=tuple(str(x) for x in spec.get("cflags") or ()),
        ldflags=tuple(str(x) for x in spec.get("ldflags", ["-lm"]) or ()),
        args=tuple(str(x) for x in spec.get("args") or ()),
        inputs=tuple(inputs),
        outputs=tuple(str(x) for x in spec.get("outputs") or ()),
        env=tuple((str(k), str(v)) for k, v in (spec.get("env") or {}).items()),
        repeat=int(spec.get("repeat", 1)),
        timeout=float(spec.get("timeout", 120)),
        compare_stdout=bool(spec.get("compare_stdout", True)),
        compare_stderr=bool(spec.get("compare_stderr", False)),
        description=str(spec.get("description", "")),
    )
    if bench.repeat < 1:
        raise BenchmarkError(f"{spec_path}: repeat must be >= 1")
    return bench


class DirectorySuite(Suite):
    """Programs in subdirectories of ``root`` (or ``root`` itself if it holds a bench.yaml)."""

    def __init__(self, root: Path, name: str | None = None):
        self.root = Path(root).resolve()
        if not self.root.is_dir():
            raise UnknownBenchmark(f"suite directory '{root}' does not exist")
        self.name = name or self.root.name
        self._cache: list[Benchmark] | None = None

    def _program_dirs(self) -> list[Path]:
        if (self.root / BENCH_FILE).is_file():
            return [self.root]
        manifest = self.root / MANIFEST_FILE
        if manifest.is_file():
            data = yaml.safe_load(manifest.read_text()) or {}
            return [self.root / p for p in data.get("programs", [])]
        return sorted(p.parent for p in self.root.glob(f"*/{BENCH_FILE}"))

    def get(self, name: str) -> Benchmark:
        """The program in ``ROOT/name`` if that folder exists (its own errors, not a sibling's), else by name."""
        d = self.root / name
        if d.is_dir() and self.root in d.resolve().parents:  # a folder of this suite, not a path elsewhere
            return load_program(d, self.name)
        try:
            return super().get(name)
        except UnknownBenchmark as e:
            raise UnknownBenchmark(f"{e}: no folder {d}") from None

    def list(self) -> list[Benchmark]:
        """Every program; one whose folder does not load is listed unsupported, with the reason."""
        if self._cache is None:
            self._cache = [self._load(d) for d in self._program_dirs()]
        return list(self._cache)

    def _load(self, d: Path) -> Benchmark:
        try:
            return load_program(d, self.name)
        except BenchmarkError as e:
            return Benchmark(self.name, d.name, d, (), status="unsupported", reason=str(e))
