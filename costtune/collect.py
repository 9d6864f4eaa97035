"""Collect measured candidates into the records database (``costtune collect``).

For each program the job list is the reference builds (O0..O3) and ``samples``
candidates from a space: ``flat`` (random safe pass sequences, 20-60 passes) or
``o3-edits`` (the candidates ``costtune search`` scores: O3 with 1-8 uniform
edits - insert, delete, replace or swap a pass - see
:mod:`costtune.search.space`). Sample ``i`` of program ``p`` is drawn from a
generator seeded by ``(seed, p, i)`` (and the space) alone, so a seed always
names the same jobs, whatever ``samples`` is and however the work is split.

With ``profile`` (the default for ``insns`` on aarch64) the counting run also
reports its executed blocks, so every record keeps its per-function instruction
counts in ``detail["functions"]`` (summing to the total) and a hash of each of the
program's own functions' normalised assembly (``detail["function_hashes"]``: equal
hash, same code), and the O0 and O3
references keep their blocks in ``detail["blocks"]`` - one qemu run, not two.

Each job is claimed in the database, compiled, measured and written - record and
claim release in one transaction - by one of ``jobs`` worker processes. Jobs
already in the database are skipped, so ``kill -9`` loses at most the jobs in
flight and a rerun finishes the set; several ``collect`` processes (on several
hosts, against PostgreSQL) share one job list without doing a job twice. A
binary measured before (same hash, target, metric, repeat, runner) is not run
again: its record is written with ``reused_from`` set. A candidate that fails to
compile, crashes, hangs or prints the wrong output is recorded with that status
and the batch goes on; a broken runner or toolchain stops the run with an error.
"""

from __future__ import annotations

import multiprocessing
import random
import socket
import sys
import time
from dataclasses import dataclass, field

from costtune import errors
from costtune.benchmarks import Benchmark, get_suite, program_dir_of
from costtune.cache import cap_compile
from costtune.errors import ConfigError, CostTuneError, MeasurementError, UnknownBenchmark
from costtune.logging import get_logger
from costtune.records import CLAIMED, DEFAULT_CLAIM_TTL, DONE, Record, RecordStore, job_key, utcnow

log = get_logger(__name__)

REFERENCES = ("O0", "O1", "O2", "O3")
SPACES = ("flat", "o3-edits")
#: references whose block profiles are kept whole (the rest keep per-function counts)
PROFILED_REFERENCES = ("O0", "O3")
#: consecutive jobs whose measurement could not be taken before the run stops
MAX_CONSECUTIVE_ERRORS = 5
#: the shortest run timeout (seconds) derived from the O0 reference's run time
MIN_RUN_TIMEOUT = 10.0


@dataclass
class CollectConfig:
    suite: str = "builtin"
    benchmarks: list[str] = field(default_factory=list)  #: names in the suite; empty = every supported one
    samples: int = 10  #: random pipelines per program (besides the references)
    db: str = "records.db"  #: records database: a path, sqlite:///PATH or postgresql://...
    seed: int = 0
    jobs: int = 1  #: worker processes
    target: str = "aarch64"
    metric: str = "insns"  #: insns | wall | cycles[:CORE] (recorded as cycles:CORE)
    cpu: str | None = None  #: cycles: the core (default cortex-a57)
    runner: str | None = None  #: qemu | local | ssh://user@host; None: the default for target and metric
    repeat: int | None = None  #: the benchmark's repeat knob; None: the benchmark's default
    space: str = "flat"  #: flat | o3-edits: where the samples come from
    min_len: int = 20  #: random pipeline length range (catalog names, flat space)
    max_len: int = 60
    max_edits: int = 8  #: o3-edits: edits per candidate are drawn from 1..max_edits, fewer more often
    profile: bool | None = None  #: per-function counts; None: on for insns on aarch64
    references: tuple[str, ...] = REFERENCES
    llvm: int | None = None
    cbench_root: str | None = None
    testsuite_root: str | None = None
    claim_ttl: float = DEFAULT_CLAIM_TTL
    check: bool = True  #: compare outputs with the O0 reference
    #: a run may take this many times the O0 reference run (at least MIN_RUN_TIMEOUT
    #: seconds) before it counts as a hang; 0: the runner's default (bench.timeout x factor)
    timeout_factor: float = 10.0
    dedupe: bool = True  #: reuse the measurement of an identical binary
    progress: bool = False  #: a tqdm bar on stderr
    cache_max_gb: float = 20.0  #: compile cache cap (0: no cap), checked every few minutes

    def __post_init__(self):
        if self.samples < 0:
            raise ConfigError("--samples must be >= 0")
        if self.cache_max_gb < 0:
            raise ConfigError("--cache-max-gb must be >= 0 (0: no cap)")
        if self.jobs < 1:
            raise ConfigError("--jobs must be >= 1")
        if not 1 <= self.min_len <= self.max_len:
            raise ConfigError("need 1 <= --min-len <= --max-len")
        if self.repeat is not None and self.repeat < 1:
            raise ConfigError("--repeat must be >= 1")
        if self.timeout_factor < 0:
            raise ConfigError("--timeout-factor must be >= 0")
        self.references = tuple(self.references)
        if self.space not in SPACES:
            raise ConfigError(f"unknown --space '{self.space}' (choose from {', '.join(SPACES)})")
        if self.max_edits < 1:
            raise ConfigError("--max-edits must be >= 1")
        from costtune.measure.cycles import metric_name

        self.metric = metric_name(self.metric, self.cpu)
        if self.profile is None:
            self.profile = self.metric == "insns" and self.target == "aarch64"
        elif self.profile and not (self.metric == "insns" and self.target == "aarch64"):
            raise ConfigError("per-function profiles need --metric insns and --target aarch64")


