"""The runner interface: where and how a binary is executed.

A :class:`Runner` executes one prepared :class:`RunJob` ``n`` times and returns one
:class:`RunResult` per run. Contract every implementation keeps:

* **Run discipline.** Every run happens in a fresh, empty directory that holds a
  copy of the binary as ``./prog`` and copies of ``job.inputs`` (basename kept);
  the program is started as ``./prog *job.args`` with that directory as cwd,
  stdin from ``/dev/null`` (or ``job.stdin``) and exactly ``job.env`` as its environment (no
  inherited variables). Equal jobs therefore see equal argv, environment and
  cwd layout, which is what makes instruction counts repeatable.
* **Timing is taken where the program runs** (the remote side for ``ssh``) and
  reported in :attr:`RunResult.seconds`. ``job.timeout`` is the limit for one
  run on this runner (the caller has already applied any emulation factor).
* **Outputs.** The first result of each :meth:`Runner.run` call carries the
  program's whole stdout and stderr and the bytes of every file named in
  ``job.outputs`` (``None`` for a file it did not write); later results may
  leave them ``None`` (every result keeps ``stderr_tail``).
* **Failures of the program are values** (``returncode``, ``timed_out``), never
  exceptions. :class:`~costtune.errors.MeasurementError` is raised only when the
  runner itself cannot work (qemu or the plugin missing, the host unreachable,
  a metric it cannot provide).
* **Ownership.** A runner may keep state (uploaded binaries on a remote host);
  :meth:`close` releases it and is idempotent. Runners are not thread-safe:
  use one per thread.
"""

from __future__ import annotations

import abc
import hashlib
import os
import shutil
import signal as _signal
import socket
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from costtune.errors import MeasurementError


@dataclass
class RunJob:
    """Everything a runner needs for one program run (built by :func:`costtune.measure.measure`)."""

    binary: Path
    args: list[str]
    env: dict[str, str]  #: the complete environment of the program
    inputs: list[Path] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    timeout: float = 120.0  #: seconds for one run on this runner
    target: str = "aarch64"  #: "aarch64" | "host": what the binary was built for
    stdin: Path | None = None  #: file fed to stdin (else /dev/null)
    merge_stderr: bool = False  #: stderr goes into the stdout stream (``2>&1``)

    def __post_init__(self):
        self.binary = Path(self.binary)
        if not self.binary.is_file():
            raise MeasurementError(f"binary {self.binary} does not exist")
        names = [Path(p).name for p in self.inputs]
        if len(set(names)) != len(names):
            raise MeasurementError(f"two inputs share a basename: {sorted(names)}")


@dataclass
class RunResult:
    returncode: int | None  #: None when the run was killed by the timeout
    timed_out: bool
    seconds: float  #: wall time of the run, measured on the runner's side
    stdout: bytes | None = None
    stderr: bytes | None = None  #: the whole stderr (first result of a run call)
    outputs: dict[str, bytes | None] | None = None
    stderr_tail: str = ""
    insns: int | None = None  #: guest instructions (counting runs only)
    blocks: list[tuple[int, int, int]] | None = None  #: (vaddr, n_insns, execs)

    @property
    def signal(self) -> int | None:
        if self.returncode is not None and self.returncode < 0:
            return -self.returncode
        return None

    @property
    def ok(self) -> bool:
        return not self.timed_out and self.returncode == 0

    def describe(self) -> str:
        if self.timed_out:
            return f"timed out after {self.seconds:.1f}s"
        if self.signal:
            try:
                return f"killed by {_signal.Signals(self.signal).name}"
            except ValueError:
                return f"killed by signal {self.signal}"
        return f"exit code {self.returncode}"


class Runner(abc.ABC):
    """Executes binaries (see the module docstring for the contract)."""

    #: short name used in records: "qemu", "local", "ssh"
    name: str = ""
    #: metrics this runner can provide
    metrics: tuple[str, ...] = ("wall",)
    #: how many timed runs one :meth:`run` call should batch (remote runners amortise latency)
    batch: int = 1
    #: multiplier applied to a benchmark's native timeout (emulation is slower)
    timeout_factor: float = 1.0

    @property
    def host(self) -> str:
        """Where the program runs (a host name)."""
        return socket.gethostname()

    @property
    def spec(self) -> str:
        """The runner as a string for records (``qemu``, ``local``, ``ssh://user@host:port``)."""
        return self.name

    def supports(self, metric: str) -> bool:
        return metric in self.metrics

    @abc.abstractmethod
    def run(self, job: RunJob, n: int = 1, *, count_insns: bool = False, blocks: bool = False) -> list[RunResult]:
        """Run ``job`` ``n`` times; ``count_insns``/``blocks`` ask for instruction counts."""

    def close(self) -> None:
        """Release what the runner holds (idempotent)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.spec}>"


# ---- helpers shared by runners that execute on this machine ----

RUN_BASENAME = "prog"


def make_run_dir(job: RunJob, parent: Path | None = None) -> Path:
    """A fresh directory with ``./prog`` and the inputs (see the contract)."""
    d = Path(tempfile.mkdtemp(prefix="costtune-run-", dir=parent))
    prog = d / RUN_BASENAME
    shutil.copyfile(job.binary, prog)
    os.chmod(prog, 0o755)
    for src in job.inputs:
        shutil.copyfile(src, d / Path(src).name)
    return d


def collect_outputs(run_dir: Path, names: list[str]) -> dict[str, bytes | None]:
    out: dict[str, bytes | None] = {}
    for name in names:
        p = run_dir / name
        out[name] = p.read_bytes() if p.is_file() else None
    return out


def sha256(data: bytes | None) -> str | None:
    return None if data is None else hashlib.sha256(data).hexdigest()
