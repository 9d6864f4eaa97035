"""The search loop: one Optuna study per program, proxy screening, real measurements.

Per program the study ``PREFIX:suite/name:SPACE`` lives in the RDB storage
(SQLite file by default; a PostgreSQL URL lets workers on many hosts share it -
Optuna's distributed mode). A trial: the sampler proposes (``proxy``: TPE draws
``k`` whole candidates, each is compiled and scored by the cost model, the best
is kept), the candidate is compiled (cached by content) and measured for real,
and Optuna is told its value: instructions / O3 instructions (``ratio``) or the
count (``insns``). Failures (compile error, crash, wrong output) are told as
``fail_value``.

Measurements and the budget
    Every measurement is a record in the records database. The job key of a
    measurement is (program, target, metric, repeat, runner, LLVM, binary hash),
    so an identical binary is measured once, however many trials, workers or
    earlier ``collect`` runs produce it: a worker claims the key before running
    it, another worker that reaches the same binary waits for that record, and
    an earlier record of the binary is reused (``lookup_binary``). The budget is
    the number of real measurements this study spent: records labelled
    ``search:<study>`` that reuse nothing. Reused values cost nothing; after
    ``budget x max_trials_factor`` trials the study stops anyway.

Resuming
    Killed runs resume: completed trials and their measurements count. A trial
    left RUNNING by a dead worker on this host (its pid is gone) is failed and
    its parameters enqueued again at once; one from another host is failed by
    Optuna's heartbeat after ``3 x heartbeat`` seconds and retried the same way.

Retraining (``retrain_every``)
    After every M new measurements a background thread rebuilds a ranking set
    from every measured record of the searched programs, retrains the model
    (LoRA, :func:`costtune.model.train`, from the model's own base, tokenizer
    and training settings) and swaps it into the scorer; the search does not wait.
    With ``--server`` the server is told to load the retrained model (``LoadModel``;
    ``costtune serve --allow-load``, on a host that can read OUT and whose model
    directory this host can read - loopback, or shared storage).
"""

from __future__ import annotations

import functools
import json
import math
import os
import socket
import sys
import threading
import time
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path

from costtune.cache import cap_compile
from costtune.process import pid_alive
from costtune.errors import ConfigError, CostTuneError, MeasurementError, RecordStoreError, UnknownBenchmark
from costtune.logging import get_logger
from costtune.search.config import SearchConfig

log = get_logger(__name__)

__all__ = ["run_search", "SearchResult", "ProgramResult", "study_name", "load_storage"]

HOLD_WAIT_S = 0.5  #: poll interval while another worker measures the same binary
HOLD_TIMEOUT_S = 1800.0


@dataclass
class ProgramResult:
    benchmark: str
    study: str
    o3_value: float | None
    best_value: float | None
    best_pipeline: str
    measurements: int  #: real measurements this study spent
    trials: int
    history: list = field(default_factory=list)  #: best-so-far ratio after each real measurement
    seconds: float = 0.0

    @property
    def speedup(self) -> float | None:
        """O3 / best (> 1: better than O3)."""
        if not self.o3_value or not self.best_value:
            return None
        return self.o3_value / self.best_value


@dataclass
class SearchResult:
    programs: list[ProgramResult]
    out: str
    storage: str
    db: str
    sampler: str
    space: str
    model: str = ""
    retrains: int = 0
    seconds: float = 0.0

    @property
    def geomean_speedup(self) -> float | None:
        s = [p.speedup for p in self.programs if p.speedup]
        return math.exp(sum(math.log(x) for x in s) / len(s)) if s else None

    def to_dict(self) -> dict:
        d = asdict(self)
        for p, pd in zip(self.programs, d["programs"]):
            pd["speedup"] = p.speedup
        d["geomean_speedup"] = self.geomean_speedup
        return d


def study_name(config: SearchConfig, bench_id: str) -> str:
    return f"{config.study_prefix}:{bench_id}:{config.space}"


