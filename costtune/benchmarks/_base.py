"""Benchmarks and benchmark suites.

A :class:`Benchmark` is everything needed to build and run one program variant:
C sources, frontend flags, link flags, the command-line arguments, the input
files copied into a fresh run directory, and which outputs are compared against
the reference (O0) build. ``{repeat}`` in ``args`` or ``env`` values is replaced
by the repeat knob, so that one run does enough work to be measured.

A :class:`Suite` lists benchmarks and looks them up by name. Contract:
``list()`` returns every variant it knows, including unsupported ones (with
``status != "ok"`` and a ``reason``); ``get(name)`` raises
:class:`~costtune.errors.UnknownBenchmark` for names it does not have. Suites are
read-only and cheap to construct; they never copy third-party sources.
"""

from __future__ import annotations

import abc
import hashlib
from dataclasses import dataclass
from pathlib import Path

from costtune.errors import UnknownBenchmark


@dataclass(frozen=True)
class Benchmark:
    suite: str
    name: str
    root: Path  #: directory the relative source paths start from
    sources: tuple[str, ...]  #: C files, relative to ``root``
    cflags: tuple[str, ...] = ()  #: extra frontend flags (-D, -I, -std=...)
    ldflags: tuple[str, ...] = ("-lm",)
    args: tuple[str, ...] = ()  #: argv[1:], may contain {repeat}
    inputs: tuple[Path, ...] = ()  #: absolute paths, copied into the run dir (basename kept)
    outputs: tuple[str, ...] = ()  #: files the program writes in its run dir, compared besides stdout
    env: tuple[tuple[str, str], ...] = ()  #: extra environment for the run, values may contain {repeat}
    repeat: int = 1  #: default repeat knob
    timeout: float = 120.0  #: seconds for one native run (qemu runs get a multiple)
    compare_stdout: bool = True
    compare_stderr: bool = False  #: stderr is compared with the reference too
    extra_sources: tuple[Path, ...] = ()  #: absolute paths of C files built with the program (a runtime)
    description: str = ""
    status: str = "ok"  #: "ok" or "unsupported"
    reason: str = ""  #: why unsupported
    # A suite that ships its expected output (llvm-test-suite) checks a run against that
    # file instead of the O0 build's output; the fields below say how.
    stdin: Path | None = None  #: file fed to the program's stdin (else /dev/null)
    expected_output: Path | None = None  #: the expected combined output (see the fields below)
    merge_stderr: bool = False  #: stdout and stderr go to one stream, compared together
    append_exit_status: bool = False  #: the expected output ends with ``exit N`` (N: the exit code)
    hash_output: bool = False  #: the expected output is the md5 (hex) of the output
    fp_tolerance: float = 0.0  #: numbers may differ by this much relative to the expected value
    fp_abstolerance: float = 0.0  #: ... or by this much absolute

    @property
    def id(self) -> str:
        return f"{self.suite}/{self.name}"

    def source_paths(self) -> list[Path]:
        return [self.root / s for s in self.sources] + [Path(p) for p in self.extra_sources]

    def render_args(self, repeat: int | None = None) -> list[str]:
        r = str(self.repeat if repeat is None else repeat)
        return [a.replace("{repeat}", r) for a in self.args]

    def render_env(self, repeat: int | None = None) -> dict[str, str]:
        r = str(self.repeat if repeat is None else repeat)
        return {k: v.replace("{repeat}", r) for k, v in self.env}

    def source_hash(self) -> str:
        """Hash of everything that determines the frontend result."""
        h = hashlib.sha256()
        for p in sorted(self.source_paths()):
            h.update(p.name.encode())
            h.update(p.read_bytes())
        # headers next to the sources can change the result too
        for d in sorted({p.parent for p in self.source_paths()}):
            for hdr in sorted(d.glob("*.h")):
                h.update(hdr.name.encode())
                h.update(hdr.read_bytes())
        h.update("\0".join(_location_free(self.cflags)).encode())
        return h.hexdigest()


class Suite(abc.ABC):
    """A named collection of benchmarks (see the module docstring for the contract)."""

    name: str = ""

    @abc.abstractmethod
    def list(self) -> list[Benchmark]:
        """Every benchmark variant, supported or not."""

    def get(self, name: str) -> Benchmark:
        for b in self.list():
            if b.name == name:
                return b
        import difflib

        names = [b.name for b in self.list()]
        close = difflib.get_close_matches(name, names, n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise UnknownBenchmark(f"unknown benchmark '{self.name}/{name}'{hint}")


def _location_free(cflags) -> list[str]:
    """``cflags`` with each ``-I DIR`` written as a hash of the headers in DIR, so that where a
    checkout or costtune itself is installed does not change :meth:`Benchmark.source_hash`."""
    out = []
    for f in cflags:
        if f.startswith("-I") and len(f) > 2 and Path(f[2:]).is_absolute():
            h = hashlib.sha256()
            d = Path(f[2:])
            for hdr in sorted(d.glob("*.h")) if d.is_dir() else ():
                h.update(hdr.name.encode() + b"\0" + hdr.read_bytes())
            f = f"-I<{h.hexdigest()[:16]}>"
        out.append(f)
    return out
