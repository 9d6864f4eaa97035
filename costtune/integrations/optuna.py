"""An Optuna sampler that screens proposals with a cost model.

:class:`CostModelSampler` wraps any sampler. For each trial it draws ``k``
complete proposals from the base sampler (``sample_independent`` once per
parameter per proposal, over the fixed ``search_space`` you give it, or over
the intersection of the parameters of the study's finished trials), hands them
to ``scorer`` (a list of parameter dicts -> a list of costs, lower = better; a
cost of ``inf`` means "do not pick"), and returns the proposal with the lowest
cost. Only that one is evaluated by your objective, so expensive evaluations
go to the candidates the model likes best. Parameters outside the screened
space go to the base sampler as usual.

In your own study, about ten lines::

    import optuna
    from optuna.distributions import CategoricalDistribution
    from costtune.integrations.optuna import CostModelSampler
    from costtune.search.scorer import make_scorer, pipeline_scorer

    passes = ["licm", "gvn", "loop-unroll", "instcombine", "simplifycfg"]
    space = {f"p{i}": CategoricalDistribution(passes) for i in range(6)}
    to_pipeline = lambda p: ",".join(p[f"p{i}"] for i in range(6))    # catalog names; costtune nests them
    scorer = pipeline_scorer("builtin/sha256", to_pipeline, make_scorer(model=None, server=None))
    sampler = CostModelSampler(optuna.samplers.TPESampler(seed=0), scorer, k=16, search_space=space)
    study = optuna.create_study(sampler=sampler)
    study.optimize(lambda t: my_measure(to_pipeline({n: t.suggest_categorical(n, passes) for n in space})),
                   n_trials=30)

``scorer`` may be any callable, e.g. ``lambda props: model.score([functions_of(p) for p in props])``.
The sampler stores the chosen proposal's predicted cost and rank in the trial's
system attributes (``costtune:predicted``, ``costtune:k``).

``pool`` is a list of extra parameter dicts (say, pipelines that did well on
other programs) screened with the fresh proposals of every trial: the model
decides when, if ever, one of them is worth a real evaluation. A pool entry
that is picked leaves the pool (the trial gets ``costtune:from_pool``).

``neighbours`` adds that many local moves to every trial's screen: copies of
the best finished trial's parameters with one or two of them redrawn uniformly
(the trial gets ``costtune:neighbour`` when one is picked); ``mutate(params, rng)``, when
given, makes them instead (a move that knows what the parameters mean, say "this pass once
more, elsewhere"; it returns None to leave a neighbour to the uniform redraw). TPE samples each
parameter on its own and rarely proposes "the best, with one thing changed";
a cost model that knows which of those change nothing (or nothing for the
better) can afford to look at many of them.

``crossovers`` adds that many recombinations: two of the ``top`` best finished
trials (distinct parameter sets), the parameters in name order taken from the
first except for one contiguous run taken from the second (two-point
crossover; parameters named ``e0_op, e0_pass, e0_pos, e1_op, ...`` stay
together in their slots). Two pipelines that each found a gain in different
places of the program are one proposal away from having both (the trial gets
``costtune:crossover`` when one is picked).
"""

from __future__ import annotations

import math
import random
from typing import Callable, Sequence

from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.samplers import BaseSampler, RandomSampler
from optuna.search_space import IntersectionSearchSpace
from optuna.study import Study, StudyDirection
from optuna.trial import FrozenTrial, TrialState

from costtune.integrations.optuna_compat import TPEDraws, TrialSnapshot, set_system_attr
from costtune.logging import get_logger

log = get_logger(__name__)

__all__ = ["CostModelSampler"]

Scorer = Callable[[Sequence[dict]], Sequence[float]]