def load_storage(url: str, heartbeat: int | None = None):
    """An Optuna RDBStorage; RecordStoreError-style one-line error when unreachable."""
    import optuna
    import sqlalchemy.exc

    from costtune.records import normalize_url

    try:  # the same URL rules as the records database: a path, sqlite:///, postgresql://
        sa_url = normalize_url(url)
    except RecordStoreError as e:
        raise RecordStoreError(f"cannot open the study storage {url}: {e}") from None
    if sa_url.get_backend_name() == "sqlite":
        Path(sa_url.database).parent.mkdir(parents=True, exist_ok=True)
    url = sa_url.render_as_string(hide_password=False)
    import warnings

    kw = {}
    if heartbeat:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from optuna.storages import RetryHeartbeatStaleTrialCallback

            kw = dict(heartbeat_interval=heartbeat, grace_period=3 * heartbeat,
                      heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=3))
    engine_kwargs = {"connect_args": {"connect_timeout": 10}} if url.startswith("postgresql") else {}
    if url.startswith("sqlite"):
        engine_kwargs = {"connect_args": {"timeout": 60}}
    for attempt in range(3):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs, **kw)
        except (sqlalchemy.exc.ProgrammingError, sqlalchemy.exc.IntegrityError, sqlalchemy.exc.OperationalError) as e:
            # two workers created the schema at once (duplicate table / type; SQLite says
            # OperationalError "already exists"): it exists now, so try again
            if isinstance(e, sqlalchemy.exc.OperationalError) and "already exists" not in str(e):
                err = e
            elif attempt == 2:
                err = e
            else:
                time.sleep(0.5 + attempt)
                continue
        except (sqlalchemy.exc.SQLAlchemyError, OSError, ValueError, ImportError) as e:
            err = e
        e = err
        msg = str(e).strip().splitlines()[0][:240] if str(e).strip() else type(e).__name__
        raise RecordStoreError(f"cannot open the study storage {sa_url.render_as_string(hide_password=True)}: {msg}") from None


def _suggest(trial, dists: dict) -> dict:
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    out = {}
    for name, d in dists.items():
        if isinstance(d, CategoricalDistribution):
            out[name] = trial.suggest_categorical(name, d.choices)
        elif isinstance(d, IntDistribution):
            out[name] = trial.suggest_int(name, d.low, d.high, step=d.step, log=d.log)
        elif isinstance(d, FloatDistribution):
            out[name] = trial.suggest_float(name, d.low, d.high, step=d.step, log=d.log)
        else:
            raise ConfigError(f"unsupported distribution {type(d).__name__} for {name}")
    return out




# ----------------------------------------------------------------------------- measuring

