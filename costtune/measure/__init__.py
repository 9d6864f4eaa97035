"""Measuring candidates: runners (qemu, local, ssh), metrics (insns, wall), output checks.

    from costtune.measure import measure, reference_output, get_runner, block_profile
    m = measure(artifact, bench, metric="insns")          # -> Measurement
    m.status, m.value, m.n, m.ci_halfwidth

See :mod:`costtune.measure.core` for the metrics and statuses and
:mod:`costtune.measure._base` for the runner contract.
"""

from costtune.measure._base import Runner, RunJob, RunResult
from costtune.measure.core import METRICS, STATUSES, Measurement, WallConfig, measure
from costtune.measure.local import LocalRunner, QemuRunner
from costtune.measure.plugin import build_plugin
from costtune.measure.profile import BlockProfile, aggregate_by_function, block_profile, read_symbols
from costtune.measure.reference import Reference, reference_output
from costtune.measure.registry import RUNNER_NAMES, default_runner_name, get_runner
from costtune.measure.ssh import SshRunner

__all__ = [
    "measure", "Measurement", "WallConfig", "METRICS", "STATUSES",
    "reference_output", "Reference",
    "get_runner", "default_runner_name", "RUNNER_NAMES", "Runner", "RunJob", "RunResult",
    "QemuRunner", "LocalRunner", "SshRunner",
    "block_profile", "BlockProfile", "aggregate_by_function", "read_symbols",
    "build_plugin",
]