@dataclass(frozen=True)
class Job:
    key: str
    benchmark: str
    label: str  #: O0..O3 or rand<i>
    spec: str  #: what compile_benchmark gets
    pipeline: str  #: canonical new-PM text
    pass_seq: tuple[str, ...] | None
    repeat: int
    seed: int | None = None
    sample_index: int | None = None


@dataclass
class Outcome:
    key: str
    benchmark: str
    label: str
    result: str  #: measured | reused | done | held (by another worker) | error | broken (no reference) | fatal
    status: str = ""  #: the record's status when one was written
    value: float | None = None
    seconds: float = 0.0
    message: str = ""
    error_class: str = ""


@dataclass
class CollectSummary:
    db: str
    jobs: int = 0  #: planned
    already_done: int = 0  #: in the database before this run
    measured: int = 0  #: built and run by this run
    reused: int = 0  #: written from an identical binary's earlier measurement
    done_elsewhere: int = 0  #: finished by another worker meanwhile
    held_elsewhere: int = 0  #: claimed by another live worker when this run reached them
    errors: int = 0  #: measurement could not be taken (nothing written)
    skipped: int = 0  #: jobs of programs whose O0 reference fails: nothing to check them against
    remaining: int = 0  #: planned jobs with no record at the end
    unplanned: int = 0  #: records of the same programs, seed and setting that this plan lacks
    by_status: dict[str, int] = field(default_factory=dict)
    per_benchmark: dict[str, dict[str, int]] = field(default_factory=dict)
    error_messages: list[str] = field(default_factory=list)
    workers: int = 1
    seconds: float = 0.0
    job_seconds: float = 0.0  #: summed worker time of the jobs this run wrote

    @property
    def written(self) -> int:
        return self.measured + self.reused

    @property
    def per_minute_per_core(self) -> float:
        return self.written / self.seconds * 60 / self.workers if self.seconds else 0.0

    def to_dict(self) -> dict:
        d = dict(self.__dict__)
        d["written"] = self.written
        d["per_minute_per_core"] = round(self.per_minute_per_core, 3)
        return d


# -- planning ------------------------------------------------------------------------------

def resolve_benchmarks(config: CollectConfig) -> list[Benchmark]:
    suite = get_suite(config.suite, cbench_root=config.cbench_root, testsuite_root=config.testsuite_root)
    if not config.benchmarks:
        benches = [b for b in suite.list() if b.status == "ok"]
        if not benches:
            raise UnknownBenchmark(f"suite '{config.suite}' has no supported programs")
        return benches
    out = []
    for name in config.benchmarks:
        prefix = f"{suite.name}/"
        b = suite.get(name[len(prefix):] if name.startswith(prefix) else name)
        if b.status != "ok":
            raise UnknownBenchmark(f"benchmark {b.id} is not supported here: {b.reason}")
        out.append(b)
    return out


