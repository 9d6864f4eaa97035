"""Autotuning with the cost model: ``costtune search``.

    from costtune.search import SearchConfig, run_search
    result = run_search(SearchConfig(benchmarks=["crc32"], budget=30))
    result.geomean_speedup, result.programs[0].best_pipeline

Modules: :mod:`~costtune.search.space` (the search spaces, documented there),
:mod:`~costtune.search.scorer` (cost-model scorers, local or gRPC),
:mod:`~costtune.search.loop` (the loop: a study per program, trial by trial up to the budget),
:mod:`~costtune.search.study` (the Optuna storage, studies, samplers, resuming),
:mod:`~costtune.search.evaluate` (compile, dedupe, claim and measure candidates; the budget),
:mod:`~costtune.search.results` and :mod:`~costtune.search.plot` (summary.json, best pipelines, progress.png),
:mod:`~costtune.search.config` (SearchConfig, YAML in ``tuner_configs/search_*.yaml``).
Retraining (``costtune retrain``, ``retrain_every``) is model code: :mod:`costtune.model.retrain`.
"""

from costtune.search.config import NEIGHBOUR_MOVES, OBJECTIVES, SAMPLERS, WARM_MODES, SearchConfig
from costtune.search.loop import run_search
from costtune.search.results import ProgramResult, SearchResult
from costtune.search.study import study_name
from costtune.search.space import SPACES, FlatSpace, O3EditSpace, SearchSpace, make_space

__all__ = ["SearchConfig", "SAMPLERS", "OBJECTIVES", "WARM_MODES", "NEIGHBOUR_MOVES", "SPACES", "run_search",
           "retrain_model", "SearchResult", "ProgramResult", "study_name", "SearchSpace", "O3EditSpace", "FlatSpace",
           "make_space"]


def __getattr__(name: str):
    if name == "retrain_model":  # kept here for callers of costtune.search; it lives with the model
        from costtune.model.retrain import retrain_model

        return retrain_model
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
