"""The search loop: one Optuna study per program, proxy screening, real measurements.

A trial: the sampler proposes (``proxy``: TPE draws ``k`` whole candidates, each
is compiled and scored by the cost model, the best is kept), the candidate is
compiled (cached by content) and measured for real, and Optuna is told its
value: instructions / O3 instructions (``ratio``) or the count (``insns``).
Failures (compile error, crash, wrong output) are told as ``fail_value``. The
loop runs until the study has spent its budget of real measurements; after
``budget x max_trials_factor`` trials it stops anyway.

The parts: :mod:`~costtune.search.study` (storage, studies, samplers, resuming),
:mod:`~costtune.search.evaluate` (compile, dedupe, claim, measure; the budget),
:mod:`~costtune.search.results` (what the search returns and writes),
:mod:`~costtune.model.retrain` (``retrain_every``: retraining in the background).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import signal
import socket
import sys
import threading
import time
import zlib
from pathlib import Path

from costtune.cache import cap_compile
from costtune.errors import EnvironmentFailure, MeasurementError, UnknownBenchmark
from costtune.logging import get_logger
from costtune.search.config import SearchConfig
from costtune.search.evaluate import Evaluator, budget_slot
from costtune.search.results import ProgramResult, SearchResult, program_result, write_outputs
from costtune.search.study import (check_study, load_storage, make_sampler, open_study, params_key, recover,
                                   sampled_trials, study_identity, study_name, suggest, tell_predicted)

log = get_logger(__name__)

__all__ = ["run_search"]


def run_search(config: SearchConfig, on_progress=None) -> SearchResult:
    """Search every program of ``config``; write OUT/summary.json, OUT/best_<program>.txt, OUT/progress.png."""
    import optuna

    from costtune.measure import default_runner_name, get_runner
    from costtune.passes import load_catalog
    from costtune.records import RecordStore
    from costtune.search.scorer import ProfileScorer, RemoteVariantModel, make_scorer
    from costtune.search.space import make_space
    from costtune.toolchain import find, get_target

    t0 = time.perf_counter()
    # ERROR: a trial that raises (Ctrl-C, a CostTuneError) is re-raised to the caller, which reports it in one
    # line; Optuna's own warning would print its traceback first
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    tc = find(config.llvm)
    get_target(config.target)
    benches = _resolve(config)
    ignored = [f"--{name.replace('_', '-')}" for name in ("model", "server", "retrain_every") if getattr(config, name)]
    if ignored and not config.uses_model:
        log.warning("%s ignored: the %s sampler screens nothing, so it uses no cost model", ", ".join(ignored),
                    config.sampler)
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
            scorer = make_scorer(config.screen_model or None, config.server or None, config.threads)
            if isinstance(getattr(scorer, "function_model", None), RemoteVariantModel) and config.retrain_every:
                scorer.function_model.prepare_adapt(out / "adapted")  # fine-tuned here, per program, served there
            if isinstance(scorer, ProfileScorer) and not config.variants:  # its estimates need the block profiles
                config = dataclasses.replace(config, variants=True)
        made = out  # the top-most folder this run makes, if any
        while not made.parent.exists() and made.parent != made:
            made = made.parent
        made = None if made.exists() else made
        try:
            out.mkdir(parents=True, exist_ok=True)
        # the path, or a folder above it, is a file: as the machine's other faults, exit 3
        except (FileExistsError, NotADirectoryError) as e:
            raise EnvironmentFailure(f"--out: {e.strerror}: {e.filename}") from None
        try:
            storage = load_storage(config.storage_url, config.heartbeat)
            store = RecordStore(config.db_url)
        except BaseException:
            if made is not None:  # an unreachable storage or database leaves no OUT of empty databases
                shutil.rmtree(made, ignore_errors=True)
            raise
        if scorer is not None and config.retrain_every and getattr(scorer, "function_model", None) is None:
            from costtune.model.retrain import Retrainer  # an LLM scorer (a variant model adapts per program)

            retrainer = Retrainer(scorer, config.db_url, [b.id for b in benches], out, config.retrain_every,
                                  epochs=config.retrain_epochs, threads=config.threads, target=config.target,
                                  metric=config.metric)
        for bench in benches:  # a study of another measurement is refused before any program is searched
            check_study(storage, study_name(config, bench.id), study_identity(config, bench, tc), config.storage_url)
        with _held_interrupts() as interrupts:
            for i, bench in enumerate(benches):
                results.append(_search_program(config, bench, space, storage, store, tc, runner, runner_name,
                                               scorer, retrainer, i, on_progress, interrupts))
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
                    on_progress, interrupts) -> ProgramResult:
    from costtune.search.scorer import ProfileScorer, pipeline_scorer

    t0 = time.perf_counter()
    name = study_name(config, bench.id)
    ev = Evaluator(config, bench, store, tc, runner, runner_name, f"search:{name}")
    scorer_fn = None
    variants = None
    if config.variants:
        from costtune.search.variants import VariantTable, no_gain_prediction, profile_observer

        variants = VariantTable(getattr(scorer, "function_model", None))
        ev.observers.append(profile_observer(variants, bench, runner, ev.repeat, tc))
        ev.surrogate = no_gain_prediction(variants, tc)
    if isinstance(scorer, ProfileScorer):
        scorer.table = variants  # this program's profiles (programs are searched one after another)
    if scorer is not None:
        scorer_fn = pipeline_scorer(bench, space.pipeline, scorer, config.target, tc, known=ev.known,
                                    variants=variants)
    study, created = open_study(storage, name, study_identity(config, bench, tc), config.storage_url)
    # the worker that created the study draws from the configured seed; one that joins a study
    # (another worker's, or its own resumed) from a seed of its own, so workers do not repeat each other
    seed = config.seed + index if created else config.seed + index + 1 + zlib.crc32(store.worker.encode()) % (1 << 20)
    sampler = study.sampler = make_sampler(config, space, seed, scorer_fn)
    recover(study)
    o3_params = space.o3_params()
    # the worker that created the study enqueues O3 (two workers starting at once both saw no O3 trial)
    if o3_params is not None and created:
        study.enqueue_trial(o3_params, user_attrs={"preset": "O3"}, skip_if_exists=True)
    # the O3 baseline: measured once (a trial of the study, or reused from the records)
    status, o3, _, _ = ev.evaluate("O3", f"{ev.label}:O3")
    if status != "ok" or not o3:
        why = f": {ev.last_failure}" if ev.last_failure else ""
        raise MeasurementError(f"{bench.id}: the O3 baseline did not run correctly ({status}{why})")
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
    adapting = bool(config.retrain_every) and variants is not None and variants.function_model is not None
    told = {params_key(t.params) for t in study.get_trials(deepcopy=False)} if config.tell_predicted else set()

    def objective(trial):
        nonlocal spent
        trial.set_user_attr("worker_host", socket.gethostname())
        trial.set_user_attr("worker_pid", os.getpid())
        params = suggest(trial, dists)
        spec = "O3" if trial.user_attrs.get("preset") == "O3" else space.pipeline(params)
        with interrupts.allowed():  # Ctrl-C stops a long compile or measurement at once
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
            if adapting and spent % config.retrain_every == 0:  # a variant model: fine-tuned on this program
                if variants.adapt(epochs=max(1, round(config.retrain_epochs))):
                    log.info("%s: variant model fine-tuned on the %d measured variants it read", bench.id,
                             len(variants.examples))
        if config.tell_predicted:
            tell_predicted(study, sampler, scorer_fn, params, dists, o3, config, told)
        if status not in ("ok", "predicted") or value is None:  # predicted: told, not measured
            return config.fail_value if config.objective == "ratio" else o3 * config.fail_value
        return value / o3 if config.objective == "ratio" else value

    try:
        if bar is not None:
            bar.update(min(spent, config.budget))
        while spent < config.budget:
            n_trials = len(sampled_trials(study))
            if n_trials >= cap:
                log.warning("%s: %d trials without reaching %d measurements (the space keeps giving known "
                            "binaries); stopping", bench.id, n_trials, config.budget)
                break
            cap_compile(config.cache_max_gb)  # a long search must not fill the disk either
            slot = budget_slot(store, ev, config.budget)
            if slot is None:  # the budget is spent or being spent by other workers
                spent = ev.spent()
                continue
            try:
                study.optimize(objective, n_trials=1, gc_after_trial=False)
            finally:
                store.release(slot)
            interrupts.raise_pending()
            spent = ev.spent()  # other workers may have spent some too
            if bar is not None:
                bar.n = min(spent, config.budget)
                # as the final table prints it: O3/best (speed-up), or the best raw count; and the trials, which
                # go on without a measurement while the screen finds nothing new to measure
                best = (f"O3/best {1 / study.best_value:.4f}x" if config.objective == "ratio"
                        else f"best {study.best_value:.0f}")
                bar.set_postfix_str(f"{best}, trial {n_trials + 1} of at most {cap}", refresh=False)
                bar.refresh()
            if on_progress:
                on_progress(bench.id, spent, config.budget)
    finally:
        if bar is not None:
            bar.close()
    return program_result(sampled_trials(study), bench.id, name, o3, ev.spent(), config.metric,
                          time.perf_counter() - t0)


class _Interrupts:
    """Ctrl-C raises KeyboardInterrupt only inside :meth:`allowed` (a candidate's compile and
    measurement); anywhere else, a study's database call among them, it is held until
    :meth:`raise_pending`; a second Ctrl-C raises at once. Raised inside a SQLite call, it can leave a
    cursor holding the file's lock, and the interrupted trial could then not be told: the search would
    end in a traceback."""

    def __init__(self):
        self.pending = False
        self._allowed = False

    def handle(self, signum, frame):
        again, self.pending = self.pending, True
        if self._allowed or again:
            self._allowed = False
            raise KeyboardInterrupt

    @contextlib.contextmanager
    def allowed(self):
        self.raise_pending()
        self._allowed = True
        try:
            yield
        finally:
            self._allowed = False

    def raise_pending(self):
        if self.pending:
            raise KeyboardInterrupt


@contextlib.contextmanager
def _held_interrupts():
    interrupts = _Interrupts()
    # only the main thread can set a handler, and only Python's default one is replaced
    if threading.current_thread() is not threading.main_thread() \
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield interrupts
        return
    previous = signal.signal(signal.SIGINT, interrupts.handle)
    try:
        yield interrupts
    finally:
        signal.signal(signal.SIGINT, previous)


def _resolve(config: SearchConfig):
    from costtune.benchmarks import SUITES, get_benchmark, get_suite

    roots = {"cbench_root": config.cbench_root, "testsuite_root": config.testsuite_root}
    if not config.benchmarks and config.suite in SUITES:  # a shipped suite: its programs are many
        raise UnknownBenchmark("name the programs to search with --benchmarks")
    suite = get_suite(config.suite, **{k: v for k, v in roots.items() if v})
    if not config.benchmarks:  # a folder of the user's programs: every one of them that loads
        programs = suite.list()
        for b in programs:
            if b.status != "ok":
                log.warning("%s left out: %s", b.id, b.reason)
        return [b for b in programs if b.status == "ok"] or _no_programs(config.suite)
    out = []
    for name in config.benchmarks:
        prefix = f"{suite.name}/"
        # a path to a program's folder (it has a separator, and is no name of the suite): PARENT/NAME, as
        # compile and measure name it; a bare name is the suite's even where a folder of that name is here
        if not name.startswith(prefix) and os.sep in name and Path(name).is_dir():
            b = get_benchmark(name)
        else:
            b = suite.get(name[len(prefix):] if name.startswith(prefix) else name)
        if getattr(b, "status", "ok") != "ok":
            raise UnknownBenchmark(f"benchmark {b.id} is not supported here: {b.reason}")
        out.append(b)
    return out


def _no_programs(folder: str):
    raise UnknownBenchmark(f"no program in {folder} loads (costtune benchmarks list --suite {folder} says why)")
