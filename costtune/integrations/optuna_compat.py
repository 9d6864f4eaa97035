"""The Optuna internals costtune uses, in one place, for the Optuna versions they were written for.

Optuna has no public API for these three; everything else costtune does with Optuna goes
through its public API.

:func:`set_system_attr`
    A sampler records what it did in the trial's system attributes, as Optuna's own
    samplers do (``study._storage.set_trial_system_attr(trial._trial_id, ...)``): a sampler
    gets a :class:`~optuna.trial.FrozenTrial`, whose public API cannot write.
:class:`TrialSnapshot`
    The study with its trials read once. TPE (whose ``constant_liar`` is on by default since
    Optuna 5) reads every trial from the storage for each parameter it samples (through
    ``study._get_trials``): k proposals of P parameters made k x P reads a trial, 74% of a
    cBench search's time at 250 trials.
:class:`TPEDraws`
    What ``TPESampler.sample_independent`` draws, with TPE's trial split and Parzen
    estimators built once per trial and parameter instead of once per drawn value (the same
    random stream, so the same draws). It reads TPE's settings and calls
    ``optuna.samplers._tpe.sampler._split_trials`` and the sampler's private estimator
    methods. :meth:`TPEDraws.available` is False where those are missing; a caller then uses
    ``sample_independent``.

``tests/test_optuna_compat.py`` exercises each against the installed Optuna.
"""

from __future__ import annotations

import copy

import optuna
from optuna.samplers import TPESampler
from optuna.study import Study
from optuna.trial import FrozenTrial, TrialState

try:
    from optuna.samplers._tpe.sampler import _split_trials, default_gamma, default_gamma_multiobjective
except ImportError:  # another Optuna: TPEDraws.available() is False
    _split_trials = None

#: the Optuna versions this module was written for and tested with
OPTUNA_VERSIONS = ">=5.0,<6"

__all__ = ["OPTUNA_VERSIONS", "supported", "set_system_attr", "TrialSnapshot", "TPEDraws"]


def supported(version: str | None = None) -> bool:
    """Whether ``version`` (default: the installed Optuna) is in :data:`OPTUNA_VERSIONS`."""
    from packaging.specifiers import SpecifierSet

    return (version or optuna.__version__) in SpecifierSet(OPTUNA_VERSIONS)


def set_system_attr(study: Study, trial: FrozenTrial, key: str, value) -> None:
    """Set a system attribute of ``trial`` (running, in ``study``) from inside a sampler."""
    study._storage.set_trial_system_attr(trial._trial_id, key, value)


class TrialSnapshot:
    """``study`` with its trials read once; everything else is the study's."""

    def __init__(self, study: Study):
        self._study = study
        self._trials = study.get_trials(deepcopy=False)

    def get_trials(self, deepcopy: bool = True, states=None) -> list[FrozenTrial]:
        trials = [t for t in self._trials if states is None or t.state in states]
        return copy.deepcopy(trials) if deepcopy else trials

    def _get_trials(self, deepcopy: bool = True, states=None, use_cache: bool = False) -> list[FrozenTrial]:
        return self.get_trials(deepcopy, states)  # the study method TPE reads its trials through

    @property
    def trials(self) -> list[FrozenTrial]:
        return self.get_trials()

    def __getattr__(self, name: str):
        return getattr(self._study, name)


class TPEDraws:
    """Draws of ``tpe`` for one trial: ``draw(name, dist)`` is ``tpe.sample_independent(study, trial,
    name, dist)``, with the trial split and the estimators of ``name`` built on the first draw only."""

    def __init__(self, tpe: TPESampler, study: Study | TrialSnapshot, trial: FrozenTrial):
        self.tpe, self.study, self.trial = tpe, study, trial
        self._finished: int | None = None
        self._split = None
        self._estimators: dict = {}

    @staticmethod
    def available(sampler) -> bool:
        """True for a plain TPESampler of an Optuna that has the internals this class reads."""
        return _split_trials is not None and type(sampler) is TPESampler

    def draw(self, name: str, dist):
        tpe, study, trial = self.tpe, self.study, self.trial
        if self._finished is None:
            self._finished = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)))
        if self._finished < tpe._n_startup_trials:
            return tpe._random_sampler.sample_independent(study, trial, name, dist)
        if name not in self._estimators:
            if self._split is None:
                liar = tpe._constant_liar
                states = (TrialState.COMPLETE, TrialState.PRUNED) + ((TrialState.RUNNING,) if liar else ())
                trials = [t for t in study.get_trials(deepcopy=False, states=states)
                          if not liar or t.number != trial.number]
                if tpe._gamma is None:
                    tpe._gamma = default_gamma if len(study.directions) <= 1 else default_gamma_multiobjective
                self._split = _split_trials(study, trials, tpe._gamma(sum(t.state != TrialState.RUNNING
                                                                          for t in trials)))
            below, above = self._split
            self._estimators[name] = (tpe._build_parzen_estimator(study, {name: dist}, below, handle_below=True),
                                      tpe._build_parzen_estimator(study, {name: dist}, above, handle_below=False))
        mpe_below, mpe_above = self._estimators[name]
        samples = mpe_below.sample(tpe._rng.rng, tpe._n_ei_candidates)
        best = TPESampler._compare(samples, tpe._compute_acquisition_func(samples, mpe_below, mpe_above))
        return dist.to_external_repr(best[name])