class CostModelSampler(BaseSampler):
    """Draw ``k`` proposals from ``base_sampler``; return the one ``scorer`` ranks best."""

    def __init__(self, base_sampler: BaseSampler | None, scorer: Scorer, k: int = 16,
                 search_space: dict[str, BaseDistribution] | None = None, pool: Sequence[dict] = (),
                 neighbours: int = 0, seed: int | None = None, crossovers: int = 0, top: int = 8,
                 mutate: Callable[[dict, random.Random], dict | None] | None = None):
        if k < 1:
            raise ValueError("k must be >= 1")
        if neighbours < 0 or crossovers < 0:
            raise ValueError("neighbours and crossovers must be >= 0")
        if top < 2:
            raise ValueError("top must be >= 2 (a crossover has two parents)")
        self.base = base_sampler or RandomSampler()
        self.scorer = scorer
        self.k = k
        self.search_space = dict(search_space) if search_space is not None else None
        self.pool = [dict(p) for p in pool]
        self.neighbours = neighbours
        self.crossovers = crossovers
        self.top = top
        self.mutate = mutate
        self._rng = random.Random(seed)
        self._fast = True
        self._intersection = IntersectionSearchSpace()
        self.last_costs: list[float] = []  #: costs of the last trial's proposals (for inspection)
        self.last_proposals: list[dict] = []  #: the last trial's proposals: k drawn, neighbours, crossovers, pool
        self.last_fresh = 0  #: how many of them are not pool entries
        self.last_pick: int | None = None  #: the index of the one returned

    def reseed_rng(self) -> None:
        self.base.reseed_rng()

    def infer_relative_search_space(self, study: Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
        if self.search_space is not None:
            return dict(self.search_space)
        return {n: d for n, d in self._intersection.calculate(study).items() if not d.single()}

    def sample_relative(self, study: Study, trial: FrozenTrial,
                        search_space: dict[str, BaseDistribution]) -> dict:
        if not search_space:
            return {}
        proposals = []
        snapshot = TrialSnapshot(study)  # TPE reads every trial for each value it draws
        draws = TPEDraws(self.base, snapshot, trial) if self._fast and TPEDraws.available(self.base) else None
        for _ in range(self.k):
            proposals.append({name: self._independent(snapshot, trial, name, dist, draws)
                              for name, dist in search_space.items()})
        drawn = len(proposals)
        names = sorted(search_space)
        done = self._ranked(snapshot, names)
        proposals += self._neighbours(done, names, search_space)
        local = len(proposals)
        proposals += self._crossovers(done, names)
        fresh = len(proposals)
        pooled = [p for p in self.pool if set(p) == set(search_space)]
        proposals += pooled
        costs = [float(c) for c in self.scorer(proposals)]
        if len(costs) != len(proposals):
            raise ValueError(f"scorer returned {len(costs)} costs for {len(proposals)} proposals")
        self.last_costs, self.last_proposals, self.last_fresh = costs, proposals, fresh
        finite = [i for i, c in enumerate(costs) if not math.isnan(c)]
        best = min(finite, key=lambda i: (costs[i], i)) if finite else 0
        set_system_attr(study, trial, "costtune:predicted", costs[best] if math.isfinite(costs[best]) else None)
        set_system_attr(study, trial, "costtune:k", len(proposals))
        if best >= fresh:
            self.pool.remove(proposals[best])
            set_system_attr(study, trial, "costtune:from_pool", True)
        elif best >= local:
            set_system_attr(study, trial, "costtune:crossover", True)
        elif best >= drawn:
            set_system_attr(study, trial, "costtune:neighbour", True)
        self.last_pick = best
        return proposals[best]

    def _ranked(self, study, names: list[str]) -> list[dict]:
        """The finished trials' parameter sets, best first, each once (only what the local moves need)."""
        if not (self.neighbours or self.crossovers) or len(study.directions) > 1:
            return []
        sign = 1 if study.direction == StudyDirection.MINIMIZE else -1
        done = sorted((t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
                       if t.value is not None and all(n in t.params for n in names)),
                      key=lambda t: (sign * t.value, t.number))
        out, seen = [], set()
        for t in done:
            p = {n: t.params[n] for n in names}
            key = tuple(p.items())
            if key not in seen:
                seen.add(key)
                out.append(p)
            if len(out) >= self.top:
                break
        return out

    def _neighbours(self, done: list[dict], names: list[str],
                    search_space: dict[str, BaseDistribution]) -> list[dict]:
        """``neighbours`` copies of the best finished trial's parameters, one or two redrawn (or
        what ``mutate`` makes of them)."""
        if not self.neighbours or not done:
            return []
        out = []
        for _ in range(self.neighbours):
            moved = self.mutate(dict(done[0]), self._rng) if self.mutate else None
            if moved is not None:
                out.append(moved)
                continue
            p = dict(done[0])
            for n in self._rng.sample(names, min(len(names), self._rng.choice((1, 2)))):
                p[n] = _uniform(self._rng, search_space[n])
            out.append(p)
        return out

    def _crossovers(self, done: list[dict], names: list[str]) -> list[dict]:
        """``crossovers`` two-point crossovers of two of the ``top`` best parameter sets."""
        if not self.crossovers or len(done) < 2:
            return []
        out = []
        for _ in range(self.crossovers):
            a, b = self._rng.sample(done, 2)
            i, j = sorted(self._rng.sample(range(len(names) + 1), 2))
            out.append({n: (b if i <= x < j else a)[n] for x, n in enumerate(names)})
        return out

    def _independent(self, study, trial: FrozenTrial, name: str, dist: BaseDistribution, draws: TPEDraws | None):
        """``base.sample_independent``; for TPE with its estimators built once per trial and parameter.

        TPE splits the trials and fits two Parzen estimators for every value it draws, the
        same ones k times over here. :class:`~costtune.integrations.optuna_compat.TPEDraws`
        draws exactly what TPE draws (same random stream; tested), without the repeats.
        Anything else, or a TPE whose internals differ from those it was written for, goes
        through ``sample_independent``."""
        if draws is None or not self._fast:
            return self.base.sample_independent(study, trial, name, dist)
        try:
            return draws.draw(name, dist)
        except (AttributeError, TypeError) as e:  # another Optuna: TPE's own way from now on
            self._fast = False
            log.debug("TPE fast path off: %s", e)
            return self.base.sample_independent(study, trial, name, dist)

    def sample_independent(self, study: Study, trial: FrozenTrial, param_name: str,
                           param_distribution: BaseDistribution):
        return self.base.sample_independent(study, trial, param_name, param_distribution)

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        self.base.before_trial(study, trial)

    def after_trial(self, study: Study, trial: FrozenTrial, state: TrialState,
                    values: Sequence[float] | None) -> None:
        self.base.after_trial(study, trial, state, values)


def _uniform(rng: random.Random, dist: BaseDistribution):
    """A uniform draw from ``dist`` (a redrawn parameter of a neighbour)."""
    if isinstance(dist, CategoricalDistribution):
        return rng.choice(dist.choices)
    if isinstance(dist, IntDistribution):
        return rng.randrange(dist.low, dist.high + 1, dist.step)
    if isinstance(dist, FloatDistribution):
        if dist.step:
            return dist.low + dist.step * rng.randint(0, int(round((dist.high - dist.low) / dist.step)))
        return rng.uniform(dist.low, dist.high)
    raise TypeError(f"cannot draw from {type(dist).__name__}")