class Evaluator:
    """Compile, dedupe and measure candidates of one program into the records DB."""

    def __init__(self, config: SearchConfig, bench, store, toolchain, runner, runner_name: str, label: str):
        self.config, self.bench, self.store, self.tc = config, bench, store, toolchain
        self.runner, self.runner_name, self.label = runner, runner_name, label
        self.repeat = bench.repeat if config.repeat is None else config.repeat
        self.host = socket.gethostname()
        self._known: set[str] = set()
        self.source_hash = bench.source_hash()
        self.observers: list = []  #: called with the artifact of every candidate that ran correctly
        self.surrogate = None  #: artifact -> predicted value that needs no measurement, or None

    def key(self, binary_hash: str, pipeline: str = "") -> str:
        from costtune.records import job_key

        return job_key(kind="search", benchmark=self.bench.id, target=self.config.target,
                       metric=self.config.metric, repeat=self.repeat, runner=self.runner_name,
                       llvm=self.tc.llvm, binary_hash=binary_hash, pipeline=pipeline if not binary_hash else "")

    def known(self, artifact) -> bool:
        """True when this binary has a reusable measurement already (no new information)."""
        h = artifact.binary_hash
        if h in self._known:
            return True
        if self.store.lookup_binary(h, target=self.config.target, metric=self.config.metric, repeat=self.repeat,
                                    runner=self.runner_name, host=self._host_filter()) is not None:
            self._known.add(h)
            return True
        return False

    def _host_filter(self):
        return self.host if self.config.metric == "wall" else None

    def _record(self, key, pipeline, label, pass_seq=None):
        from costtune.benchmarks import program_dir_of
        from costtune.records import Record, utcnow

        where = program_dir_of(self.bench)  # a directory suite: dataset and eval find it from anywhere
        return Record(job_key=key, benchmark=self.bench.id, suite=self.bench.suite, target=self.config.target,
                      label=label, pipeline=pipeline, pass_seq=pass_seq, metric=self.config.metric,
                      status="compile_error", toolchain=dict(self.tc.versions),
                      toolchain_fingerprint=self.tc.fingerprint, source_hash=self.source_hash,
                      runner=self.runner_name, host=self.host, repeat=self.repeat, seed=self.config.seed,
                      started_at=utcnow(), detail={"program_dir": where} if where else {})

    def evaluate(self, spec: str, label: str) -> tuple[str, float | None, bool, str]:
        """(status, value, new measurement?, pipeline text) of candidate ``spec``.

        Status ``predicted``: a new binary that :attr:`surrogate` predicts well enough
        not to measure (no record is written; the value goes to the sampler only).
        """
        from costtune.compile import compile_benchmark
        from costtune.measure import measure
        from costtune.records import CLAIMED, DONE, utcnow

        cr = compile_benchmark(self.bench, spec, self.config.target, self.tc)
        if not cr.ok:
            rec = self._record(self.key("", cr.pipeline), cr.pipeline, label)
            rec.stderr_tail, rec.finished_at = cr.stderr_tail[-2000:], utcnow()
            rec.detail.update(step=cr.step, compile_status=cr.status)
            self.store.add(rec)
            return "compile_error", None, False, cr.pipeline
        art = cr.artifact
        key = self.key(art.binary_hash)
        deadline = time.monotonic() + HOLD_TIMEOUT_S
        while True:
            prev = self.store.lookup_binary(art.binary_hash, target=self.config.target, metric=self.config.metric,
                                            repeat=self.repeat, runner=self.runner_name, host=self._host_filter())
            if prev is not None:
                if prev.job_key != key and self.store.get(key) is None:
                    rec = self._fill(self._record(key, art.pipeline, label), art)
                    rec.status, rec.value, rec.values, rec.n = prev.status, prev.value, list(prev.values), prev.n
                    rec.stdout_hash, rec.reused_from, rec.finished_at = prev.stdout_hash, prev.id, utcnow()
                    self.store.add(rec)
                self._known.add(art.binary_hash)
                self._observe(art, prev.status)
                return prev.status, prev.value, False, art.pipeline
            guess = self.surrogate(art) if self.surrogate is not None else None
            if guess is not None:
                return "predicted", guess, False, art.pipeline
            state = self.store.claim(key)
            if state == DONE:
                rec = self.store.get(key)
                if rec is not None:
                    self._known.add(art.binary_hash)
                    return rec.status, rec.value, False, art.pipeline
            elif state == CLAIMED:
                break
            if time.monotonic() > deadline:
                raise MeasurementError(f"{self.bench.id}: another worker has held {key} for {HOLD_TIMEOUT_S:.0f}s")
            time.sleep(HOLD_WAIT_S)  # another worker is measuring this very binary
        try:
            m = measure(art, self.bench, metric=self.config.metric, runner=self.runner, repeat=self.repeat,
                        toolchain=self.tc)
            if m.status == "error":
                raise MeasurementError(f"{self.bench.id}: cannot measure {spec[:60]}: {m.detail}")
            rec = self._fill(self._record(key, art.pipeline, label), art)
            rec.status, rec.value, rec.values, rec.n = m.status, m.value, list(m.values), m.n
            rec.ci_halfwidth, rec.stdout_hash, rec.stderr_tail = m.ci_halfwidth, m.stdout_hash, m.stderr_tail
            rec.host, rec.finished_at = m.host or self.host, utcnow()
            rec.detail.update(measure_seconds=m.seconds, measure_detail=m.detail, spec=spec[:200])
            self.store.complete(rec)
        except BaseException:
            self.store.release(key)
            raise
        self._known.add(art.binary_hash)
        self._observe(art, m.status)
        return m.status, m.value, True, art.pipeline

    def _observe(self, art, status: str) -> None:
        if status == "ok":
            for fn in self.observers:
                fn(art)

    @staticmethod
    def _fill(rec, art):
        rec.ir_hash, rec.text_hash, rec.binary_hash = art.ir_hash, art.text_hash, art.binary_hash
        return rec

    def spent(self) -> int:
        """Real measurements recorded under this study's label."""
        return sum(1 for r in self.store.records(benchmark=self.bench.id, metric=self.config.metric)
                   if r.label.startswith(self.label) and r.reused_from is None and r.status != "compile_error")


