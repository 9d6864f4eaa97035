"""Autotuning with the cost model: ``costtune search`` and ``costtune retrain``.

    from costtune.search import SearchConfig, run_search
    result = run_search(SearchConfig(benchmarks=["crc32"], budget=30))
    result.geomean_speedup, result.programs[0].best_pipeline

Modules: :mod:`~costtune.search.space` (the search spaces, documented there),
:mod:`~costtune.search.scorer` (cost-model scorers, local or gRPC),
:mod:`~costtune.search.loop` (studies, measuring, dedupe, resume, retraining),
:mod:`~costtune.search.config` (SearchConfig, YAML in ``tuner_configs/search_*.yaml``).
"""

from costtune.search.config import NEIGHBOUR_MOVES, OBJECTIVES, SAMPLERS, WARM_MODES, SearchConfig
from costtune.search.loop import ProgramResult, SearchResult, retrain_model, run_search, study_name
from costtune.search.space import SPACES, FlatSpace, O3EditSpace, SearchSpace, make_space

__all__ = ["SearchConfig", "SAMPLERS", "OBJECTIVES", "WARM_MODES", "NEIGHBOUR_MOVES", "SPACES", "run_search",
           "retrain_model", "SearchResult", "ProgramResult", "study_name", "SearchSpace", "O3EditSpace", "FlatSpace",
           "make_space"]
