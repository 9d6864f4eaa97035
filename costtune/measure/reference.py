"""Reference outputs: what a correct build of a benchmark prints and writes.

The reference is the O0 build (no optimisation pass can have miscompiled it),
run once on this machine (qemu for aarch64, natively for host). Its stdout, stderr and
output files are stored as hashes plus truncated text in
``<cache>/measure/reference/<key>.json``, keyed by everything that can change
them: the benchmark's sources and flags, rendered args and environment, input
contents, the target and the toolchain fingerprint.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from costtune.cache import cache_dir
from costtune.compile import compile_benchmark
from costtune.errors import BenchmarkError
from costtune.logging import get_logger
from costtune.measure._base import RunJob, RunResult, sha256
from costtune.measure.expected import check_expected
from costtune.measure.registry import get_runner
from costtune.process import MINIMAL_ENV
from costtune.toolchain import find

if TYPE_CHECKING:  # a type only: measure takes benchmarks, it does not list suites
    from costtune.benchmarks._base import Benchmark

log = get_logger(__name__)

VERSION = 2
HEAD_CHARS = 2000  #: how much of stdout / each output file is kept as text
#: the O0 build gets the benchmark's own timeout (x the runner's factor), like any build: a
#: manifest's ``timeout:`` holds (3x more let a ``timeout: 3`` loop run 90 s under qemu)
O0_TIMEOUT_FACTOR = 1.0


@dataclass
class Reference:
    key: str
    bench_id: str
    target: str
    repeat: int
    args: list[str]
    returncode: int
    stdout_hash: str
    stdout_head: str
    stdout_len: int
    outputs: dict[str, str | None] = field(default_factory=dict)  #: name -> sha256 (None: not written)
    output_heads: dict[str, str] = field(default_factory=dict)
    compare_stdout: bool = True
    stderr_hash: str = ""
    stderr_head: str = ""
    stderr_len: int = 0  #: kept even when stderr is not compared (to warn about it)
    compare_stderr: bool = False
    seconds: float = 0.0
    version: int = VERSION
    #: a suite's own expected output (llvm-test-suite): when set, runs are checked against it
    #: (see costtune.measure.expected) instead of against the O0 build's output
    expected_output: str = ""
    append_exit_status: bool = False
    hash_output: bool = False
    fp_tolerance: float = 0.0
    fp_abstolerance: float = 0.0

    def compare(self, result: RunResult) -> str:
        """'' when ``result`` matches, else a one-line reason."""
        if self.expected_output:
            if result.stdout is None:
                return ""
            why = check_expected(result.stdout, result.returncode, Path(self.expected_output),
                                 append_exit=self.append_exit_status, hash_output=self.hash_output,
                                 rel=self.fp_tolerance, abs_=self.fp_abstolerance)
            return f"output differs from the expected output ({why})" if why else ""
        if self.compare_stdout and result.stdout is not None:
            got = sha256(result.stdout)
            if got != self.stdout_hash:
                return f"stdout differs from the reference ({_first_diff(self.stdout_head, result.stdout)})"
        if self.compare_stderr and result.stderr is not None:
            if sha256(result.stderr) != self.stderr_hash:
                return f"stderr differs from the reference ({_first_diff(self.stderr_head, result.stderr)})"
        for name, want in self.outputs.items():
            got = sha256((result.outputs or {}).get(name))
            if got != want:
                return f"output file {name} {'missing' if got is None else 'differs from the reference'}"
        return ""


    def accepts_exit(self, result: RunResult) -> bool:
        """A non-zero exit is part of the expected output (``exit N``) and ``result`` matches it."""
        return (bool(self.expected_output) and self.append_exit_status and result.returncode is not None
                and result.returncode > 0 and result.stdout is not None and not self.compare(result))


def expected_reference(bench: Benchmark, target: str = "aarch64") -> Reference:
    """A reference that checks runs against ``bench.expected_output`` alone (no O0 run)."""
    if bench.expected_output is None:
        raise BenchmarkError(f"{bench.id} has no expected output")
    return Reference(key="", bench_id=bench.id, target=target, repeat=bench.repeat, args=bench.render_args(),
                     returncode=0, stdout_hash="", stdout_head="", stdout_len=0, **_expectation(bench))


def _expectation(bench: Benchmark) -> dict:
    if bench.expected_output is None:
        return {}
    return dict(expected_output=str(bench.expected_output), append_exit_status=bench.append_exit_status,
                hash_output=bench.hash_output, fp_tolerance=bench.fp_tolerance,
                fp_abstolerance=bench.fp_abstolerance)


def _first_diff(head: str, got: bytes) -> str:
    text = got.decode("utf-8", "replace")
    for i, (a, b) in enumerate(zip(head, text)):
        if a != b:
            line = head.count("\n", 0, i) + 1
            return f"first difference at line {line}"
    return f"{len(got)} bytes vs a longer/shorter reference" if len(text) != len(head) else "differs after the kept head"


def job_for(bench: Benchmark, binary: Path, target: str, repeat: int | None, timeout: float) -> RunJob:
    """The run job of ``bench`` (fixed minimal environment, rendered args)."""
    env = dict(MINIMAL_ENV)
    env.update(bench.render_env(repeat))
    return RunJob(binary=binary, args=bench.render_args(repeat), env=env, inputs=list(bench.inputs),
                  outputs=list(bench.outputs), timeout=timeout, target=target, stdin=bench.stdin,
                  merge_stderr=bench.merge_stderr)


def reference_key(bench: Benchmark, target: str, repeat: int | None, fingerprint: str) -> str:
    h = hashlib.sha256()
    env = sorted(bench.render_env(repeat).items())
    for part in (f"reference-v{VERSION}", bench.id, bench.source_hash(), "\0".join(bench.ldflags),
                 "\0".join(bench.render_args(repeat)), json.dumps(env), "\0".join(bench.outputs),
                 target, fingerprint, str(bench.compare_stdout), str(bench.compare_stderr)):
        h.update(part.encode())
        h.update(b"\0")
    for p in bench.inputs:
        h.update(Path(p).name.encode())
        h.update(hashlib.sha256(Path(p).read_bytes()).digest())
    if bench.stdin is not None or bench.expected_output is not None or bench.merge_stderr:
        h.update(json.dumps(_expectation(bench), sort_keys=True).encode() + str(bench.merge_stderr).encode())
        for p in (bench.stdin, bench.expected_output):
            h.update(hashlib.sha256(Path(p).read_bytes()).digest() if p is not None else b"-")
    return h.hexdigest()


def reference_output(bench: Benchmark, target: str = "aarch64", repeat: int | None = None, *,
                     toolchain=None, refresh: bool = False) -> Reference:
    """The cached reference of ``bench`` (built at O0 and run on first use).

    Raises :class:`~costtune.errors.BenchmarkError` when the O0 build does not
    compile or does not run cleanly - the benchmark, not a candidate, is broken.
    That verdict is cached too (``<key>.failed``), so a program whose O0 build
    hangs costs its timeout once; ``refresh=True`` tries again.
    """
    tc = toolchain or find()
    r = bench.repeat if repeat is None else repeat
    key = reference_key(bench, target, r, tc.fingerprint)
    path = cache_dir("measure", "reference") / f"{key}.json"
    if path.is_file() and not refresh:
        try:
            data = json.loads(path.read_text())
            if data.get("version") == VERSION:
                ref = Reference(**data)
                _warn_uncompared_stderr(bench, ref)
                return ref
        except (ValueError, TypeError):
            log.warning("ignoring unreadable reference %s", path)
    failed = path.with_suffix(".failed")
    if failed.is_file() and not refresh:  # a broken benchmark costs its timeout once
        # the key covers sources, inputs, args and toolchain: a changed program is built anew anyway
        raise BenchmarkError(f"{failed.read_text().strip()} (the same program failed before; delete {failed} to retry)")
    try:
        ref, run = _build_reference(bench, target, r, tc, key)
    except BenchmarkError as e:
        failed.write_text(str(e))
        raise
    failed.unlink(missing_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".ref-", dir=path.parent)
    with os.fdopen(fd, "w") as f:
        json.dump(asdict(ref), f, indent=1)
    os.replace(tmp, path)
    log.info("reference for %s (%s, repeat %d): %d bytes of stdout", bench.id, target, r, ref.stdout_len)
    _warn_uncompared_stderr(bench, ref)
    return ref


_warned_stderr: set[str] = set()


def _warn_uncompared_stderr(bench: Benchmark, ref: Reference) -> None:
    """Log once per benchmark when its reference writes to stderr that no check looks at."""
    if ref.stderr_len and not ref.compare_stderr and bench.id not in _warned_stderr:
        _warned_stderr.add(bench.id)
        log.warning("%s writes %d bytes to stderr that are not compared with the reference (a miscompile "
                    "that changes them would pass; bench.yaml 'compare_stderr: true' checks them)",
                    bench.id, ref.stderr_len)


def _build_reference(bench: Benchmark, target: str, r: int, tc, key: str):
    res = compile_benchmark(bench, "O0", target, tc)
    if not res.ok:
        raise BenchmarkError(f"{bench.id}: the O0 reference build fails: {res.describe()}")
    with get_runner(None, target, "wall") as runner:
        timeout = bench.timeout * runner.timeout_factor * O0_TIMEOUT_FACTOR
        (run,) = runner.run(job_for(bench, res.artifact.binary, target, r, timeout), 1)
    expectation = _expectation(bench)
    if expectation and not run.timed_out and run.returncode is not None and run.returncode >= 0:
        why = Reference(key=key, bench_id=bench.id, target=target, repeat=r, args=[], returncode=0,
                        stdout_hash="", stdout_head="", stdout_len=0, **expectation).compare(run)
        if why:
            raise BenchmarkError(f"{bench.id}: the O0 build fails its reference output: {why}")
    elif not run.ok:
        tail = run.stderr_tail.strip().splitlines()[-1:] or [""]
        raise BenchmarkError(f"{bench.id}: the O0 reference run failed on {runner.spec} "
                             f"({run.describe()}) {tail[0][:200]}".rstrip())
    outputs = run.outputs or {}
    ref = Reference(
        key=key, bench_id=bench.id, target=target, repeat=r, args=bench.render_args(r),
        returncode=run.returncode, stdout_hash=sha256(run.stdout or b""),
        stdout_head=(run.stdout or b"")[:HEAD_CHARS].decode("utf-8", "replace"),
        stdout_len=len(run.stdout or b""),
        outputs={k: sha256(v) for k, v in outputs.items()},
        output_heads={k: v[:HEAD_CHARS].decode("utf-8", "replace") for k, v in outputs.items() if v is not None},
        compare_stdout=bench.compare_stdout,
        stderr_hash=sha256(run.stderr or b""),
        stderr_head=(run.stderr or b"")[:HEAD_CHARS].decode("utf-8", "replace"),
        stderr_len=len(run.stderr or b""), compare_stderr=bench.compare_stderr,
        seconds=round(run.seconds, 4), **expectation,
    )
    missing = [k for k, v in ref.outputs.items() if v is None]
    if missing:
        raise BenchmarkError(f"{bench.id}: the O0 reference run did not write {', '.join(missing)}")
    return ref, run