def sample_pipeline(seed: int, bench_id: str, index: int, catalog, min_len: int, max_len: int) -> list[str]:
    """The pass names of random sample ``index`` of ``bench_id`` for ``seed``."""
    from costtune.passes import random_pipeline

    rng = random.Random(f"costtune-collect:{seed}:{bench_id}:{index}")
    return list(random_pipeline(rng, catalog, rng.randint(min_len, max_len)))


def sample_edits(seed: int, bench_id: str, index: int, space, max_edits: int) -> dict:
    """The o3-edits parameters of sample ``index`` of ``bench_id`` for ``seed``.

    The number of edits is uniform in 1..max_edits: TPE's first draws in the
    search's space fill each of its 8 slots with a non-empty edit 4 times in 5
    (6.4 edits on average), its neighbours and crossovers are 1-2 edits from the
    best candidates; and a single edit of O3 often gives O3's binary back."""
    rng = random.Random(f"costtune-collect:o3-edits:{seed}:{bench_id}:{index}")
    return space.random_params(rng, rng.randint(1, max_edits))


def plan_jobs(config: CollectConfig, benches: list[Benchmark], llvm: int, opt: str | None = None) -> list[Job]:
    """The full job list, references first for each program."""
    from costtune.passes import load_catalog, render, resolve_pipeline

    catalog = load_catalog(llvm) if config.samples else None
    space = None
    if config.samples and config.space == "o3-edits":
        from costtune.search.space import make_space
        from costtune.toolchain import find

        space = make_space("o3-edits", catalog, opt or find(llvm).opt, slots=config.max_edits)
    runner = runner_spec(config)
    jobs = []
    for b in benches:
        repeat = b.repeat if config.repeat is None else config.repeat
        common = dict(benchmark=b.id, target=config.target, metric=config.metric, repeat=repeat,
                      runner=runner, llvm=llvm)
        for preset in config.references:
            text = resolve_pipeline(preset, llvm)
            jobs.append(Job(job_key(kind="reference", preset=preset, **common), b.id, preset, preset,
                            text, None, repeat))
        for i in range(config.samples):
            if space is not None:
                params = sample_edits(config.seed, b.id, i, space, config.max_edits)
                text = space.pipeline(params)
                spec = "O3" if text == "O3" else text
                jobs.append(Job(job_key(kind="o3-edits", seed=config.seed, index=i, pipeline=text, **common),
                                b.id, f"edit{i}", spec, resolve_pipeline(spec, llvm) if text == "O3" else text,
                                None, repeat, config.seed, i))
                continue
            names = sample_pipeline(config.seed, b.id, i, catalog, config.min_len, config.max_len)
            text = render(names, catalog)
            jobs.append(Job(job_key(kind="random", seed=config.seed, index=i, pipeline=text, **common),
                            b.id, f"rand{i}", text, text, tuple(names), repeat, config.seed, i))
    return jobs


def runner_spec(config: CollectConfig) -> str:
    from costtune.measure import default_runner_name

    return config.runner or default_runner_name(config.target, config.metric)


# -- one job (runs in a worker process) ----------------------------------------------------

