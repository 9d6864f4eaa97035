"""measure(): run a built candidate, check its output, and report a metric.

Metrics:

* ``insns`` - the exact dynamic instruction count of the guest under qemu with
  the counting plugin (AArch64 for aarch64 builds; x86-64 under qemu-x86_64,
  dynamic loader included, for host builds). One run; repeatable to the
  instruction with the fixed environment the runners provide.
* ``cycles`` (``cycles:CORE``, ``--cpu CORE``; default core cortex-a57) - estimated
  cycles: the blocks of the counting run, each weighted by its llvm-mca cost on
  CORE (see :mod:`costtune.measure.cycles`). Deterministic like ``insns``.
* ``wall`` - seconds per run: one warm-up run (which is also the checked run),
  then timed runs until the 95% confidence half-width of the mean falls below
  ``rel_ci`` of the mean, or ``max_runs`` runs, or ``budget_s`` seconds. The
  value is the median. Native (``local``, ``ssh``) timings are pinned and
  usable; timings under qemu are noisy (4-11% spread) - prefer ``insns`` there.

A failing candidate is a result, never an exception: ``status`` is ``ok``,
``crash`` (signal or non-zero exit), ``timeout``, ``wrong_output`` (stdout or an
output file differs from the O0 reference) or ``error`` (the measurement could
not be taken for this candidate, e.g. a broken reference). Only misuse and a
broken runner (qemu/cc missing, ssh host unreachable) raise
:class:`~costtune.errors.MeasurementError`.
"""

from __future__ import annotations

import signal
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from costtune.errors import BenchmarkError, ConfigError, MeasurementError
from costtune.logging import get_logger
from costtune.measure._base import Runner, RunResult, sha256
from costtune.measure.cycles import cycles_metric, estimate as estimate_cycles, is_cycles, metric_name
from costtune.measure.reference import Reference, job_for, reference_output
from costtune.measure.registry import get_runner
from costtune.measure.stats import ci_halfwidth, converged

log = get_logger(__name__)

METRICS = ("insns", "wall", "cycles")
STATUSES = ("ok", "crash", "timeout", "wrong_output", "error")


@dataclass
class WallConfig:
    """How long ``wall`` keeps repeating."""

    min_runs: int = 3  #: timed runs before the stopping rule is consulted
    max_runs: int = 30  #: never more timed runs than this
    rel_ci: float = 0.01  #: stop when the 95% CI half-width < rel_ci x mean
    budget_s: float = 60.0  #: stop starting new runs after this many seconds of timed runs
    warmup: int = 1  #: untimed runs first; the first one is the output-checked run

    def __post_init__(self):
        if not 1 <= self.min_runs <= self.max_runs:
            raise MeasurementError("wall config needs 1 <= min_runs <= max_runs")
        if self.warmup < 1:
            raise MeasurementError("wall config needs at least one warm-up (checked) run")
        if self.rel_ci <= 0 or self.budget_s <= 0:
            raise MeasurementError("wall config needs rel_ci > 0 and budget_s > 0")


@dataclass
class Measurement:
    status: str  #: ok | crash | timeout | wrong_output | error
    metric: str
    value: float | None = None  #: instruction count, or median seconds
    values: list[float] = field(default_factory=list)
    ci_halfwidth: float | None = None  #: 95% CI half-width of the mean (wall)
    n: int = 0  #: measured runs behind ``value``
    stdout_hash: str = ""
    stderr_tail: str = ""
    seconds: float = 0.0  #: wall time spent measuring
    runner: str = ""
    host: str = ""
    detail: str = ""
    bench_id: str = ""
    target: str = ""
    repeat: int | None = None
    mean: float | None = None
    #: instructions per function of the same run (``profile=True``), largest first
    functions: dict[str, int] | None = None
    #: executed blocks (vaddr, instructions, executions) of the same run (``profile=True``)
    blocks: list[tuple[int, int, int]] | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        if not self.ok:
            return f"{self.status}: {self.detail}"
        if self.metric == "insns" or is_cycles(self.metric):
            return f"{self.value:.0f} {'insns' if self.metric == 'insns' else self.metric}"
        ci = f" +-{self.ci_halfwidth / self.value * 100:.1f}%" if self.ci_halfwidth and self.value else ""
        return f"{self.value:.6f} s (median of {self.n}{ci})"


def _judge(r: RunResult, ref: Reference | None) -> tuple[str, str]:
    if r.timed_out:
        return "timeout", r.describe()
    if r.signal == signal.SIGKILL:  # the OOM killer or an operator, not the candidate: not a result
        return "error", f"{r.describe()} from outside the program (out of memory?): not the candidate's result"
    if r.returncode != 0 and not (ref is not None and ref.accepts_exit(r)):
        tail = r.stderr_tail.strip().splitlines()[-1:] or [""]
        return "crash", f"{r.describe()} {tail[0][:200]}".rstrip()
    if ref is not None:
        why = ref.compare(r)
        if why:
            return "wrong_output", why
    return "ok", ""