# ----------------------------------------------------------------------------- retraining

class Retrainer:
    """Retrain the model on every measured pair so far, in a background thread, then swap it in."""

    def __init__(self, config: SearchConfig, scorer, benchmarks: list[str], out: Path):
        self.config, self.scorer, self.benchmarks, self.out = config, scorer, benchmarks, out
        self.rounds = 0
        self.since = 0
        self.thread: threading.Thread | None = None
        self.errors: list[str] = []

    def note(self, new_measurements: int) -> None:
        self.since += new_measurements
        if self.config.retrain_every and self.since >= self.config.retrain_every and not self.busy:
            self.since = 0
            self.rounds += 1
            self.thread = threading.Thread(target=self._run, args=(self.rounds,), name=f"retrain-{self.rounds}",
                                           daemon=True)
            self.thread.start()

    @property
    def busy(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def wait(self, timeout: float | None = None) -> None:
        if self.thread is not None:
            self.thread.join(timeout)

    def _run(self, round_no: int) -> None:
        try:
            path = retrain_model(self.config.db_url, self.scorer.model_dir, self.out / f"retrain-{round_no}",
                                 self.benchmarks, epochs=self.config.retrain_epochs, threads=self.config.threads,
                                 target=self.config.target, metric=self.config.metric)
            self.scorer.swap(str(path))
        except CostTuneError as e:  # the search goes on with the old model
            self.errors.append(str(e))
            log.warning("retraining round %d failed: %s", round_no, e)


def retrain_model(db: str, model_dir: str, out, benchmarks: list[str] | None = None, *, devices: int | None = None,
                  epochs: float | None = None,
                  threads: int | None = None, target: str = "aarch64", metric: str = "insns"):
    """Retrain ``model_dir``'s head with LoRA on the records of ``benchmarks`` (all when None); the new dir.

    The base, tokenizer and training settings come from the model directory. All
    measured programs train; a copy of the smallest program's candidates stands
    in as the held-out split the trainer insists on (retraining has no test set).
    """
    from costtune.errors import DatasetError, ModelLoadError
    from costtune.model import TrainConfig, resolve_model_dir
    from costtune.model.train import train  # the package attribute `train` is shadowed once the submodule is imported
    from costtune.model.config import CostModelConfig
    from costtune.model.data import load_from_db
    from costtune.records import RecordStore

    md = resolve_model_dir(model_dir)
    mcfg = CostModelConfig.load(md)
    if mcfg.base_kind == "dir-in-model":
        base = md / "base"
    else:
        base = mcfg.base
    tcfg_data = {k: v for k, v in (mcfg.train or {}).items() if k in TrainConfig.__dataclass_fields__}
    if epochs is not None:
        tcfg_data["epochs"] = epochs
    if threads is not None:
        tcfg_data["threads"] = threads
    tcfg = TrainConfig.from_dict(tcfg_data, source=str(md))
    if benchmarks is None:
        with RecordStore(db, create=False) as store:
            benchmarks = store.benchmarks()
    cands = load_from_db(db, list(benchmarks), repr=mcfg.repr, metric=metric, target=target)
    progs: dict[str, list] = {}
    for c in cands:
        progs.setdefault(c.program, []).append(c)
    progs = {p: g for p, g in progs.items() if len(g) >= 2}
    if not progs:
        raise DatasetError("retraining needs a program with at least two measured candidates")
    out = Path(out)
    data = out / "data"
    data.mkdir(parents=True, exist_ok=True)
    rows = [{"program": c.program, "latency": c.latency, "functions": c.functions, "pipeline": c.pipeline,
             "candidate": c.candidate, "split": "train"} for g in progs.values() for c in g]
    held = min(progs, key=lambda p: len(progs[p]))
    rows += [{"program": f"holdout:{c.program}", "latency": c.latency, "functions": c.functions,
              "pipeline": c.pipeline, "candidate": c.candidate, "split": "test"} for c in progs[held]]
    (data / "ranking.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    model_out = out / "model"
    try:
        train(data, base, model_out, tcfg, tokenizer=md / "tokenizer", devices=devices)
    except (OSError, RuntimeError, ValueError) as e:
        raise ModelLoadError(f"retraining from {md} failed: {type(e).__name__}: {str(e).splitlines()[0][:200]}") from None
    log.info("retrained %s on %d candidates of %d programs -> %s", md, len(cands), len(progs), model_out)
    return model_out


# ----------------------------------------------------------------------------- the driver

def _resolve(config: SearchConfig):
    from costtune.benchmarks import get_suite

    if not config.benchmarks:
        raise UnknownBenchmark("name the programs to search with --benchmarks")
    roots = {"cbench_root": config.cbench_root, "testsuite_root": config.testsuite_root}
    suite = get_suite(config.suite, **{k: v for k, v in roots.items() if v})
    out = []
    for name in config.benchmarks:
        prefix = f"{suite.name}/"
        b = suite.get(name[len(prefix):] if name.startswith(prefix) else name)
        if getattr(b, "status", "ok") != "ok":
            raise UnknownBenchmark(f"benchmark {b.id} is not supported here: {b.reason}")
        out.append(b)
    return out


def _make_sampler(config: SearchConfig, space, seed: int, scorer_fn=None):
    import optuna

    from costtune.integrations.optuna import CostModelSampler

    if config.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    tpe = optuna.samplers.TPESampler(seed=seed, n_startup_trials=config.startup_trials)
    if config.sampler == "tpe":
        return tpe
    return CostModelSampler(tpe, scorer_fn, k=config.k, search_space=space.distributions(),
                            neighbours=config.neighbours, crossovers=config.crossovers, seed=seed,
                            mutate=None if config.neighbour_moves == "redraw" else
                            functools.partial(space.local_move, kinds=config.neighbour_moves))


def _recover(study, storage) -> int:
    """Fail RUNNING trials whose worker on this host is gone; enqueue their params again."""
    from optuna.trial import TrialState

    host, n = socket.gethostname(), 0
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        attrs = t.user_attrs
        pid = attrs.get("worker_pid")
        if attrs.get("worker_host") != host or pid is None or pid == os.getpid() or pid_alive(int(pid)):
            continue
        try:
            if storage.set_trial_state_values(t._trial_id, TrialState.FAIL):
                study.enqueue_trial(t.params, user_attrs={k: v for k, v in t.user_attrs.items() if k == "preset"})
                n += 1
                log.info("trial %d of %s was left running by dead pid %s: failed and enqueued again",
                         t.number, study.study_name, pid)
        except Exception as e:  # noqa: BLE001 - another worker finished it first (UpdateFinishedTrialError)
            log.debug("could not fail trial %d: %s", t.number, e)
    return n


def run_search(config: SearchConfig, on_progress=None) -> SearchResult:
    """Search every program of ``config``; write OUT/summary.json, OUT/best_<program>.txt, OUT/progress.png."""
    import optuna

    from costtune.measure import default_runner_name, get_runner
    from costtune.passes import load_catalog
    from costtune.records import RecordStore
    from costtune.search.scorer import make_scorer
    from costtune.search.space import make_space
    from costtune.toolchain import find, get_target

    t0 = time.perf_counter()
    # ERROR: a trial that raises (Ctrl-C, a CostTuneError) is re-raised to the caller, which reports it in one
    # line; Optuna's own warning would print its traceback first
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    tc = find(config.llvm)
    get_target(config.target)
    benches = _resolve(config)
    out = Path(config.out)
    scorer = None
    runner = None
    retrainer = None
    store = None
    results: list[ProgramResult] = []
    try:
        # the pass catalog, the space, the runner and the model first: one that fails leaves no OUT
        # with empty databases behind
        catalog = load_catalog(tc.llvm)
        space = make_space(config.space, catalog, tc.opt, slots=config.slots, length=config.length)
        runner_name = config.runner or default_runner_name(config.target, config.metric)
        runner = get_runner(runner_name, config.target, config.metric)
        if config.uses_model:
            scorer = make_scorer(config.model or None, config.server or None, config.threads)
        out.mkdir(parents=True, exist_ok=True)
        storage = load_storage(config.storage_url, config.heartbeat)
        store = RecordStore(config.db_url)
        if scorer is not None and config.retrain_every:
            retrainer = Retrainer(config, scorer, [b.id for b in benches], out)
        for i, bench in enumerate(benches):
            results.append(_search_program(config, bench, space, storage, store, tc, runner, runner_name,
                                           scorer, retrainer, i, on_progress))
    finally:
        if retrainer is not None:
            retrainer.wait()
        if scorer is not None:
            scorer.close()
        if runner is not None:
            runner.close()
        if store is not None:
            store.close()
    result = SearchResult(results, str(out), config.storage_url, config.db_url, config.sampler, config.space,
                          scorer.describe() if scorer else "", retrainer.rounds if retrainer else 0,
                          time.perf_counter() - t0)
    write_outputs(result, out, config.budget)
    return result


def _search_program(config, bench, space, storage, store, tc, runner, runner_name, scorer, retrainer, index,
                    on_progress) -> ProgramResult:
    import optuna

    from costtune.search.scorer import ProfileScorer, pipeline_scorer

    t0 = time.perf_counter()
    name = study_name(config, bench.id)
    ev = Evaluator(config, bench, store, tc, runner, runner_name, f"search:{name}")
    scorer_fn = None
    variants = None
    if config.variants:
        from costtune.search.variants import VariantTable, no_gain_prediction, profile_observer

        variants = VariantTable()
        ev.observers.append(profile_observer(variants, bench, runner, ev.repeat, tc))
        ev.surrogate = no_gain_prediction(variants, tc)
    if isinstance(scorer, ProfileScorer):
        scorer.table = variants  # this program's profiles (programs are searched one after another)
    if scorer is not None:
        scorer_fn = pipeline_scorer(bench, space.pipeline, scorer, config.target, tc, known=ev.known,
                                    variants=variants)
    try:
        try:
            study = optuna.create_study(storage=storage, study_name=name, direction="minimize")
            created = True
        except optuna.exceptions.DuplicatedStudyError:
            study = optuna.load_study(study_name=name, storage=storage)
            created = False
    except Exception as e:  # noqa: BLE001 - sqlalchemy/optuna errors on a broken storage
        raise RecordStoreError(f"cannot open study {name}: {str(e).splitlines()[0][:200]}") from None
    # the worker that created the study draws from the configured seed; one that joins a study
    # (another worker's, or its own resumed) from a seed of its own, so workers do not repeat each other
    seed = config.seed + index if created else config.seed + index + 1 + zlib.crc32(store.worker.encode()) % (1 << 20)
    sampler = study.sampler = _make_sampler(config, space, seed, scorer_fn)
    held = study.user_attrs.get("metric", "insns")  # studies from before this attribute measured insns
    if not created and held != config.metric:
        raise ConfigError(f"study {name} in {config.storage_url} holds {held} values, this search measures "
                          f"{config.metric}: give another --storage or --study-prefix")
    if created:
        study.set_user_attr("metric", config.metric)
    _recover(study, storage)
    o3_params = space.o3_params()
    # the worker that created the study enqueues O3 (two workers starting at once both saw no O3 trial)
    if o3_params is not None and created:
        study.enqueue_trial(o3_params, user_attrs={"preset": "O3"}, skip_if_exists=True)
    # the O3 baseline: measured once (a trial of the study, or reused from the records)
    status, o3, _, _ = ev.evaluate("O3", f"{ev.label}:O3")
    if status != "ok" or not o3:
        raise MeasurementError(f"{bench.id}: the O3 baseline did not run correctly ({status})")
    study.set_user_attr("o3_value", o3)
    dists = space.distributions()
    if config.warm_start and config.warm_start_n and config.warm_start_mode == "screen":
        from costtune.search.warm import warm_params

        # rebuilt on every (re)start; the ones tried already stay out
        tried = [t.params for t in study.get_trials(deepcopy=False)]
        sampler.pool = [p for p, _ in warm_params(config.warm_start, bench.id, config.space, set(dists),
                                                  config.metric, config.warm_start_n) if p not in tried]
    elif config.warm_start and config.warm_start_n and study.user_attrs.get("warm_started") is None:
        from costtune.search.warm import warm_params

        warm = warm_params(config.warm_start, bench.id, config.space, set(dists), config.metric, config.warm_start_n)
        if scorer_fn is not None and warm:  # the proxy: the cost model orders them for this program
            costs = scorer_fn([params for params, _ in warm])
            warm = [w for _, _, w in sorted(zip(costs, range(len(warm)), warm))]
        for params, source in warm:
            study.enqueue_trial(params, user_attrs={"warm_from": source}, skip_if_exists=True)
        study.set_user_attr("warm_started", len(warm))
    cap = int(config.budget * config.max_trials_factor) + 1
    bar = None
    if config.progress:
        from tqdm import tqdm

        bar = tqdm(total=config.budget, desc=bench.id, unit="meas", file=sys.stderr, dynamic_ncols=True)
    spent = ev.spent()
    told = {_params_key(t.params) for t in study.get_trials(deepcopy=False)} if config.tell_predicted else set()

    def objective(trial):
        nonlocal spent
        trial.set_user_attr("worker_host", socket.gethostname())
        trial.set_user_attr("worker_pid", os.getpid())
        params = _suggest(trial, dists)
        spec = "O3" if trial.user_attrs.get("preset") == "O3" else space.pipeline(params)
        status, value, new, text = ev.evaluate(spec, f"{ev.label}:t{trial.number}")
        trial.set_user_attr("status", status)
        trial.set_user_attr("new_measurement", bool(new))
        trial.set_user_attr("pipeline", "default<O3>" if spec == "O3" else text)
        if value is not None:
            trial.set_user_attr(config.metric, value)
        if new:
            spent += 1
            if retrainer is not None:
                retrainer.note(1)
        if config.tell_predicted:
            _tell_predicted(study, sampler, scorer_fn, params, dists, o3, config, told)
        if status not in ("ok", "predicted") or value is None:  # predicted: told, not measured
            return config.fail_value if config.objective == "ratio" else o3 * config.fail_value
        return value / o3 if config.objective == "ratio" else value

    try:
        if bar is not None:
            bar.update(min(spent, config.budget))
        while spent < config.budget:
            n_trials = len(_sampled_trials(study))
            if n_trials >= cap:
                log.warning("%s: %d trials without reaching %d measurements (the space keeps giving known "
                            "binaries); stopping", bench.id, n_trials, config.budget)
                break
            cap_compile(config.cache_max_gb)  # a long search must not fill the disk either
            slot = _budget_slot(store, ev, config.budget)
            if slot is None:  # the budget is spent or being spent by other workers
                spent = ev.spent()
                continue
            try:
                study.optimize(objective, n_trials=1, gc_after_trial=False)
            finally:
                store.release(slot)
            spent = ev.spent()  # other workers may have spent some too
            if bar is not None:
                bar.n = min(spent, config.budget)
                # as the final table prints it: O3/best (speed-up), or the best raw count
                bar.set_postfix_str(f"O3/best {1 / study.best_value:.4f}x" if config.objective == "ratio"
                                    else f"best {study.best_value:.0f}", refresh=False)
                bar.refresh()
            if on_progress:
                on_progress(bench.id, spent, config.budget)
    finally:
        if bar is not None:
            bar.close()
    return _program_result(study, bench.id, name, o3, ev.spent(), config, time.perf_counter() - t0)


def _budget_slot(store, ev: "Evaluator", budget: int) -> str | None:
    """Claim one of the study's unspent budget slots before a trial (None: none free now; waits
    a little first). A slot is a claim in the records database, held while the trial runs, so
    workers sharing a study never measure more than the budget together; a dead worker's slot
    goes stale and is taken over like any claim."""
    from costtune.records import CLAIMED

    for i in range(ev.spent(), budget):
        if store.claim(f"budget:{ev.label}:{i}") == CLAIMED:
            return f"budget:{ev.label}:{i}"
    time.sleep(HOLD_WAIT_S)
    return None


def _tell_predicted(study, sampler, scorer_fn, params, dists, o3, config, told: set) -> None:
    """Add the trial's other fresh proposals that the variant table predicts not to beat the
    best as finished trials (attr ``told``) with their predicted values: free observations for
    TPE, which otherwise learns one of the k a trial and keeps proposing the rest's neighbours.
    Each parameter set is told once (``told`` holds their keys); pool entries are not the
    sampler's proposals and are not told."""
    import optuna

    proposals, pick = sampler.last_proposals, sampler.last_pick
    if not scorer_fn.predicted or pick is None or proposals[pick] != params:
        return  # an enqueued trial: its params are not the screen's pick
    told.add(_params_key(params))
    for i, count in sorted(scorer_fn.predicted.items()):
        if i >= sampler.last_fresh:  # a pool entry
            continue
        key = _params_key(proposals[i])
        if key in told:
            continue
        told.add(key)
        value = count / o3 if config.objective == "ratio" else count
        study.add_trial(optuna.trial.create_trial(
            params=proposals[i], distributions={n_: dists[n_] for n_ in proposals[i]}, value=value,
            user_attrs={"status": "predicted", "told": True, config.metric: count}))


def _params_key(params: dict) -> tuple:
    return tuple(sorted(params.items()))


def _sampled_trials(study) -> list:
    """The study's finished trials that the sampler proposed (told predictions left out)."""
    from optuna.trial import TrialState

    return [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)) if not t.user_attrs.get("told")]