class _Worker:
    """Per-process state: the store, toolchain, runner and benchmarks."""

    def __init__(self, config: CollectConfig, benches: list[Benchmark]):
        from costtune.measure import get_runner
        from costtune.toolchain import find

        self.config = config
        self.benches = {b.id: b for b in benches}
        self.toolchain = find(config.llvm)
        self.runner_name = runner_spec(config)
        self.runner = get_runner(self.runner_name, config.target, config.metric)
        self.store = RecordStore(config.db, claim_ttl=config.claim_ttl)
        self.host = socket.gethostname()
        self._source_hash: dict[str, str] = {}
        self._refs: dict[tuple[str, int], tuple[object, float | None]] = {}

    def close(self) -> None:
        try:
            self.store.release_all()
        finally:
            self.store.close()
            self.runner.close()

    def run(self, job: Job) -> Outcome:
        t0 = time.perf_counter()
        out = Outcome(job.key, job.benchmark, job.label, "error")
        try:
            state = self.store.claim(job.key)
            if state != CLAIMED:
                out.result = "done" if state == DONE else "held"
                return out
            try:
                record = self._build_and_measure(job, out)
                if record is None:
                    self.store.release(job.key)
                elif self.store.complete(record) is None:
                    out.result = "done"  # another worker recorded it meanwhile
                else:
                    out.status, out.value = record.status, record.value
            except BaseException:
                self.store.release(job.key)
                raise
        except CostTuneError as e:
            out.result, out.error_class, out.message = "fatal", type(e).__name__, str(e)
        out.seconds = time.perf_counter() - t0
        return out

    def _reference(self, bench: Benchmark, repeat: int):
        """(O0 reference, run timeout) for ``bench``; raises BenchmarkError when O0 is broken.

        The benchmark's own timeout was set for its default repeat; with a smaller
        repeat a hanging candidate would hold a worker for that long, so the limit
        follows the O0 build's measured run time instead.
        """
        from costtune.measure import reference_output

        key = (bench.id, repeat)
        if key not in self._refs:
            ref = reference_output(bench, self.config.target, repeat, toolchain=self.toolchain)
            limit = None
            if self.config.timeout_factor:
                limit = max(MIN_RUN_TIMEOUT, self.config.timeout_factor * ref.seconds)
                limit = min(limit, bench.timeout * self.runner.timeout_factor)
            self._refs[key] = (ref, limit)
        return self._refs[key]

    def _build_and_measure(self, job: Job, out: Outcome) -> Record | None:
        from costtune.compile import compile_benchmark
        from costtune.measure import measure

        cfg, tc = self.config, self.toolchain
        bench = self.benches[job.benchmark]
        if bench.id not in self._source_hash:
            self._source_hash[bench.id] = bench.source_hash()
        started = utcnow()
        t0 = time.perf_counter()
        cr = compile_benchmark(bench, job.spec, cfg.target, tc)
        compile_s = time.perf_counter() - t0
        rec = Record(
            job_key=job.key, benchmark=bench.id, suite=bench.suite, target=cfg.target, label=job.label,
            pipeline=job.pipeline, pass_seq=list(job.pass_seq) if job.pass_seq is not None else None,
            metric=cfg.metric, status="compile_error", toolchain=dict(tc.versions),
            toolchain_fingerprint=tc.fingerprint, source_hash=self._source_hash[bench.id],
            runner=self.runner_name, host=self.host, repeat=job.repeat, seed=job.seed,
            sample_index=job.sample_index, started_at=started,
            detail={"compile_seconds": round(compile_s, 4)})
        if program_dir_of(bench):  # a directory suite: dataset and eval find it from anywhere
            rec.detail["program_dir"] = program_dir_of(bench)
        if not cr.ok:
            rec.stderr_tail = cr.stderr_tail[-2000:]
            rec.detail.update(step=cr.step, compile_status=cr.status)
            out.result = "measured"
            rec.finished_at = utcnow()
            return rec
        art = cr.artifact
        rec.ir_hash, rec.text_hash, rec.binary_hash = art.ir_hash, art.text_hash, art.binary_hash
        prev = None
        if cfg.dedupe:
            prev = self.store.lookup_binary(art.binary_hash, target=cfg.target, metric=cfg.metric,
                                            repeat=job.repeat, runner=self.runner_name,
                                            host=self.host if cfg.metric == "wall" else None)
        if prev is not None and cfg.profile and job.label in PROFILED_REFERENCES and "blocks" not in prev.detail:
            prev = None  # a profiled reference keeps its own blocks
        if prev is not None:
            rec.status, rec.value, rec.values = prev.status, prev.value, list(prev.values)
            rec.ci_halfwidth, rec.n, rec.stdout_hash = prev.ci_halfwidth, prev.n, prev.stdout_hash
            rec.stderr_tail, rec.host, rec.reused_from = prev.stderr_tail, prev.host, prev.id
            for key in ("functions", "function_hashes", "blocks"):
                if key in prev.detail and (key != "blocks" or job.label in PROFILED_REFERENCES):
                    rec.detail[key] = prev.detail[key]
            out.result = "reused"
        else:
            try:
                ref, limit = self._reference(bench, job.repeat)
            except errors.BenchmarkError as e:
                if job.label == "O0":  # the reference build itself: its failure is its result
                    return self._failed_reference(job, art, bench, rec, out, str(e))
                out.message = f"{bench.id}: no reference output: {e}"
                out.result = "broken"  # the benchmark, not the measurement, is at fault
                return None
            m = measure(art, bench, metric=cfg.metric, runner=self.runner, repeat=job.repeat,
                        check=cfg.check, timeout=limit, reference=ref if cfg.check else None,
                        toolchain=tc, profile=bool(cfg.profile))
            rec.detail["run_timeout"] = limit
            if m.status == "error":
                out.message = f"{bench.id} {job.label}: {m.detail}"
                return None
            rec.status, rec.value, rec.values = m.status, m.value, list(m.values)
            rec.ci_halfwidth, rec.n, rec.stdout_hash = m.ci_halfwidth, m.n, m.stdout_hash
            rec.stderr_tail, rec.host = m.stderr_tail, m.host or self.host
            rec.detail.update(measure_seconds=m.seconds, measure_detail=m.detail)
            if m.functions is not None:
                rec.detail["functions"] = m.functions
                if m.ok:
                    rec.detail["function_hashes"] = function_hashes(art, tc)
                if job.label in PROFILED_REFERENCES:
                    rec.detail["blocks"] = [[a, n, e] for a, n, e in m.blocks or ()]
            out.result = "measured"
        rec.finished_at = utcnow()
        return rec

    def _failed_reference(self, job: Job, art, bench: Benchmark, rec: Record, out: Outcome, why: str) -> Record | None:
        """The record of an O0 build that does not run cleanly: measured without an output check
        (there is nothing to compare with), its crash, timeout or non-zero exit is the result."""
        from costtune.measure import measure

        cfg = self.config
        m = measure(art, bench, metric=cfg.metric, runner=self.runner, repeat=job.repeat, check=False,
                    toolchain=self.toolchain)
        if m.status == "error":
            out.message = f"{bench.id} O0: {m.detail}"
            return None
        rec.status, rec.value, rec.values = m.status, m.value, list(m.values)
        rec.n, rec.stdout_hash, rec.stderr_tail, rec.host = m.n, m.stdout_hash, m.stderr_tail, m.host or self.host
        if m.status == "ok":  # it ran, but not as a reference must (e.g. output that differs between runs)
            rec.status = "wrong_output"
        rec.detail.update(reference_error=why[:500], measure_seconds=m.seconds, measure_detail=m.detail)
        rec.finished_at = utcnow()
        out.result = "measured"
        return rec


