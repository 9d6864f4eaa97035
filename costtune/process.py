"""The only place in costtune that starts subprocesses.

Commands are argv lists (never a shell string), every call has a timeout, the
child runs in its own process group and the whole group is killed when the
timeout fires or the caller is interrupted. Tool failures come back as a
:class:`ProcessResult` value; only misuse (an empty argv, a missing executable
when ``check_exists``) raises.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from costtune.logging import get_logger

log = get_logger("process")

#: The environment binaries under test see: fixed and minimal, so that
#: instruction counts do not move with the caller's environment.
MINIMAL_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C", "LC_ALL": "C"}

DEFAULT_TIMEOUT = 120.0

#: util-linux's setpriv execs the command with a parent-death signal set, so a killed
#: costtune leaves no orphaned tool running. (A preexec_fn calling prctl would do the
#: same but forces a full fork() that runs Python in the child, which crashes in
#: processes with gRPC's fork handlers.) The signal fires when the *thread* that
#: started the child ends; run() always waits on that thread, so that is safe.
_SETPRIV = shutil.which("setpriv")
_PDEATHSIG = [_SETPRIV, "--pdeathsig", "KILL", "--"] if _SETPRIV else []


@dataclass
class ProcessResult:
    argv: list[str]
    returncode: int | None  # None when killed by the timeout
    stdout: bytes
    stderr: bytes
    seconds: float
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    @property
    def signal(self) -> int | None:
        """The signal number that ended the child, if any."""
        if self.returncode is not None and self.returncode < 0:
            return -self.returncode
        return None

    def stderr_tail(self, n: int = 2000) -> str:
        return self.stderr[-n:].decode("utf-8", "replace")

    def describe(self) -> str:
        if self.timed_out:
            return f"timed out after {self.seconds:.1f}s"
        if self.signal:
            try:
                name = signal.Signals(self.signal).name
            except ValueError:
                name = f"signal {self.signal}"
            return f"killed by {name}"
        return f"exit code {self.returncode}"


#: signals that tell of the machine, not of the program a tool was given: SIGBUS (a mapped
#: file on a full disk), SIGKILL (the OOM killer, an operator). A pipeline that crashes opt
#: raises SIGSEGV or SIGABRT - a result of that candidate.
ENVIRONMENT_SIGNALS = (signal.SIGBUS, signal.SIGKILL)
#: what tools print when the disk, not their input, failed them
ENVIRONMENT_MESSAGES = ("No space left on device", "Read-only file system", "Disk quota exceeded", "Bus error",
                        "Cannot allocate memory", "Input/output error")
#: less free space than this where a tool writes makes its failure the machine's
MIN_FREE_BYTES = 16 << 20


def free_bytes(path: str | os.PathLike) -> int | None:
    """Bytes an unprivileged writer may still use on the file system of ``path`` (None: unknown)."""
    try:
        st = os.statvfs(path)
    except OSError:
        return None
    return st.f_bavail * st.f_frsize


def environment_cause(res: "ProcessResult", workdir: str | os.PathLike | None = None) -> str | None:
    """Why a failed tool run is the environment's fault, or None when it may be its input's.

    Checked where it matters: the free space and writability of ``workdir`` (where the
    tool wrote), the signal that ended it, and what it said about the disk.
    """
    if res.ok or res.timed_out:
        return None
    if res.signal in ENVIRONMENT_SIGNALS:
        return f"{os.path.basename(res.argv[0])} was {res.describe()}"
    if workdir is not None:
        free = free_bytes(workdir)
        if free is not None and free < MIN_FREE_BYTES:
            return f"no space left on {workdir} ({free >> 10} KiB free)"
        if os.path.isdir(workdir) and not os.access(workdir, os.W_OK | os.X_OK):
            return f"{workdir} is not writable"
    err = res.stderr_tail(4000)
    for msg in ENVIRONMENT_MESSAGES:
        if msg in err:
            return f"{os.path.basename(res.argv[0])}: {msg}"
    return None


def _with_pdeathsig(argv: list[str]) -> list[str]:
    exe = argv[0]
    found = os.access(exe, os.X_OK) if os.path.sep in exe else shutil.which(exe)
    # a missing program is left to Popen, which reports it as FileNotFoundError
    return _PDEATHSIG + argv if _PDEATHSIG and found else argv


def run(
    argv: Sequence[str | os.PathLike],
    *,
    timeout: float | None = DEFAULT_TIMEOUT,
    cwd: str | os.PathLike | None = None,
    env: Mapping[str, str] | None = None,
    stdin: bytes | None = None,
    stdout_path: Path | None = None,
    merge_stderr: bool = False,
) -> ProcessResult:
    """Run ``argv`` and return its result; never raises for a failing child.

    ``env=None`` inherits the caller's environment; pass :data:`MINIMAL_ENV`
    (or a copy) for a reproducible one. ``stdout_path`` streams stdout to a file
    instead of memory (for large outputs). ``merge_stderr`` sends stderr into
    the same stream as stdout (like ``2>&1``); ``stderr`` is then empty.
    """
    argv = [os.fspath(a) for a in argv]
    if not argv:
        raise ValueError("empty argv")
    log.debug("run: %s%s", shlex.join(argv), f" (cwd={cwd})" if cwd else "")
    start = time.perf_counter()
    out_file = open(stdout_path, "wb") if stdout_path else None
    try:
        try:
            proc = subprocess.Popen(
                _with_pdeathsig(argv),
                cwd=cwd,
                env=dict(env) if env is not None else None,
                stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                stdout=out_file or subprocess.PIPE,
                stderr=subprocess.STDOUT if merge_stderr else subprocess.PIPE,
                start_new_session=True,
            )
        except FileNotFoundError as e:
            return ProcessResult(argv, 127, b"", f"{e}".encode(), time.perf_counter() - start)
        except PermissionError as e:
            return ProcessResult(argv, 126, b"", f"{e}".encode(), time.perf_counter() - start)
        try:
            out, err = proc.communicate(stdin, timeout=timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            out, err = proc.communicate()
            timed_out = True
        except BaseException:
            _kill_group(proc)
            proc.communicate()
            raise
    finally:
        if out_file:
            out_file.close()
    seconds = time.perf_counter() - start
    return ProcessResult(
        argv,
        None if timed_out else proc.returncode,
        out or b"",
        err or b"",
        seconds,
        timed_out,
    )


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` on this host still runs (a zombie does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a killed process whose parent died too may stay a zombie until reaped
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True