def measure(artifact, bench, metric: str = "insns", runner: str | Runner | None = None,
            repeat: int | None = None, check: bool = True, timeout: float | None = None, *,
            reference: Reference | None = None, wall: WallConfig | None = None, toolchain=None,
            target: str | None = None, profile: bool = False, cpu: str | None = None) -> Measurement:
    """Measure ``artifact`` (an Artifact, or a binary path with ``target=``) running ``bench``.

    ``runner`` None picks qemu for aarch64 (and for ``insns``), local for host
    ``wall``; a string makes a runner that is closed on return; a Runner
    instance stays the caller's. ``timeout`` is seconds for one run on the
    runner (default: bench.timeout x the runner's factor). ``check`` compares
    the output with :func:`reference_output` (or ``reference`` if given).
    ``profile`` (``insns`` on an aarch64 build): the same counting run also reports
    its executed blocks, summed per function into ``functions`` (they add up to
    ``value`` exactly); no second run.
    ``cycles`` (or ``cycles:CORE``; ``cpu`` names the core) takes the same
    counting run and weights its blocks by llvm-mca; ``metric`` is recorded as
    ``cycles:CORE``.
    """
    start = time.perf_counter()
    metric = metric_name(metric, cpu)
    if metric.partition(":")[0] not in METRICS:
        raise MeasurementError(f"unknown metric '{metric}' (choose from {', '.join(METRICS)})")
    counted = "insns" if is_cycles(metric) else metric  # what the runner is asked for
    binary = Path(getattr(artifact, "binary", artifact))
    target = target or getattr(artifact, "target", None) or "aarch64"
    if repeat is not None and repeat < 1:
        raise ConfigError(f"--repeat must be >= 1, not {repeat}")
    rep = bench.repeat if repeat is None else repeat
    if is_cycles(metric):
        metric = cycles_metric(metric, target, toolchain)
    owned = not isinstance(runner, Runner)
    run_with = get_runner(runner, target, counted)
    m = Measurement("error", metric, runner=run_with.spec, host=run_with.host, bench_id=bench.id,
                    target=target, repeat=rep)
    try:
        if not run_with.supports(counted):
            raise MeasurementError(f"the {run_with.name} runner cannot measure '{metric}' "
                                   f"(it supports {', '.join(run_with.metrics)})")
        ref = reference
        if check and ref is None:
            try:
                ref = reference_output(bench, target, rep, toolchain=toolchain)
            except BenchmarkError as e:
                m.detail = str(e)
                return m
        if not binary.is_file():
            m.detail = f"binary {binary} does not exist"
            return m
        limit = timeout if timeout is not None else bench.timeout * run_with.timeout_factor
        job = job_for(bench, binary, target, rep, limit)
        if profile and (counted != "insns" or target != "aarch64"):
            raise MeasurementError("per-function profiles need --metric insns on an aarch64 build")
        if counted == "insns":
            _measure_insns(m, run_with, job, ref, binary if profile else None, toolchain, is_cycles(metric))
            if is_cycles(metric) and m.ok:
                _to_cycles(m, binary, toolchain, keep_blocks=profile)
        else:
            _measure_wall(m, run_with, job, ref, wall or WallConfig())
    finally:
        if owned:
            run_with.close()
        m.seconds = round(time.perf_counter() - start, 4)
    log.info("measured %s on %s: %s", bench.id, m.runner, m.describe())
    return m


def _first(m: Measurement, r: RunResult, ref: Reference | None) -> bool:
    """Record the checked run; True when the candidate passed."""
    m.status, m.detail = _judge(r, ref)
    m.stdout_hash = sha256(r.stdout) or ""
    m.stderr_tail = r.stderr_tail[-1000:]
    return m.status == "ok"


def _measure_insns(m: Measurement, runner: Runner, job, ref, profile_binary: Path | None = None,
                   toolchain=None, blocks: bool = False) -> None:
    blocks = blocks or profile_binary is not None
    (r,) = runner.run(job, 1, count_insns=True, blocks=blocks)
    if not _first(m, r, ref):
        return
    if r.insns is None:
        m.status, m.detail = "error", "the counting plugin reported no instruction count"
        return
    if blocks:
        if r.blocks is None:
            m.status, m.detail = "error", "the counting plugin reported no blocks"
            return
        m.blocks = sorted(r.blocks)
    if profile_binary is not None:
        from costtune.measure.profile import aggregate_by_function, read_symbols

        m.functions = aggregate_by_function(m.blocks, read_symbols(profile_binary, toolchain))
    m.value = float(r.insns)
    m.values = [m.value]
    m.mean = m.value
    m.n = 1


def _to_cycles(m: Measurement, binary: Path, toolchain, keep_blocks: bool) -> None:
    """Replace the counting run's instruction count by its estimated cycles (the count goes to detail)."""
    est = estimate_cycles(binary, m.blocks or [], cpu=m.metric.partition(":")[2], toolchain=toolchain)
    m.value = m.mean = est.cycles
    m.values = [m.value]
    m.detail = est.describe()
    if not keep_blocks:
        m.blocks = m.functions = None


def _measure_wall(m: Measurement, runner: Runner, job, ref, cfg: WallConfig) -> None:
    warm = runner.run(job, cfg.warmup)
    if not _first(m, warm[0], ref):
        return
    for r in warm[1:]:
        if not r.ok:
            m.status, m.detail = _judge(r, None)
            return
    values: list[float] = []
    t0 = time.perf_counter()
    while len(values) < cfg.max_runs:
        want = max(cfg.min_runs - len(values), 1)
        want = min(max(want, runner.batch), cfg.max_runs - len(values))
        for r in runner.run(job, want):
            status, detail = _judge(r, ref if r.stdout is not None else None)
            if status != "ok":  # flaky candidate: a later run failed
                m.status, m.detail = status, f"timed run {len(values) + 1}: {detail}"
                m.values = values
                return
            values.append(r.seconds)
        if converged(values, cfg.rel_ci, cfg.min_runs) or time.perf_counter() - t0 > cfg.budget_s:
            break
    m.values = values
    m.n = len(values)
    m.value = statistics.median(values)
    m.mean = statistics.fmean(values)
    m.ci_halfwidth = ci_halfwidth(values)
    if m.ci_halfwidth is not None and m.mean and m.ci_halfwidth >= cfg.rel_ci * m.mean:
        m.detail = f"CI +-{m.ci_halfwidth / m.mean * 100:.1f}% did not reach {cfg.rel_ci * 100:.1f}%"
