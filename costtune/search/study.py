"""The Optuna side of a search: the study storage, one study per program, its sampler and trials.

Per program the study ``PREFIX:suite/name:SPACE`` lives in the RDB storage
(SQLite file by default; a PostgreSQL URL lets workers on many hosts share it -
Optuna's distributed mode).

Resuming
    Killed runs resume: completed trials and their measurements count. A trial
    left RUNNING by a dead worker on this host (its pid is gone) is failed and
    its parameters enqueued again at once (:func:`recover`); one from another
    host is failed by Optuna's heartbeat after ``3 x heartbeat`` seconds and
    retried the same way.
"""

from __future__ import annotations

import functools
import os
import socket
import time
import warnings
from pathlib import Path

from costtune.errors import ConfigError, RecordStoreError
from costtune.logging import get_logger
from costtune.process import pid_alive
from costtune.search.config import SearchConfig

log = get_logger(__name__)

__all__ = ["study_name", "load_storage", "study_identity", "check_study", "open_study", "make_sampler", "suggest", "recover", "tell_predicted",
           "sampled_trials", "params_key"]


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
    # Optuna's own options do what they can: engine_kwargs (connect timeouts), and the heartbeat
    # with Optuna's retry of a dead worker's trials. None guards the schema's creation: RDBStorage
    # creates the tables, then its version row and alembic stamp, unlocked, so two workers opening
    # a new storage at once can collide (duplicate table, type or row; SQLite: "already exists").
    # The loser opens the storage again: the schema exists by then.
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
            # the schema race above (an OperationalError is one only when it says so)
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


def study_identity(config, bench, tc) -> dict:
    """What a study's values measure: a study holding values of another measurement must not be
    resumed, its best would not compare with a new O3. ``program`` hashes what the program is and
    how it runs (sources, flags, arguments, environment, inputs), as the cached O0 reference does."""
    from costtune.measure.reference import reference_key

    repeat = bench.repeat if config.repeat is None else config.repeat
    return dict(metric=config.metric, target=config.target, objective=config.objective, repeat=repeat,
                program=reference_key(bench, config.target, repeat, ""), llvm=tc.llvm)


def _refuse_other(name: str, held: dict, identity: dict, storage_url: str) -> None:
    for key, value in identity.items():
        if key in held and held[key] != value:
            what = "another version of the program" if key == "program" else f"{key} {held[key]}"
            now = "this one" if key == "program" else f"{key} {value}"
            raise ConfigError(f"study {name} in {storage_url} holds values of {what}, this search measures "
                              f"{now}: give another --out (or --storage) or --study-prefix")


def check_study(storage, name: str, identity: dict, storage_url: str) -> None:
    """Refuse now, before any program is searched, a study ``open_study`` would refuse."""
    import optuna

    try:
        held = dict(optuna.load_study(study_name=name, storage=storage).user_attrs)
    except KeyError:  # no such study yet
        return
    except Exception as e:  # noqa: BLE001 - sqlalchemy/optuna errors on a broken storage
        raise RecordStoreError(f"cannot open study {name}: {str(e).splitlines()[0][:200]}") from None
    held.setdefault("metric", "insns")  # studies from before this attribute measured insns
    _refuse_other(name, held, identity, storage_url)


def open_study(storage, name: str, identity: dict, storage_url: str):
    """(study ``name`` in ``storage``, created by this call?). A study that holds values of another
    measurement (:func:`study_identity`) is refused; one from before an attribute gets it now."""
    import optuna

    try:
        try:
            study = optuna.create_study(storage=storage, study_name=name, direction="minimize")
            created = True
        except optuna.exceptions.DuplicatedStudyError:
            study = optuna.load_study(study_name=name, storage=storage)
            created = False
    except Exception as e:  # noqa: BLE001 - sqlalchemy/optuna errors on a broken storage
        raise RecordStoreError(f"cannot open study {name}: {str(e).splitlines()[0][:200]}") from None
    held = dict(study.user_attrs)
    if not created:
        held.setdefault("metric", "insns")  # studies from before this attribute measured insns
    _refuse_other(name, held, identity, storage_url)
    for key, value in identity.items():
        if key not in held:
            study.set_user_attr(key, value)
    # two workers that opened a new study at once both stamped it: the one stamped over refuses now
    _refuse_other(name, dict(study.user_attrs), identity, storage_url)
    return study, created


def suggest(trial, dists: dict) -> dict:
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


def make_sampler(config: SearchConfig, space, seed: int, scorer_fn=None):
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


def recover(study) -> int:
    """Fail RUNNING trials whose worker on this host is gone; enqueue their params again."""
    from optuna.trial import TrialState

    host, n = socket.gethostname(), 0
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        attrs = t.user_attrs
        pid = attrs.get("worker_pid")
        if attrs.get("worker_host") != host or pid is None or pid == os.getpid() or pid_alive(int(pid)):
            continue
        try:
            study.tell(t.number, state=TrialState.FAIL)
        except Exception as e:  # noqa: BLE001 - another worker finished it first (ValueError, UpdateFinishedTrialError)
            log.debug("could not fail trial %d: %s", t.number, e)
            continue
        study.enqueue_trial(t.params, user_attrs={k: v for k, v in t.user_attrs.items() if k == "preset"})
        n += 1
        log.info("trial %d of %s was left running by dead pid %s: failed and enqueued again",
                 t.number, study.study_name, pid)
    return n


def tell_predicted(study, sampler, scorer_fn, params, dists, o3, config, told: set) -> None:
    """Add the trial's other fresh proposals that the variant table predicts not to beat the
    best as finished trials (attr ``told``) with their predicted values: free observations for
    TPE, which otherwise learns one of the k a trial and keeps proposing the rest's neighbours.
    Each parameter set is told once (``told`` holds their keys); pool entries are not the
    sampler's proposals and are not told."""
    import optuna

    proposals, pick = sampler.last_proposals, sampler.last_pick
    if not scorer_fn.predicted or pick is None or proposals[pick] != params:
        return  # an enqueued trial: its params are not the screen's pick
    told.add(params_key(params))
    for i, count in sorted(scorer_fn.predicted.items()):
        if i >= sampler.last_fresh:  # a pool entry
            continue
        key = params_key(proposals[i])
        if key in told:
            continue
        told.add(key)
        value = count / o3 if config.objective == "ratio" else count
        study.add_trial(optuna.trial.create_trial(
            params=proposals[i], distributions={n_: dists[n_] for n_ in proposals[i]}, value=value,
            user_attrs={"status": "predicted", "told": True, config.metric: count}))


def params_key(params: dict) -> tuple:
    return tuple(sorted(params.items()))


def sampled_trials(study) -> list:
    """The study's finished trials that the sampler proposed (told predictions left out)."""
    from optuna.trial import TrialState

    return [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)) if not t.user_attrs.get("told")]
