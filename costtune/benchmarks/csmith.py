"""Random C programs from csmith, as a benchmark suite.

``CsmithSuite(n, seed)`` holds the programs csmith generates for the seeds
``seed .. seed+n-1``: each is a :class:`~costtune.benchmarks._base.Benchmark`
named ``csmith-<seed>`` whose stdout (``checksum = ...``) is the output
compared against the reference. csmith programs have no inputs and no repeat
knob: a run does whatever work the program does.

Programs are generated once into ``<cache>/csmith/<key>/csmith-<seed>/``
(cache = ``COSTTUNE_CACHE`` or ``~/.cache/costtune``); the key covers the csmith
version and the options, so the same seed always gives the same source file.
The csmith binary is ``COSTTUNE_CSMITH`` or ``csmith`` on PATH; its headers are
``COSTTUNE_CSMITH_INCLUDE`` or found next to the installation (Debian:
``/usr/include/csmith``).

Some random programs run for a very long time. :func:`check_program` builds the
O0 version and runs it under a timeout; its verdict is stored beside the source
(``check.json``) and :meth:`CsmithSuite.list` reports a program that failed the
check as ``status="unsupported"`` with the reason. ``CsmithSuite(check=True)``
checks every program that has no verdict yet when the suite is listed.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import shutil
from pathlib import Path

from costtune import process
from costtune.benchmarks._base import Benchmark, Suite
from costtune.cache import cache_dir
from costtune.compile import compile_benchmark
from costtune.errors import BenchmarkError, ToolchainNotFound, UnknownBenchmark
from costtune.logging import get_logger
from costtune.measure.reference import job_for
from costtune.measure.registry import get_runner
from costtune.toolchain import find

log = get_logger(__name__)

SUITE_NAME = "csmith"
ENV_BINARY = "COSTTUNE_CSMITH"
ENV_INCLUDE = "COSTTUNE_CSMITH_INCLUDE"

DEFAULT_N = 10
DEFAULT_SEED = 1

#: Options for programs of moderate size (a few hundred to ~1500 lines) that
#: give the optimiser work (loops, arrays, structs, pointers) without the very
#: long programs the defaults can produce. Floats stay off (csmith's default),
#: so every build must print the same checksum.
DEFAULT_OPTIONS = (
    "--max-funcs", "6",
    "--max-block-depth", "3",
    "--max-block-size", "4",
    "--max-expr-complexity", "6",
    "--max-array-dim", "2",
    "--max-struct-fields", "6",
    "--no-volatiles",
    "--no-volatile-pointers",
    "--no-packed-struct",
)

#: seconds one native run may take; qemu runs get the runner's multiple
RUN_TIMEOUT = 2.0
GENERATE_TIMEOUT = 60.0
CHECK_FILE = "check.json"


def find_csmith() -> Path:
    exe = os.environ.get(ENV_BINARY) or shutil.which("csmith")
    if not exe or not Path(exe).is_file():
        raise ToolchainNotFound("csmith not found: apt-get install csmith (or set COSTTUNE_CSMITH)")
    return Path(exe).resolve()


def find_include(csmith: Path | None = None) -> Path:
    env = os.environ.get(ENV_INCLUDE)
    candidates = [Path(env)] if env else []
    if csmith is not None:
        prefix = csmith.parent.parent
        candidates += [prefix / "include" / "csmith", *sorted((prefix / "include").glob("csmith-*"))]
    candidates += [Path("/usr/include/csmith"), Path("/usr/local/include/csmith")]
    for c in candidates:
        if (c / "csmith.h").is_file():
            return c
    raise ToolchainNotFound("csmith headers (csmith.h) not found: set COSTTUNE_CSMITH_INCLUDE")


def csmith_version(csmith: Path) -> str:
    res = process.run([csmith, "--version"], timeout=30, cwd=tempfile.gettempdir())
    return (res.stdout or res.stderr).decode("utf-8", "replace").strip()


def generate(csmith: Path, seed: int, out: Path, options: tuple[str, ...] = DEFAULT_OPTIONS) -> None:
    """Write csmith's program for ``seed`` to ``out`` (atomically)."""
    tmp = out.with_name(out.name + f".tmp{os.getpid()}")
    # stdout, not --output: csmith writes its options (the path too) into the header
    # cwd: csmith drops a platform.info file into its working directory
    res = process.run([csmith, "--seed", str(seed), *options], timeout=GENERATE_TIMEOUT, stdout_path=tmp,
                      cwd=out.parent)
    if not res.ok or not tmp.is_file() or tmp.stat().st_size == 0:
        tmp.unlink(missing_ok=True)
        raise BenchmarkError(f"csmith --seed {seed} failed: {res.describe()} {res.stderr_tail(300)}")
    tmp.replace(out)


