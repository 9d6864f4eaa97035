"""Runners that execute on this machine: ``local`` (native host binaries) and
``qemu`` (qemu-user emulation, with the counting plugin for ``insns``)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from costtune import process
from costtune.errors import MeasurementError
from costtune.logging import get_logger
from costtune.measure._base import RUN_BASENAME, Runner, RunJob, RunResult, collect_outputs, make_run_dir
from costtune.measure.plugin import build_plugin, parse_report

log = get_logger(__name__)

#: qemu-user binaries by the target an artifact was built for
QEMU_BY_TARGET = {"aarch64": "qemu-aarch64", "host": "qemu-x86_64"}
#: emulation is ~5x slower than native; O0 builds slower still (COSTTUNE_QEMU_TIMEOUT_FACTOR)
DEFAULT_QEMU_TIMEOUT_FACTOR = 10.0


def pin_cpu() -> int | None:
    """The CPU timed runs are pinned to: COSTTUNE_PIN_CPU, else the highest allowed one.

    ``COSTTUNE_PIN_CPU=none`` disables pinning.
    """
    env = os.environ.get("COSTTUNE_PIN_CPU", "")
    if env.lower() == "none" or not hasattr(os, "sched_getaffinity"):
        return None
    if env:
        try:
            return int(env)
        except ValueError:
            raise MeasurementError(f"COSTTUNE_PIN_CPU={env!r} is not a CPU number or 'none'") from None
    return max(os.sched_getaffinity(0))


class _Pinned:
    """Pin the *calling thread* (and so the children it starts) to one CPU."""

    def __init__(self, cpu: int | None):
        self.cpu = cpu
        self.saved = None

    def __enter__(self):
        if self.cpu is not None:
            self.saved = os.sched_getaffinity(0)
            try:
                os.sched_setaffinity(0, {self.cpu})
            except OSError as e:
                raise MeasurementError(f"cannot pin to CPU {self.cpu}: {e.strerror}") from None
        return self

    def __exit__(self, *exc):
        if self.saved is not None:
            os.sched_setaffinity(0, self.saved)


class _HereRunner(Runner):
    """Shared logic: fresh run directory, minimal env, timing with the process gateway."""

    def __init__(self, pin: bool = True, workdir: str | os.PathLike | None = None):
        self.cpu = pin_cpu() if pin else None
        self.workdir = Path(workdir) if workdir else None

    def _prefix(self, job: RunJob, log_file: Path | None, blocks: bool) -> list[str]:
        return []

    def run(self, job: RunJob, n: int = 1, *, count_insns: bool = False, blocks: bool = False) -> list[RunResult]:
        if (count_insns or blocks) and not self.supports("insns"):
            raise MeasurementError(f"the {self.name} runner cannot count instructions (use runner 'qemu')")
        results = []
        for i in range(n):
            run_dir = make_run_dir(job, self.workdir)
            try:
                log_file = run_dir.parent / f"{run_dir.name}.qemu.log" if (count_insns or blocks) else None
                argv = [*self._prefix(job, log_file, blocks), f"./{RUN_BASENAME}", *job.args]
                stdin = job.stdin.read_bytes() if job.stdin is not None else None
                with _Pinned(self.cpu):
                    res = process.run(argv, timeout=job.timeout, cwd=run_dir, env=job.env, stdin=stdin,
                                      merge_stderr=job.merge_stderr)
                tail = (res.stdout[-1000:].decode("utf-8", "replace") if job.merge_stderr
                        else res.stderr_tail(1000))
                r = RunResult(res.returncode, res.timed_out, res.seconds, stderr_tail=tail)
                if i == 0:
                    r.stdout = res.stdout
                    r.stderr = res.stderr
                    r.outputs = collect_outputs(run_dir, job.outputs)
                if log_file is not None:
                    rep = parse_report(log_file.read_text(errors="replace")) if log_file.exists() else None
                    if rep is not None:
                        r.insns, r.blocks = rep.insns, rep.blocks
                    log_file.unlink(missing_ok=True)
                results.append(r)
            finally:
                shutil.rmtree(run_dir, ignore_errors=True)
        return results


class LocalRunner(_HereRunner):
    """Native execution of host binaries, pinned to one CPU; metric ``wall``."""

    name = "local"
    metrics = ("wall",)

    def run(self, job, n=1, *, count_insns=False, blocks=False):
        if job.target != "host":
            raise MeasurementError(f"the local runner runs host binaries; this one is built for {job.target} "
                                   "(use runner 'qemu')")
        return super().run(job, n, count_insns=count_insns, blocks=blocks)


class QemuRunner(_HereRunner):
    """qemu-user emulation: ``qemu-aarch64`` for aarch64 binaries, ``qemu-x86_64`` for host ones.

    ``insns`` counts guest instructions with the plugin (exact and repeatable;
    for host binaries it counts x86-64 instructions including the dynamic
    loader). ``wall`` under emulation is noisy (4-11% spread): prefer ``insns``
    or a native/ssh runner for time.
    """

    name = "qemu"
    metrics = ("insns", "wall")

    def __init__(self, qemu: dict[str, str | os.PathLike] | None = None, timeout_factor: float | None = None,
                 pin: bool = True, workdir=None):
        super().__init__(pin=pin, workdir=workdir)
        self._qemu = {k: Path(v) for k, v in (qemu or {}).items()}
        if timeout_factor is None:
            try:
                timeout_factor = float(os.environ.get("COSTTUNE_QEMU_TIMEOUT_FACTOR", DEFAULT_QEMU_TIMEOUT_FACTOR))
            except ValueError:
                raise MeasurementError("COSTTUNE_QEMU_TIMEOUT_FACTOR must be a number") from None
        self.timeout_factor = timeout_factor

    def qemu_for(self, target: str) -> Path:
        if target in self._qemu:
            return self._qemu[target]
        exe = QEMU_BY_TARGET.get(target)
        if exe is None:
            raise MeasurementError(f"no qemu for target '{target}'")
        found = shutil.which(exe)
        if not found:
            raise MeasurementError(f"{exe} not found (apt-get install qemu-user)")
        self._qemu[target] = Path(found)
        return self._qemu[target]

    def _prefix(self, job, log_file, blocks):
        argv = [os.fspath(self.qemu_for(job.target))]
        if log_file is not None:
            plugin = os.fspath(build_plugin())
            argv += ["-plugin", f"{plugin},blocks={'on' if blocks else 'off'}", "-d", "plugin", "-D",
                     os.fspath(log_file)]
        return argv
