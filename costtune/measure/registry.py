"""Pick a runner from its name: ``qemu``, ``local`` or ``ssh://user@host[:port]``."""

from __future__ import annotations

from costtune.errors import MeasurementError
from costtune.measure._base import Runner

RUNNER_NAMES = ("qemu", "local", "ssh://user@host[:port]")


def default_runner_name(target: str, metric: str = "insns") -> str:
    """qemu for aarch64 binaries (and for instruction counts), local for host wall time."""
    if target == "host" and metric == "wall":
        return "local"
    return "qemu"


def get_runner(spec: str | Runner | None = None, target: str = "aarch64", metric: str = "insns",
               **kwargs) -> Runner:
    """A runner for ``spec``; ``None`` picks the default for ``target`` and ``metric``.

    A :class:`Runner` instance is returned unchanged. ``kwargs`` go to the
    runner's constructor (``options=[...]`` for ssh, ``timeout_factor=`` ...).
    """
    if isinstance(spec, Runner):
        return spec
    spec = spec or default_runner_name(target, metric)
    if spec == "qemu":
        from costtune.measure.local import QemuRunner

        return QemuRunner(**kwargs)
    if spec == "local":
        from costtune.measure.local import LocalRunner

        return LocalRunner(**kwargs)
    if spec.startswith("ssh://"):
        from costtune.measure.ssh import SshRunner

        return SshRunner(spec, **kwargs)
    raise MeasurementError(f"unknown runner '{spec}' (choose from {', '.join(RUNNER_NAMES)})")