def check_program(bench: Benchmark, target: str = "aarch64", toolchain=None) -> str:
    """Build ``bench`` at O0 and run it once; '' when it finishes cleanly, else the reason.

    The verdict is stored in the program's ``check.json`` (keyed by the source
    hash, target and toolchain) and reused.
    """
    tc = toolchain or find()
    key = hashlib.sha256(f"{bench.source_hash()}|{target}|{tc.fingerprint}".encode()).hexdigest()[:16]
    verdict_path = bench.root / CHECK_FILE
    verdicts = _read_verdicts(verdict_path)
    if key in verdicts:
        return verdicts[key]["reason"]
    res = compile_benchmark(bench, "O0", target, tc)
    if not res.ok:
        reason = f"O0 build fails: {res.describe()}"
        seconds = 0.0
    else:
        with get_runner(None, target, "wall") as runner:
            job = job_for(bench, res.artifact.binary, target, None, bench.timeout * runner.timeout_factor)
            (run,) = runner.run(job, 1)
        seconds = run.seconds
        if run.timed_out:
            reason = f"O0 run does not finish within {job.timeout:.0f}s"
        elif not run.ok:
            reason = f"O0 run fails ({run.describe()})"
        elif b"checksum" not in (run.stdout or b""):
            reason = "O0 run prints no checksum"
        else:
            reason = ""
    verdicts[key] = {"reason": reason, "seconds": round(seconds, 3), "target": target}
    tmp = verdict_path.with_name(CHECK_FILE + f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(verdicts, indent=1))
    tmp.replace(verdict_path)
    return reason


def _read_verdicts(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


class CsmithSuite(Suite):
    """``n`` csmith programs from seeds ``seed..seed+n-1`` (see the module docstring).

    ``check=True`` runs :func:`check_program` on unchecked programs when listing;
    ``target`` is the target of that check.
    """

    name = SUITE_NAME

    def __init__(self, n: int = DEFAULT_N, seed: int = DEFAULT_SEED, *, options: tuple[str, ...] = DEFAULT_OPTIONS,
                 check: bool = False, target: str = "aarch64"):
        if n < 1:
            raise BenchmarkError(f"csmith suite needs n >= 1 (got {n})")
        if seed < 0:
            raise BenchmarkError(f"csmith seeds are non-negative (got {seed})")
        self.n, self.seed, self.options = int(n), int(seed), tuple(options)
        self.check, self.target = check, target
        self._cache: list[Benchmark] | None = None

    @property
    def seeds(self) -> range:
        return range(self.seed, self.seed + self.n)

    def directory(self) -> Path:
        """Where this csmith version + options writes its programs."""
        csmith = find_csmith()
        key = hashlib.sha256(f"{csmith_version(csmith)}|{' '.join(self.options)}".encode()).hexdigest()[:12]
        return cache_dir("csmith", key)

    def list(self) -> list[Benchmark]:
        if self._cache is None:
            csmith = find_csmith()
            include = find_include(csmith)
            base = self.directory()
            out = []
            for s in self.seeds:
                d = base / f"csmith-{s}"
                src = d / f"csmith-{s}.c"
                if not src.is_file():
                    d.mkdir(parents=True, exist_ok=True)
                    generate(csmith, s, src, self.options)
                b = Benchmark(
                    suite=SUITE_NAME,
                    name=f"csmith-{s}",
                    root=d,
                    sources=(src.name,),
                    cflags=(f"-I{include}", "-w"),
                    ldflags=(),
                    timeout=RUN_TIMEOUT,
                    description=f"csmith --seed {s} {' '.join(self.options)}",
                )
                reason = check_program(b, self.target) if self.check else self._stored_reason(b)
                if reason:
                    b = Benchmark(**{**b.__dict__, "status": "unsupported", "reason": reason})
                out.append(b)
            self._cache = out
        return list(self._cache)

    def _stored_reason(self, bench: Benchmark) -> str:
        """A failed verdict from any earlier check (one that passed leaves no reason)."""
        for v in _read_verdicts(bench.root / CHECK_FILE).values():
            if v.get("target") == self.target and v.get("reason"):
                return v["reason"]
        return ""

    def get(self, name: str) -> Benchmark:
        if name.startswith("csmith-") and name[7:].isdigit():
            s = int(name[7:])
            if s not in self.seeds:  # any seed is addressable: csmith/csmith-1234
                return CsmithSuite(1, s, options=self.options, check=self.check, target=self.target).list()[0]
        try:
            return super().get(name)
        except UnknownBenchmark:
            raise UnknownBenchmark(f"unknown benchmark 'csmith/{name}' (csmith programs are named csmith-<seed>)") from None