def _program_result(study, bench_id, name, o3, spent, config, seconds) -> ProgramResult:

    trials = _sampled_trials(study)
    best_v, best_p, history, n = None, "", [1.0], 0  # the O3 baseline first
    for t in sorted(trials, key=lambda t: t.datetime_complete or t.datetime_start):
        v = t.user_attrs.get(config.metric)
        ok = t.user_attrs.get("status") == "ok" and v
        if ok and (best_v is None or v < best_v):
            best_v, best_p = v, t.user_attrs.get("pipeline", "")
        if t.user_attrs.get("new_measurement"):
            n += 1
            history.append((best_v / o3) if best_v else None)
    if best_v is None or o3 < best_v:
        best_v, best_p = o3, best_p if best_v == o3 else "default<O3>"
    return ProgramResult(bench_id, name, o3, best_v, best_p, spent, len(trials), history, round(seconds, 1))


def write_outputs(result: SearchResult, out: Path, budget: int | None = None) -> None:
    for p in result.programs:
        (out / f"best_{p.benchmark.split('/', 1)[-1]}.txt").write_text(p.best_pipeline + "\n")
    (out / "summary.json").write_text(json.dumps(result.to_dict(), indent=2))
    plot_progress(result.programs, out / "progress.png", budget)


def plot_progress(programs: list[ProgramResult], path: Path, budget: int | None = None) -> Path:
    from costtune.plots import _save

    return _save(progress_figure(programs, budget), path)


def progress_figure(programs: list[ProgramResult], budget: int | None = None):
    """Best-so-far / O3 against real measurements, the x axis from 1 to the budget (the
    measurements the search may spend), never past it."""
    from matplotlib.ticker import MaxNLocator

    from costtune.plots import _canvas

    fig = _canvas()
    ax = fig.add_subplot(1, 1, 1)
    for p in programs:
        ys = [1.0 if v is None else v for v in p.history]
        if p.o3_value and p.best_value is not None and not ys:
            ys = [p.best_value / p.o3_value]
        ax.step(range(1, len(ys) + 1), ys, where="post", label=p.benchmark)
    ax.axhline(1.0, color="grey", lw=0.8, ls="--")
    ax.set_xlabel("real measurements")
    ax.set_ylabel("best so far / O3 (instructions)")
    ax.set_title("costtune search: best-so-far against measurements")
    ax.legend(fontsize=7)
    last = budget or max((len(p.history) for p in programs), default=1)
    ax.set_xlim(1, max(last, 2))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    return fig
