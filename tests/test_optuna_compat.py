"""The Optuna internals in costtune.integrations.optuna_compat, against the installed Optuna (real SQLite studies)."""

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState

from costtune.integrations import optuna_compat
from costtune.integrations.optuna_compat import TPEDraws, TrialSnapshot, set_system_attr

SPACE = {"c": CategoricalDistribution(["a", "b", "c", "d"]), "n": IntDistribution(0, 9),
         "x": FloatDistribution(0.0, 1.0)}


def _study(tmp_path, n_trials=12):
    study = optuna.create_study(storage=f"sqlite:///{tmp_path / 's.db'}", sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(lambda t: "abcd".index(t.suggest_categorical("c", list("abcd"))) + t.suggest_int("n", 0, 9)
                   + t.suggest_float("x", 0.0, 1.0), n_trials=n_trials)
    return study


def test_the_installed_optuna_is_one_the_adapter_was_written_for():
    assert optuna_compat.supported(), f"optuna {optuna.__version__} is outside {optuna_compat.OPTUNA_VERSIONS}"
    assert optuna_compat.supported("5.1.0") and not optuna_compat.supported("6.0.0")
    assert not optuna_compat.supported("4.5.0")


def test_set_system_attr_writes_the_running_trials_attribute(tmp_path):
    study = _study(tmp_path, 2)
    number = study.ask().number
    (running,) = study.get_trials(states=(TrialState.RUNNING,))
    set_system_attr(study, running, "costtune:k", 16)
    set_system_attr(study, running, "costtune:predicted", None)
    again = optuna.load_study(study_name=study.study_name, storage=f"sqlite:///{tmp_path / 's.db'}")
    (trial,) = [t for t in again.trials if t.number == number]
    assert trial.system_attrs["costtune:k"] == 16 and trial.system_attrs["costtune:predicted"] is None


def test_a_snapshot_reads_the_trials_once_and_answers_as_the_study(tmp_path, monkeypatch):
    study = _study(tmp_path)
    study.ask()
    reads = []
    real = study._storage.get_all_trials
    monkeypatch.setattr(study._storage, "get_all_trials", lambda *a, **k: reads.append(1) or real(*a, **k))
    snap = TrialSnapshot(study)
    done = (TrialState.COMPLETE,)
    for _ in range(3):
        assert [t.number for t in snap.get_trials(deepcopy=False, states=done)] == list(range(12))
        # the private method TPE reads through
        assert [t.number for t in snap._get_trials(deepcopy=False, states=done, use_cache=True)] == list(range(12))
    assert len(snap.get_trials(states=(TrialState.RUNNING,))) == 1 and len(snap.trials) == 13
    assert len(reads) == 1
    assert snap.study_name == study.study_name and snap.direction == study.direction
    copied = snap.get_trials(deepcopy=True)[0]
    copied.user_attrs["x"] = 1
    assert "x" not in snap.get_trials(deepcopy=False)[0].user_attrs


@pytest.mark.parametrize("n_startup", [5, 20])  # after TPE's random startup trials, and during them
def test_tpe_draws_are_what_tpe_draws(tmp_path, n_startup):
    study = _study(tmp_path)
    study.ask()
    (trial,) = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    snap = TrialSnapshot(study)
    plain, fast = (optuna.samplers.TPESampler(seed=3, n_startup_trials=n_startup) for _ in range(2))
    assert TPEDraws.available(fast) and not TPEDraws.available(optuna.samplers.RandomSampler())
    draws = TPEDraws(fast, snap, trial)
    want = [{n: plain.sample_independent(snap, trial, n, d) for n, d in SPACE.items()} for _ in range(4)]
    got = [{n: draws.draw(n, d) for n, d in SPACE.items()} for _ in range(4)]
    assert got == want and len({str(p) for p in got}) > 1
    assert all(p["c"] in "abcd" and 0 <= p["n"] <= 9 and 0.0 <= p["x"] <= 1.0 for p in got)
