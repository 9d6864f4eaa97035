"""Warm start: the best pipelines that earlier searches found for *other* programs.

Edits of O3 that pay off tend to pay off on more than one program: among the best
pipelines of the cBench search benchmark, replacing an early function pass with
``reg2mem`` recurs on adpcm, patricia, blowfish and rijndael, ``loop-reduce`` in the
simplification pipeline on both blowfish programs, ``break-crit-edges`` on qsort1
and stringsearch2. ``costtune search --warm-start URL`` reads the Optuna storages of
earlier searches, takes each other program's trials that beat its O3 (best first)
and enqueues them, interleaved program by program, at the head of the new study
(with the proxy sampler, in the order the cost model ranks them for this program).
A warm trial whose binary is one the study has measured already costs no
measurement; only new binaries count against the budget.

Studies of the program being searched are skipped (their trials are its own
history, which a resumed study has anyway), and so are studies of another space.
"""

from __future__ import annotations

from costtune.errors import RecordStoreError
from costtune.logging import get_logger

log = get_logger(__name__)

__all__ = ["warm_params"]


def _study_parts(name: str) -> tuple[str, str] | None:
    """``PREFIX:suite/name:space`` -> (suite/name, space)."""
    parts = name.split(":")
    return (parts[-2], parts[-1]) if len(parts) >= 3 else None


def _improving(study, names: set, metric: str) -> list[dict]:
    """Params of the study's complete trials that beat its O3 in ``metric``, best first."""
    from optuna.trial import TrialState

    o3 = study.user_attrs.get("o3_value")
    out = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        value = t.user_attrs.get(metric)
        if not o3 or value is None or t.user_attrs.get("status") != "ok" or set(t.params) != names:
            continue
        if value < o3:
            out.append((value / o3, t.number, t.params))
    return [p for _, _, p in sorted(out, key=lambda x: (x[0], x[1]))]


def warm_params(urls: list[str], bench_id: str, space_name: str, names: set, metric: str,
                limit: int) -> list[tuple[dict, str]]:
    """Up to ``limit`` distinct (params, source study) pairs, round-robin over the source studies."""
    import optuna

    lists: list[tuple[str, list[dict]]] = []
    for url in urls:
        try:
            storage = optuna.storages.get_storage(url)
            summaries = optuna.get_all_study_summaries(storage, include_best_trial=False)
        except Exception as e:  # noqa: BLE001 - sqlalchemy/optuna errors on a broken or missing storage
            raise RecordStoreError(f"cannot read warm-start storage {url}: {str(e).splitlines()[0][:200]}") from None
        for s in summaries:
            parts = _study_parts(s.study_name)
            if parts is None or parts[0] == bench_id or parts[1] != space_name:
                continue
            study = optuna.load_study(study_name=s.study_name, storage=storage)
            best = _improving(study, names, metric)
            if best:
                lists.append((s.study_name, best))
    out, seen = [], set()
    depth = max((len(b) for _, b in lists), default=0)
    for i in range(depth):
        for source, best in lists:
            if i < len(best) and len(out) < limit:
                key = tuple(sorted(best[i].items()))
                if key not in seen:
                    seen.add(key)
                    out.append((best[i], source))
    log.info("warm start for %s: %d pipelines from %d studies", bench_id, len(out), len(lists))
    return out