def function_hashes(artifact, toolchain) -> dict[str, str]:
    """{function: hash of its normalised assembly} for the program's own functions: two
    candidates with the same hash run the same code in that function."""
    import hashlib

    from costtune.asm import program_functions

    return {name: hashlib.sha256(text.encode()).hexdigest()[:16]
            for name, text in program_functions(artifact, "asm", toolchain).items()}


_WORKER: _Worker | None = None


def _init_worker(config: CollectConfig, benches: list[Benchmark]) -> None:
    """Pool initializer: one worker state per process, closed when the process exits."""
    global _WORKER
    from multiprocessing.util import Finalize

    _WORKER = _Worker(config, benches)
    Finalize(_WORKER, _WORKER.close, exitpriority=10)


def _run_job(job: Job) -> Outcome:
    assert _WORKER is not None
    return _WORKER.run(job)


# -- the driver ----------------------------------------------------------------------------

def collect(config: CollectConfig) -> CollectSummary:
    """Plan, skip what is recorded, build and measure the rest; a summary."""
    from costtune.toolchain import find, get_target

    t0 = time.perf_counter()
    tc = find(config.llvm)  # a missing tool stops here, before any record
    get_target(config.target)
    from costtune.measure.cycles import cycles_metric, is_cycles

    if is_cycles(config.metric):  # an unknown core stops here too
        config.metric = cycles_metric(config.metric, config.target, tc)
    benches = resolve_benchmarks(config)
    jobs = plan_jobs(config, benches, tc.llvm, tc.opt)
    store = RecordStore(config.db, claim_ttl=config.claim_ttl)
    summary = CollectSummary(db=store.url, workers=config.jobs)
    try:
        done = store.job_keys()
        pending = [j for j in jobs if j.key not in done]
        summary.jobs, summary.already_done = len(jobs), len(jobs) - len(pending)
        log.info("collect: %d jobs planned, %d already recorded, %d to run with %d worker(s)",
                 len(jobs), summary.already_done, len(pending), config.jobs)
        if pending:
            _drive(config, benches, pending, summary)
        summary.remaining = len({j.key for j in jobs} - store.job_keys())
        summary.unplanned = _unplanned(store, config, jobs)
        if summary.unplanned:
            log.warning("%d records of seed %d for these programs are not in this plan: the pass "
                        "catalog (or the length range) changed since they were collected",
                        summary.unplanned, config.seed)
    finally:
        store.close()
    summary.seconds = time.perf_counter() - t0
    return summary


def _unplanned(store: RecordStore, config: CollectConfig, jobs: list[Job]) -> int:
    keys = {j.key for j in jobs}
    runner = runner_spec(config)
    n = 0
    for bench in sorted({j.benchmark for j in jobs}):
        for r in store.records(benchmark=bench, metric=config.metric):
            if (r.seed == config.seed and r.sample_index is not None and r.target == config.target
                    and r.runner == runner and r.job_key not in keys
                    and (config.repeat is None or r.repeat == config.repeat)):
                n += 1
    return n


def _drive(config: CollectConfig, benches: list[Benchmark], pending: list[Job], summary: CollectSummary) -> None:
    from tqdm import tqdm

    bar = tqdm(total=len(pending), desc="collect", unit="job", file=sys.stderr, disable=not config.progress,
               dynamic_ncols=True, smoothing=0.1)
    workers = min(config.jobs, len(pending))
    pool = local = None
    try:
        if workers == 1:
            local = _Worker(config, benches)
            run_all = lambda jobs: map(local.run, jobs)  # noqa: E731
        else:
            ctx = multiprocessing.get_context("spawn")
            pool = ctx.Pool(workers, initializer=_init_worker, initargs=(config, benches))
            run_all = lambda jobs: pool.imap_unordered(_run_job, jobs, chunksize=1)  # noqa: E731
        by_key = {j.key: j for j in pending}
        consecutive_errors = 0
        for out in _until_not_held(run_all, pending, by_key, config.claim_ttl):
            if out.result == "fatal":
                cls = getattr(errors, out.error_class, None)
                if not (isinstance(cls, type) and issubclass(cls, CostTuneError)):
                    cls = CostTuneError
                try:
                    err = cls(out.message)
                except TypeError:
                    err = CostTuneError(out.message)
                raise err
            _account(summary, out)
            consecutive_errors = consecutive_errors + 1 if out.result == "error" else 0
            if consecutive_errors >= MAX_CONSECUTIVE_ERRORS:
                raise MeasurementError(f"{consecutive_errors} measurements in a row failed; last: {out.message}")
            bar.set_postfix({k: v for k, v in summary.by_status.items() if v}, refresh=False)
            bar.update(1)
            cap_compile(config.cache_max_gb)
        if pool is not None:
            pool.close()
            pool.join()
            pool = None
    finally:
        bar.close()
        if pool is not None:
            pool.terminate()
            pool.join()
        if local is not None:
            local.close()


#: how often jobs held by other workers are tried again once the rest is done
HELD_POLL_S = 2.0


def _until_not_held(run_all, jobs: list[Job], by_key: dict, claim_ttl: float):
    """Outcomes of ``jobs``; a job another worker holds is tried again once the rest is done,
    until that worker has recorded it or its claim went stale (dead worker: taken over here) -
    for at most ``claim_ttl`` (+ a minute) of waiting, after which it is reported held."""
    deadline = None
    while jobs:
        held = []
        for out in run_all(jobs):
            if out.result == "held" and (deadline is None or time.monotonic() < deadline):
                held.append(by_key[out.key])
                continue
            yield out
        if held:
            deadline = deadline or time.monotonic() + claim_ttl + 60
            log.info("%d job(s) held by other workers: waiting for them to finish or their claims to go stale",
                     len(held))
            time.sleep(HELD_POLL_S)
        jobs = held


def _account(summary: CollectSummary, out: Outcome) -> None:
    per = summary.per_benchmark.setdefault(out.benchmark, {})
    if out.result in ("measured", "reused"):
        setattr(summary, out.result, getattr(summary, out.result) + 1)
        summary.by_status[out.status] = summary.by_status.get(out.status, 0) + 1
        per[out.status] = per.get(out.status, 0) + 1
        summary.job_seconds += out.seconds
    elif out.result == "done":
        summary.done_elsewhere += 1
    elif out.result == "held":
        summary.held_elsewhere += 1
    elif out.result == "broken":  # its program's O0 reference fails (recorded as the O0 job's result)
        summary.skipped += 1
        per["skipped"] = per.get("skipped", 0) + 1
        if len(summary.error_messages) < 20 and out.message not in summary.error_messages:
            summary.error_messages.append(out.message)
    elif out.result == "error":
        summary.errors += 1
        per["error"] = per.get("error", 0) + 1
        if len(summary.error_messages) < 20:
            summary.error_messages.append(out.message)
        log.warning("measurement failed: %s", out.message)
