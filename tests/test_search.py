"""costtune search end to end: real compiles, real qemu counts, a real tiny model, real SQLite/PostgreSQL.

Small on purpose: builtin programs with repeat=1, budgets of 4-6 measurements, k=3.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import multiprocessing
import os
import time
from pathlib import Path

import optuna
import pytest
import sqlalchemy.exc

from costtune.cli import main as cli_main  # noqa: E402
from costtune.errors import ConfigError  # noqa: E402
from costtune.records import RecordStore  # noqa: E402
from costtune.search import SearchConfig, run_search, study_name  # noqa: E402

PROGRAM = "bitcount"


def build_tiny_model(root: Path) -> Path:
    """A real (tiny) cost model: O0-O3 of two builtin programs, a 2-layer Llama, a LoRA rank head."""
    from costtune.asm import program_functions
    from costtune.benchmarks import get_benchmark
    from costtune.compile import compile_benchmark
    from costtune.measure import measure
    from costtune.model import PretrainConfig, TrainConfig
    from costtune.model.pretrain import pretrain
    from costtune.model.train import train
    from costtune.tokenizer import train_spm

    rows = []
    progs = ("builtin/bitcount", "builtin/checksum")
    for prog in progs:
        bench = get_benchmark(prog)
        for p in ("O0", "O1", "O2", "O3"):
            cr = compile_benchmark(bench, p)
            assert cr.ok, cr.describe()
            m = measure(cr.artifact, bench, metric="insns", repeat=1)
            assert m.ok, m.describe()
            fns = program_functions(cr.artifact)
            rows.append({"program": prog, "candidate": p, "pipeline": p, "latency": m.value, "functions": fns,
                         "text": "\n".join(fns.values()), "split": "test" if prog == progs[1] else "train"})
    data = root / "data"
    data.mkdir(parents=True)
    (data / "ranking.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (data / "all_assembly.txt").write_text("\n".join(r["text"] for r in rows))
    train_spm(data / "all_assembly.txt", 400, root / "tok")
    pretrain(data / "all_assembly.txt", root / "tok", root / "llama",
             PretrainConfig(hidden_size=64, num_layers=2, num_heads=2, intermediate_size=128, max_len=64, steps=20,
                            batch_size=4, lr=1e-2, warmup=2, threads=1, device="cpu"))
    train(data, root / "llama", root / "model",
          TrainConfig(max_len=64, max_chunks=2, group_size=3, epochs=1.0, lr=5e-3, warmup=1, threads=1, device="cpu"))
    return root / "model"


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tinymodel"))


def _config(tmp: Path, **kw) -> SearchConfig:
    base = dict(benchmarks=[PROGRAM], budget=4, k=3, repeat=1, out=str(tmp / "out"), progress=False,
                startup_trials=2, slots=4, max_trials_factor=30)
    base.update(kw)
    return SearchConfig(**base)


def _measured(db) -> list:
    with RecordStore(db) as s:
        return [r for r in s.records() if r.reused_from is None and r.status != "compile_error"]


# ----------------------------------------------------------------------------- the space

def test_o3_edit_space_expresses_o3_and_keeps_levels():
    import random

    from costtune.passes import check_syntax, load_catalog, parse_pipeline
    from costtune.search.space import make_space
    from costtune.toolchain import find

    tc = find()
    cat = load_catalog(tc.llvm)
    space = make_space("o3-edits", cat, tc.opt, slots=6)
    assert space.pipeline(space.o3_params()) == "O3"
    assert "cgscc(" in space.o3_text and "inline" in parse_pipeline(space.o3_text, cat)
    # inserting the inliner lands inside the CGSCC walk; inserting a loop pass inside a loop pipeline
    p = dict(space.o3_params(), e0_op="insert", e0_pos=0, e0_pass="inline")
    text = space.pipeline(p)
    assert text.count(",inline,") + text.count("(inline,") >= 2 and text.count("cgscc(") == 1
    p = dict(space.o3_params(), e0_op="insert", e0_pos=0, e0_pass="loop-deletion")
    before = space.o3_text.count("loop-deletion")
    assert space.pipeline(p).count("loop-deletion") == before + 1
    rng = random.Random(0)
    dists = space.distributions()
    for _ in range(30):
        params = {n: rng.choice(d.choices) if hasattr(d, "choices") else rng.randint(d.low, d.high)
                  for n, d in dists.items()}
        text = space.pipeline(params)
        if text != "O3":
            check_syntax(text)
    flat = make_space("flat", cat, tc.opt, length=5)
    assert set(flat.distributions()) == {f"p{i}" for i in range(5)}
    assert flat.pipeline({f"p{i}": "-" for i in range(5)}) == "O0"


def test_local_moves_repeat_an_added_pass_or_insert_a_new_one_in_a_free_slot():
    import random

    from costtune.passes import load_catalog
    from costtune.search.space import make_space
    from costtune.toolchain import find

    tc = find()
    space = make_space("o3-edits", load_catalog(tc.llvm), tc.opt, slots=4)
    o3 = space.o3_params()
    best = dict(o3, e0_op="insert", e0_pos=5, e0_pass="sink", e1_op="replace", e1_pos=40, e1_pass="reg2mem",
                e2_op="delete", e2_pos=9, e2_pass="licm")
    rng = random.Random(0)
    for kinds, share in (("repeat", 1 / 2), ("edits", 2 / 3)):
        made = [m for m in (space.local_move(dict(best), rng, kinds) for _ in range(300)) if m is not None]
        assert abs(len(made) / 300 - share) < 0.1  # the rest are left to the uniform redraw
        for m in made:  # slot 3 was the only free one; everything else kept
            assert {n: v for n, v in m.items() if not n.startswith("e3_")} == {n: v for n, v in best.items()
                                                                               if not n.startswith("e3_")}
            assert m["e3_op"] == "insert" and 0 <= m["e3_pos"] < space.n_leaves
            runs = [len(re.findall(rf"(?<![\w-]){m['e3_pass']}(?![\w-])", space.pipeline(q))) for q in (best, m)]
            assert runs[1] == runs[0] + 1  # the pass runs once more
        repeated = [m for m in made if m["e3_pass"] in ("sink", "reg2mem")]
        assert {m["e3_pass"] for m in repeated} == {"sink", "reg2mem"} and len({m["e3_pos"] for m in made}) > 20
        new = len({m["e3_pass"] for m in made} - {"sink", "reg2mem"})
        assert (new == 0) if kinds == "repeat" else (new > 30 and len(repeated) > len(made) / 3)
    assert all(space.local_move(dict(o3), rng, "repeat") is None for _ in range(20))  # nothing to repeat
    assert any(space.local_move(dict(o3), rng, "edits") is not None for _ in range(20))  # but a new pass
    full = dict(best, e3_op="swap", e3_pos=3)
    assert all(space.local_move(dict(full), rng, "edits") is None for _ in range(20))  # no free slot
    with pytest.raises(ConfigError, match="needs --neighbours"):
        SearchConfig(benchmarks=[PROGRAM], neighbour_moves="repeat")
    with pytest.raises(ConfigError, match="needs --neighbours N and the o3-edits"):
        SearchConfig(benchmarks=[PROGRAM], neighbours=2, neighbour_moves="edits", space="flat")
    with pytest.raises(ConfigError, match="neighbour-moves must be one of"):
        SearchConfig(benchmarks=[PROGRAM], neighbours=2, neighbour_moves="swap")


# ----------------------------------------------------------------------------- the sampler

def test_cost_model_sampler_returns_the_best_scored_proposal():
    from optuna.distributions import FloatDistribution, IntDistribution

    from costtune.integrations.optuna import CostModelSampler

    space = {"x": FloatDistribution(-10, 10), "n": IntDistribution(0, 5)}
    seen = []

    def scorer(props):  # a real cost function: distance to (3, 2)
        costs = [abs(p["x"] - 3.0) + abs(p["n"] - 2) for p in props]
        seen.append((props, costs))
        return costs

    sampler = CostModelSampler(optuna.samplers.RandomSampler(seed=1), scorer, k=8, search_space=space)
    study = optuna.create_study(sampler=sampler)
    study.optimize(lambda t: (t.suggest_float("x", -10, 10) - 3.0) ** 2 + t.suggest_int("n", 0, 5), n_trials=6)
    assert len(seen) == 6
    for trial, (props, costs) in zip(study.trials, seen):
        assert len(props) == 8 and len({round(p["x"], 9) for p in props}) == 8  # k distinct draws
        best = props[min(range(8), key=lambda i: costs[i])]
        assert trial.params == best
        assert trial.system_attrs["costtune:predicted"] == pytest.approx(min(costs))
    # screening helps: the chosen x are closer to 3 than plain random draws on average
    assert sum(abs(t.params["x"] - 3) for t in study.trials) / 6 < 5.0


def test_cost_model_sampler_screens_its_pool_with_the_proposals_and_takes_a_picked_entry_out():
    from optuna.distributions import FloatDistribution

    from costtune.integrations.optuna import CostModelSampler

    space = {"x": FloatDistribution(-10, 10)}
    pool = [{"x": 3.0}, {"x": 3.5}, {"x": -9.0}]  # two better than any random draw is likely to be, one worse
    sampler = CostModelSampler(optuna.samplers.RandomSampler(seed=2), lambda ps: [abs(p["x"] - 3) for p in ps],
                               k=4, search_space=space, pool=pool)
    study = optuna.create_study(sampler=sampler)
    study.optimize(lambda t: t.suggest_float("x", -10, 10), n_trials=4)
    xs = [t.params["x"] for t in study.trials]
    assert xs[:2] == [3.0, 3.5] and -9.0 not in xs  # best first, each once; the bad one never wins the screen
    assert [t.system_attrs.get("costtune:from_pool", False) for t in study.trials] == [True, True, False, False]
    assert sampler.pool == [{"x": -9.0}] and pool == [{"x": 3.0}, {"x": 3.5}, {"x": -9.0}]  # the caller's list kept


def test_cost_model_sampler_screens_neighbours_of_the_best_trial():
    from optuna.distributions import CategoricalDistribution, IntDistribution

    from costtune.integrations.optuna import CostModelSampler

    space = {f"c{i}": CategoricalDistribution(list("abcd")) for i in range(6)} | {"n": IntDistribution(0, 9)}
    target = {**{f"c{i}": "abcd"[i % 4] for i in range(6)}, "n": 7}

    def dist(p):
        return sum(p[k] != v for k, v in target.items())

    seen = []

    def scorer(props):
        seen.append(props)
        return [dist(p) for p in props]

    sampler = CostModelSampler(optuna.samplers.RandomSampler(seed=0), scorer, k=2, search_space=space,
                               neighbours=6, seed=0)
    study = optuna.create_study(sampler=sampler)
    study.optimize(lambda t: dist({n: (t.suggest_int(n, 0, 9) if n == "n" else t.suggest_categorical(n, list("abcd")))
                                   for n in space}), n_trials=25)
    assert len(seen[0]) == 2  # no finished trial yet: no neighbours
    for trial_props, before in zip(seen[1:], study.trials):
        best = min((t for t in study.trials if t.number < before.number + 1), key=lambda t: (t.value, t.number))
        for p in trial_props[2:]:
            assert 1 <= sum(p[n] != best.params[n] for n in space) <= 2 or p == best.params
        assert len(trial_props) == 8 and sampler.last_fresh == 8
    assert study.best_value <= 1  # local moves under a cost model that knows the way: near the target
    assert any(t.system_attrs.get("costtune:neighbour") for t in study.trials)
    # random draws alone, same trials: far from it
    plain = optuna.create_study(sampler=CostModelSampler(optuna.samplers.RandomSampler(seed=0), scorer, k=8,
                                                         search_space=space))
    plain.optimize(lambda t: dist({n: (t.suggest_int(n, 0, 9) if n == "n" else t.suggest_categorical(n, list("abcd")))
                                   for n in space}), n_trials=25)
    assert plain.best_value > study.best_value
    # a move of the caller's own (mutate) makes the neighbours; None leaves one to the uniform redraw
    seen.clear()
    moved = CostModelSampler(optuna.samplers.RandomSampler(seed=0), scorer, k=2, search_space=space, neighbours=6,
                             seed=0, mutate=lambda p, rng: {**p, "n": 0} if rng.random() < 0.5 else None)
    mstudy = optuna.create_study(sampler=moved)
    mstudy.optimize(lambda t: dist({n: (t.suggest_int(n, 0, 9) if n == "n" else t.suggest_categorical(n, list("abcd")))
                                    for n in space}), n_trials=3)
    best = min(mstudy.trials[:2], key=lambda t: (t.value, t.number)).params
    kinds = [p == {**best, "n": 0} for p in seen[2][2:]]
    assert any(kinds) and not all(kinds)
    with pytest.raises(ConfigError, match="neighbours needs the proxy"):
        SearchConfig(benchmarks=[PROGRAM], sampler="tpe", neighbours=2)


def test_cost_model_sampler_screens_crossovers_of_the_best_trials():
    from optuna.distributions import CategoricalDistribution

    from costtune.integrations.optuna import CostModelSampler

    names = [f"c{i}" for i in range(8)]
    space = {n: CategoricalDistribution(list("abcdefgh")) for n in names}
    target = {n: "abcdefgh"[i] for i, n in enumerate(names)}
    front = {n: (target[n] if i < 4 else "h") for i, n in enumerate(names)}  # right in the first half only
    back = {n: (target[n] if i >= 4 else "h") for i, n in enumerate(names)}  # ... in the second half only

    def dist(p):
        return sum(p[n] != v for n, v in target.items())

    def run(crossovers):
        seen = []

        def scorer(props):
            seen.append(props)
            return [dist(p) for p in props]

        sampler = CostModelSampler(optuna.samplers.RandomSampler(seed=0), scorer, k=2, search_space=space,
                                   crossovers=crossovers, seed=0)
        study = optuna.create_study(sampler=sampler)
        study.enqueue_trial(front)
        study.enqueue_trial(back)
        study.optimize(lambda t: dist({n: t.suggest_categorical(n, list("abcdefgh")) for n in names}), n_trials=12)
        return study, seen

    study, seen = run(crossovers=6)
    assert study.best_value == 0  # the two halves recombined
    assert any(t.system_attrs.get("costtune:crossover") for t in study.trials)
    for props, before in zip(seen, study.trials[2:]):  # the screens (enqueued trials have none)
        done = [t.params for t in study.trials if t.number < before.number]
        assert len(props) == 2 + 6
        for p in props[2:]:  # one parent's parameters, with one contiguous run of the other's
            runs = [[p[n] == a[n] for n in names] for a in done]
            assert any(all(r[:i] + r[j:]) and all(p[n] == b[n] for n in names[i:j])
                       for r in runs for b in done for i in range(9) for j in range(i, 9))
    plain, _ = run(crossovers=0)
    assert plain.best_value > 0
    with pytest.raises(ConfigError, match="crossovers needs the proxy"):
        SearchConfig(benchmarks=[PROGRAM], sampler="tpe", crossovers=2)
    with pytest.raises(ValueError, match="two parents"):
        CostModelSampler(None, lambda props: [0.0] * len(props), top=1)


def test_the_sampler_draws_what_tpe_draws_reading_the_trials_once_and_fitting_tpe_once(tmp_path, monkeypatch):
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    from costtune.integrations.optuna import CostModelSampler

    space = {f"p{i}": CategoricalDistribution(["a", "b", "c", "d"]) for i in range(5)} | {
        "n": IntDistribution(0, 9), "x": FloatDistribution(0.0, 1.0)}
    study = optuna.create_study(storage=f"sqlite:///{tmp_path / 's.db'}", sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(lambda t: sum("abcd".index(t.suggest_categorical(f"p{i}", list("abcd"))) for i in range(5))
                   + t.suggest_int("n", 0, 9) + t.suggest_float("x", 0.0, 1.0), n_trials=15)
    trial = study._storage.get_trial(study.ask()._trial_id)
    real_read, real_fit = study._storage.get_all_trials, optuna.samplers.TPESampler._build_parzen_estimator
    draws = {}
    for fast in (False, True):
        seen, reads, fits = [], [], []
        sampler = CostModelSampler(optuna.samplers.TPESampler(seed=3, n_startup_trials=5),
                                   lambda props: seen.append(props) or [0.0] * len(props), k=4, search_space=space)
        sampler._fast = fast
        monkeypatch.setattr(study._storage, "get_all_trials", lambda *a, **k: reads.append(1) or real_read(*a, **k))
        monkeypatch.setattr(optuna.samplers.TPESampler, "_build_parzen_estimator",
                            lambda *a, **k: fits.append(1) or real_fit(*a, **k))
        sampler.sample_relative(study, trial, space)
        draws[fast] = seen[0]
        assert len(reads) == 1  # once a trial, not once per parameter and proposal
        assert len(fits) == 2 * len(space) * (1 if fast else 4)
    assert draws[True] == draws[False] and len({str(p) for p in draws[True]}) > 1


# ----------------------------------------------------------------------------- search end to end

def test_search_with_the_proxy_writes_outputs_and_starts_from_o3(tmp_path, tiny_model):
    cfg = _config(tmp_path, model=str(tiny_model))
    res = run_search(cfg)
    out = Path(cfg.out)
    (p,) = res.programs
    assert p.o3_value > 0 and p.best_value <= p.o3_value and p.measurements == cfg.budget
    assert (out / f"best_{PROGRAM}.txt").read_text().strip() == p.best_pipeline
    assert (out / "progress.png").read_bytes()[:4] == b"\x89PNG"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["programs"][0]["benchmark"] == f"builtin/{PROGRAM}"
    study = optuna.load_study(study_name=study_name(cfg, f"builtin/{PROGRAM}"), storage=cfg.storage_url)
    first = min(study.trials, key=lambda t: t.number)
    assert first.user_attrs["preset"] == "O3" and first.user_attrs["pipeline"] == "default<O3>"
    assert first.value == pytest.approx(1.0)
    proxied = [t for t in study.trials if "costtune:predicted" in t.system_attrs]
    assert proxied, "no trial went through the cost-model screening"
    rows = _measured(cfg.db_url)
    assert len(rows) == cfg.budget  # every real measurement is a record, and only those
    hashes = [r.binary_hash for r in rows]
    assert len(set(hashes)) == len(hashes)  # an identical binary is measured once
    assert all(r.value and r.label.startswith("search:") for r in rows)


def _two_workers(tmp_path, storage, db, budget, seeds, **kw):
    """Two search processes on one study; each must finish cleanly. Returns the last config."""
    ctx = multiprocessing.get_context("spawn")
    procs = []
    for i, seed in enumerate(seeds):
        cfg = _config(tmp_path / f"w{i}", sampler="tpe", budget=budget, storage=storage, db=db, seed=seed, **kw)
        procs.append(ctx.Process(target=_worker, args=(cfg.__dict__.copy(),)))
    for p in procs:
        p.start()
    for p in procs:
        p.join(600)
        assert p.exitcode == 0
    return cfg


def _worker(cfg_dict: dict) -> None:
    run_search(SearchConfig(**cfg_dict))


def test_a_killed_search_resumes_and_redoes_the_running_trial(tmp_path):
    from optuna.trial import TrialState

    # repeat 40: each trial runs ~0.5 s under qemu, so the kill lands inside a trial even when
    # every compile is already cached (with repeat 1 a trial can finish between poll and kill)
    cfg = _config(tmp_path, sampler="tpe", budget=6, startup_trials=10, repeat=40)
    ctx = multiprocessing.get_context("spawn")
    proc = ctx.Process(target=_worker, args=(cfg.__dict__.copy(),))
    proc.start()
    deadline = time.time() + 240
    name = study_name(cfg, f"builtin/{PROGRAM}")
    running = None
    while time.time() < deadline and proc.is_alive():
        if (Path(cfg.out) / "search.db").exists():
            try:
                study = optuna.load_study(study_name=name, storage=cfg.storage_url)
                done = [t for t in study.trials if t.state == TrialState.COMPLETE]
                running = [t for t in study.trials if t.state == TrialState.RUNNING and "worker_pid" in t.user_attrs]
                if len(done) >= 2 and running:
                    break
            except (KeyError, sqlalchemy.exc.OperationalError):  # not created yet / schema being created
                pass
        time.sleep(0.05)
    assert proc.is_alive(), "the search finished before it could be killed"
    proc.kill()
    proc.join()
    study = optuna.load_study(study_name=name, storage=cfg.storage_url)
    running = [t for t in study.trials if t.state == TrialState.RUNNING]
    assert running, "the kill landed between two trials"  # trials spend nearly all their time running
    killed = running[0].number
    res = run_search(cfg)
    study = optuna.load_study(study_name=name, storage=cfg.storage_url)
    states = {t.number: t.state for t in study.trials}
    assert states[killed] == TrialState.FAIL
    assert not [t for t in study.trials if t.state == TrialState.RUNNING]
    assert res.programs[0].measurements >= cfg.budget
    rows = _measured(cfg.db_url)
    assert len({r.binary_hash for r in rows}) == len(rows)
    assert len(rows) <= cfg.budget + 1  # at most the killed trial's measurement is extra


def test_ctrl_c_stops_a_search_with_one_line_and_the_rerun_resumes(tmp_path):
    """SIGINT inside a trial: 'costtune: interrupted', exit 130, no traceback (Optuna's included)."""
    import signal
    import subprocess
    import sys

    from optuna.trial import TrialState

    out = tmp_path / "out"
    argv = [sys.executable, "-m", "costtune", "search", "--benchmarks", PROGRAM, "--sampler", "tpe", "--budget", "6",
            "--repeat", "40", "--out", str(out), "--no-progress"]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    # a shell's background job ignores SIGINT, and so would Python started from it: a terminal's default
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    cfg = _config(tmp_path, sampler="tpe", budget=6, slots=8, startup_trials=10, max_trials_factor=10.0, repeat=40)
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:  # wait for a trial to be running
        try:
            study = optuna.load_study(study_name=study_name(cfg, f"builtin/{PROGRAM}"), storage=cfg.storage_url)
            if [t for t in study.trials if t.state == TrialState.RUNNING and "worker_pid" in t.user_attrs]:
                break
        except (KeyError, sqlalchemy.exc.OperationalError):
            pass
        time.sleep(0.05)
    assert proc.poll() is None, "the search finished before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "Traceback" not in err, err
    assert err.strip().splitlines()[-1] == "costtune: interrupted", err
    assert run_search(cfg).programs[0].measurements >= 6


def test_a_budget_slot_is_not_given_while_slots_in_flight_would_pass_the_budget(tmp_path):
    from costtune.search.evaluate import budget_slot

    class Study:  # what budget_slot reads of an evaluator: its label and the measurements it recorded
        label, recorded = "search:s", 4

        def spent(self):
            return self.recorded

    ev, url = Study(), tmp_path / "r.db"
    with RecordStore(url, worker="a") as a, RecordStore(url, worker="b") as b:
        slot_a, slot_b = budget_slot(a, ev, 6), budget_slot(b, ev, 6)
        assert slot_a and slot_b and slot_a != slot_b
        ev.recorded += 1  # b measured and let its slot go; a still measures: one measurement is left
        b.release(slot_b)
        assert budget_slot(b, ev, 6) is None
        ev.recorded += 1
        a.release(slot_a)
        assert budget_slot(b, ev, 6) is None  # the budget is spent
    with RecordStore(url, worker="a") as a, RecordStore(url, worker="c", claim_ttl=0) as c:
        ev.recorded = 5
        assert budget_slot(c, ev, 6)  # c dies holding its slot: once stale, it counts no more
        time.sleep(0.01)
        assert budget_slot(a, ev, 6)


def test_two_workers_share_one_study_on_postgresql(tmp_path, postgres_url):
    from conftest import create_database
    from optuna.trial import TrialState

    storage, db = create_database(postgres_url), create_database(postgres_url)
    cfg = _two_workers(tmp_path, storage, db, budget=6, seeds=(0, 1))
    rows = _measured(db)
    hashes = [r.binary_hash for r in rows]
    assert len(set(hashes)) == len(hashes), "a binary was measured twice"
    assert len(rows) == 6  # one study budget, held exactly across workers
    study = optuna.load_study(study_name=study_name(cfg, f"builtin/{PROGRAM}"), storage=storage)
    workers = {t.user_attrs.get("worker_pid") for t in study.trials if t.state == TrialState.COMPLETE}
    assert len(workers) == 2  # both workers ran trials of the one study
    presets = [t for t in study.trials if t.user_attrs.get("preset") == "O3"]
    assert len(presets) == 1


def test_two_workers_with_one_seed_keep_the_budget_exactly_and_do_not_repeat_draws(tmp_path, postgres_url):
    from conftest import create_database
    from optuna.trial import TrialState

    storage, db = create_database(postgres_url), create_database(postgres_url)
    # the same seed: before, both drew the same parameters and overshot the budget
    cfg = _two_workers(tmp_path, storage, db, budget=8, seeds=(0, 0), startup_trials=20)
    assert len(_measured(db)) == 8
    study = optuna.load_study(study_name=study_name(cfg, f"builtin/{PROGRAM}"), storage=storage)
    drawn = [tuple(sorted(t.params.items())) for t in study.trials
             if t.state == TrialState.COMPLETE and "preset" not in t.user_attrs]
    assert len({t.user_attrs.get("worker_pid") for t in study.trials if t.state == TrialState.COMPLETE}) == 2
    assert len(set(drawn)) == len(drawn), f"{len(drawn) - len(set(drawn))} repeated draws of {len(drawn)}"


# ----------------------------------------------------------------------------- bad input

def _run_cli(capsys, *argv) -> tuple[int, str]:
    rc = cli_main(list(argv))
    err = capsys.readouterr().err.strip()
    return rc, err


def test_bad_inputs_fail_with_one_line_and_leave_study_and_records_intact(tmp_path, capsys):
    cfg = _config(tmp_path, sampler="tpe", budget=2)
    run_search(cfg)
    before = len(_measured(cfg.db_url))
    common = ["search", "--repeat", "1", "--out", cfg.out, "--no-progress"]
    (tmp_path / "broken.yaml").write_text("budget: [4\n  k: 3\n")
    (tmp_path / "typed.yaml").write_text('budget: "lots"\n')
    cases = [
        (["--benchmarks", PROGRAM, "--strategy", str(tmp_path / "broken.yaml")], 2),
        (["--benchmarks", PROGRAM, "--strategy", str(tmp_path / "typed.yaml")], 2),
        (["--benchmarks", "no-such-program", "--budget", "2", "--sampler", "tpe"], 2),
        (["--benchmarks", PROGRAM, "--budget", "0"], 2),
        (["--benchmarks", PROGRAM, "--budget", "3", "--server", "127.0.0.1:1"], None),
        (["--benchmarks", PROGRAM, "--budget", "3", "--model", str(tmp_path)], None),
        (["--benchmarks", PROGRAM, "--budget", "3", "--sampler", "tpe",
          "--storage", "postgresql://nobody@127.0.0.1:1/none"], None),
        (["--benchmarks", PROGRAM, "--budget", "3", "--sampler", "tpe",
          "--db", "postgresql://nobody@127.0.0.1:1/none"], None),
        # the study holds repeat-1 counts: a new O3 at repeat 2 against that best would be a false speed-up
        (["--benchmarks", PROGRAM, "--budget", "3", "--sampler", "tpe", "--repeat", "2"], 2),
        (["--benchmarks", PROGRAM, "--budget", "3", "--sampler", "tpe", "--out", "/proc/costtune-none/out"], None),
    ]
    for extra, code in cases:
        rc, err = _run_cli(capsys, *common, *extra)
        assert rc != 0 and (code is None or rc == code), (extra, rc, err)
        assert err.startswith("costtune: error:") and len(err.splitlines()) == 1, (extra, err)
    assert len(_measured(cfg.db_url)) == before
    # an unreachable storage leaves no empty OUT behind
    rc, err = _run_cli(capsys, "search", "--benchmarks", PROGRAM, "--budget", "3", "--sampler", "tpe", "--no-progress",
                       "--storage", "postgresql://nobody@127.0.0.1:1/none", "--out", str(tmp_path / "never"))
    assert rc != 0 and not (tmp_path / "never").exists(), err
    # a model that fails to load is found before OUT and its databases are made
    rc, err = _run_cli(capsys, "search", "--benchmarks", PROGRAM, "--budget", "3", "--no-progress",
                       "--model", str(tmp_path), "--out", str(tmp_path / "never"))
    assert rc != 0 and "model" in err and not (tmp_path / "never").exists(), err
    # a config's error names the file, line and column, or the field and the type it needs
    assert "broken.yaml:2:" in _run_cli(capsys, *common, "--benchmarks", PROGRAM, "--strategy",
                                        str(tmp_path / "broken.yaml"))[1]
    assert "budget must be an integer" in _run_cli(capsys, *common, "--benchmarks", PROGRAM, "--strategy",
                                                   str(tmp_path / "typed.yaml"))[1]
    study = optuna.load_study(study_name=study_name(cfg, f"builtin/{PROGRAM}"), storage=cfg.storage_url)
    assert all(t.state.is_finished() for t in study.trials)


def test_retrain_command_writes_a_loadable_model(tmp_path, tiny_model, capsys):
    from costtune.model import CostModel

    cfg = _config(tmp_path, sampler="random", space="flat", length=12, budget=3, benchmarks=["bitcount", "checksum"])
    run_search(cfg)
    # a later run of one program into the same OUT keeps the other in summary.json
    before = json.loads((Path(cfg.out) / "summary.json").read_text())["programs"]
    run_search(dataclasses.replace(cfg, benchmarks=["checksum"]))
    after = json.loads((Path(cfg.out) / "summary.json").read_text())["programs"]
    assert [p["benchmark"] for p in after] == ["builtin/bitcount", "builtin/checksum"] and after[0] == before[0]
    rc = cli_main(["retrain", "--db", cfg.db_url, "--model", str(tiny_model), "--out", str(tmp_path / "rt"),
                   "--epochs", "1"])
    assert rc == 0, capsys.readouterr().err
    m = CostModel.from_pretrained(tmp_path / "rt" / "model")
    assert all(math.isfinite(x) for x in m.score([{"f": "mov w0, wzr\nret\n"}]))
    # --model takes retrain's OUT (the model is OUT/model) and "default", like serve
    from costtune.model import DEFAULT_MODEL_DIR, resolve_model_dir

    assert resolve_model_dir(tmp_path / "rt") == tmp_path / "rt" / "model"
    assert resolve_model_dir("default") == resolve_model_dir("llm") == Path(DEFAULT_MODEL_DIR)
    assert resolve_model_dir(tiny_model) == Path(tiny_model)
    assert CostModel.from_pretrained(tmp_path / "rt").score([{"f": "mov w0, wzr\nret\n"}]) == \
        m.score([{"f": "mov w0, wzr\nret\n"}])
    rc, err = _run_cli(capsys, "retrain", "--db", str(tmp_path / "none.db"), "--model", str(tiny_model),
                       "--out", str(tmp_path / "rt2"))
    assert rc != 0 and err.startswith("costtune: error:")


@pytest.mark.parametrize("where", ["process", "server"])
def test_retrain_every_retrains_on_the_pairs_so_far_and_swaps_the_model_in(where, tmp_path, tiny_model, caplog):
    from costtune.model import CostModel

    caplog.set_level("INFO", logger="costtune")
    kw = dict(space="flat", length=12, budget=4, retrain_every=3, retrain_epochs=1.0, benchmarks=["bitcount", "checksum"])
    if where == "process":
        res = run_search(_config(tmp_path, model=str(tiny_model), **kw))
    else:  # a loopback server that accepts LoadModel: the retrained model is loaded there
        from costtune.serve import Client
        from costtune.serve.adapter import ServedModel
        from costtune.serve.server import ServerConfig, start

        running = start(lambda: ServedModel.load(tiny_model, threads=1), ServerConfig(port=0, allow_load=True))
        try:
            assert running.loaded.wait(120) and running.load_error is None
            res = run_search(_config(tmp_path, server=f"127.0.0.1:{running.port}", **kw))
            with Client(f"127.0.0.1:{running.port}", retries=0) as c:
                served = c.model_info().path
        finally:
            running.stop(1)
        assert "retrain-" in served and Path(served).is_relative_to((tmp_path / "out").resolve())
    assert all(p.measurements == kw["budget"] for p in res.programs)  # the search did not stop for it
    assert res.retrains >= 1
    failed = [r.getMessage() for r in caplog.records if "retraining round" in r.getMessage()]
    assert not failed, failed
    swapped = [r.getMessage() for r in caplog.records if r.getMessage().startswith("scorer now uses")]
    assert swapped and all("retrain-" in m for m in swapped)
    new = Path(swapped[0].split("scorer now uses ", 1)[1].split(" (", 1)[0])
    assert new.resolve().is_relative_to((tmp_path / "out").resolve())
    assert all(math.isfinite(x) for x in CostModel.from_pretrained(new).score([{"f": "mov w0, wzr\nret\n"}]))


def test_static_proxy_ranks_by_instruction_count_and_searches(tmp_path):
    from costtune.search.scorer import StaticScorer, make_scorer

    sc = make_scorer("static", None)
    assert isinstance(sc, StaticScorer)
    few = {"f": "add x0, x0, #1\nret"}
    many = {"f": "add x0, x0, #1\nadd x0, x0, #1\nadd x0, x0, #1\nret", "g": "ret"}
    a, b = sc.score([few, many])
    assert a < b
    cfg = _config(tmp_path, model="static", budget=3)
    (p,) = run_search(cfg).programs
    assert p.measurements == 3 and p.best_value <= p.o3_value
    with pytest.raises(ConfigError):
        SearchConfig(benchmarks=[PROGRAM], model="static", retrain_every=5)


def test_warm_start_enqueues_other_programs_best_pipelines_first(tmp_path, capsys):
    from optuna.trial import create_trial

    from costtune.passes import load_catalog
    from costtune.search.space import make_space
    from costtune.toolchain import find

    tc = find()
    space = make_space("o3-edits", load_catalog(tc.llvm), tc.opt, slots=4)
    dists = space.distributions()
    o3 = space.o3_params()
    url = f"sqlite:///{tmp_path / 'earlier.db'}"

    def source(program: str, space_name: str, trials: list[tuple[dict, float]]) -> None:
        study = optuna.create_study(storage=url, study_name=f"costtune:builtin/{program}:{space_name}")
        study.set_user_attr("o3_value", 1000.0)
        for edits, insns in trials:
            study.add_trial(create_trial(params={**o3, **edits}, distributions=dists, value=insns / 1000,
                                         user_attrs={"insns": insns, "status": "ok"}))

    a1 = dict(e0_op="delete", e0_pos=3)
    a2 = dict(e0_op="swap", e0_pos=10)
    b1 = dict(e1_op="insert", e1_pos=7, e1_pass="reg2mem")
    source("checksum", "o3-edits", [(a2, 990.0), (a1, 950.0), (dict(e0_op="delete", e0_pos=4), 1010.0)])
    source("fixdsp", "o3-edits", [(b1, 900.0)])
    source(PROGRAM, "o3-edits", [(dict(e2_op="delete", e2_pos=9), 800.0)])  # its own history: not warm
    source("sha256", "flat", [])  # another space: skipped
    cfg = _config(tmp_path, sampler="tpe", budget=3, warm_start=[url], warm_start_n=3)
    run_search(cfg)
    study = optuna.load_study(study_name=study_name(cfg, f"builtin/{PROGRAM}"), storage=cfg.storage_url)
    warm = sorted((t for t in study.trials if "warm_from" in t.user_attrs), key=lambda t: t.number)
    # best first within a study, one study after the other; worse-than-O3 trials and the program's own never
    fixed = [t.system_attrs["fixed_params"] for t in warm]
    assert [(t.user_attrs["warm_from"].split(":")[1], {k: f[k] for k in e}) for t, f, e in
            zip(warm, fixed, (a1, b1, a2))] == [("builtin/checksum", a1), ("builtin/fixdsp", b1),
                                                ("builtin/checksum", a2)]
    assert len(warm) == 3 and study.user_attrs["warm_started"] == 3
    assert warm[0].user_attrs.get("status") == "ok"  # ran (right after O3), measured or reused
    assert all(f.get("e2_op") != "delete" for f in fixed)
    # the proxy enqueues them in the order its scorer ranks them for this program
    cfg_p = _config(tmp_path / "p", model="static", budget=2, warm_start=[url], warm_start_n=3)
    run_search(cfg_p)
    sp = optuna.load_study(study_name=study_name(cfg_p, f"builtin/{PROGRAM}"), storage=cfg_p.storage_url)
    order = [t.system_attrs["fixed_params"] for t in sorted(sp.trials, key=lambda t: t.number)
             if "warm_from" in t.user_attrs]
    from costtune.search.scorer import StaticScorer, pipeline_scorer

    costs = pipeline_scorer(f"builtin/{PROGRAM}", space.pipeline, StaticScorer())(order)
    assert len(order) == 3 and costs == sorted(costs)
    # a resumed study does not enqueue them again
    run_search(cfg.override(budget=4))
    study = optuna.load_study(study_name=study_name(cfg, f"builtin/{PROGRAM}"), storage=cfg.storage_url)
    assert len([t for t in study.trials if "warm_from" in t.user_attrs]) == 3
    # screen mode: nothing enqueued; the warm pipelines join the proxy's screen and one is measured
    # only when it ranks best among a trial's proposals
    cfg_s = _config(tmp_path / "s", model="static", budget=3, k=2, warm_start=[url], warm_start_n=3,
                    warm_start_mode="screen")
    run_search(cfg_s)
    ss = optuna.load_study(study_name=study_name(cfg_s, f"builtin/{PROGRAM}"), storage=cfg_s.storage_url)
    assert not any("warm_from" in t.user_attrs for t in ss.trials) and "warm_started" not in ss.user_attrs
    picked = [t.params for t in ss.trials if t.system_attrs.get("costtune:from_pool")]
    warm_sets = [{**o3, **e} for e in (a1, b1, a2)]
    assert picked and all(p in warm_sets for p in picked)
    with pytest.raises(ConfigError, match="screen needs the proxy"):
        _config(tmp_path / "t", sampler="tpe", warm_start=[url], warm_start_mode="screen")
    rc, err = _run_cli(capsys, "search", "--benchmarks", PROGRAM, "--budget", "2", "--sampler", "tpe", "--repeat",
                       "1", "--out", str(tmp_path / "o2"), "--no-progress", "--warm-start",
                       "postgresql://nobody@127.0.0.1:1/none")
    assert rc != 0 and err.startswith("costtune: error: cannot read warm-start storage") and len(err.splitlines()) == 1


def test_variant_table_predicts_recombined_function_variants():
    from costtune.search.variants import VariantTable

    t = VariantTable()
    f1, f2, g1, g2 = "add x0, x0, #1\nret\n", "ret\n", "bl f\nret\n", "bl f\nbl f\nret\n"
    t.observe("a", {"f": f1, "g": g1}, {"f": 100, "g": 10, "memcpy": 50}, 160)
    t.observe("b", {"f": f2, "g": g2}, {"f": 40, "g": 20, "memcpy": 50}, 110)
    assert t.best == 110 and t.predict({"f": f1, "g": g1}) == 160
    # g2 calls f twice as often; f1 under the caller g2 was never seen: f1's count under g1 stands in
    assert t.predict({"f": f1, "g": g2}) == 50 + 100 + 20
    assert t.predict({"f": "nop\nret\n", "g": g1}) is None  # a new variant: no prediction
    t.observe("c", {"f": f1, "g": g2}, {"f": 200, "g": 20, "memcpy": 50}, 270)
    assert t.predict({"f": f1, "g": g2}) == 270  # now its own context is known


def test_a_new_variant_of_a_known_shape_is_predicted_from_its_block_counts():
    from costtune.search.variants import VariantTable, block_shape

    loop = "<f>:\nmov x1, #8\nL1:\nadd x0, x0, x1\nsubs x1, x1, #1\nb.ne L1\nret\n"
    assert block_shape(loop) == ([1, 3, 1], (("f", None), ("c", 1), ("r", None)))
    t = VariantTable()
    t.observe("a", {"f": loop}, {"f": 1 + 3 * 8 + 1}, 26 + 5, block_counts={"f": [1, 8, 1]})
    # one more instruction in the loop body, same blocks and branches: 1 + 4 x 8 + 1
    longer = loop.replace("add x0, x0, x1\n", "add x0, x0, x1\neor x0, x0, x1\n")
    assert t.predict({"f": longer}) == 5 + 1 + 4 * 8 + 1
    # a loop that branches elsewhere is another shape: no prediction
    assert t.predict({"f": loop.replace("b.ne L1", "b.ne L2\nL2:")}) is None


def test_estimate_scales_the_nearest_measured_variant_where_predict_gives_up():
    from costtune.search.scorer import ProfileScorer
    from costtune.search.variants import VariantTable

    hot = "<hot>:\nL1:\nadd x0, x0, #1\nsubs x1, x1, #1\nb.ne L1\nret\n"
    cold = "<cold>:\nmov x0, #1\nmov x1, #2\nret\n"
    t = VariantTable()
    t.observe("a", {"hot": hot, "cold": cold}, {"hot": 3000, "cold": 3}, 3000 + 3 + 7)
    assert t.estimate({"hot": hot, "cold": cold}) == t.predict({"hot": hot, "cold": cold}) == 3010
    # a new shape (the loop branches to a new block): predict gives up, estimate scales hot's
    # 3000 by 5/4 instructions
    hot2 = hot.replace("b.ne L1\n", "b.ne L1\nL2:\nnop\n")
    assert t.predict({"hot": hot2, "cold": cold}) is None
    assert t.estimate({"hot": hot2, "cold": cold}) == 7 + 3000 * 5 / 4 + 3
    # the nearest measured length is the one that scales
    t.observe("b", {"hot": hot2, "cold": cold}, {"hot": 4000, "cold": 3}, 4000 + 3 + 7)
    hot3 = hot2.replace("nop\n", "nop\nnop\n")
    assert t.estimate({"hot": hot3, "cold": cold}) == 7 + 4000 * 6 / 5 + 3
    # a function no candidate had: the measured instructions per static instruction x its length
    per = (3000 + 3 + 4000 + 3) / (4 + 3 + 5 + 3)
    assert t.estimate({"hot": hot, "cold": cold, "new": "<new>:\nnop\nret\n"}) == pytest.approx(3010 + 2 * per)
    # the profile scorer ranks a shorter cold function below a longer hot loop; the static count the other way
    fewer_cold = {"hot": hot2, "cold": "<cold>:\nret\n"}  # 5 + 1 instructions
    shorter_hot = {"hot": hot, "cold": cold}  # 4 + 3
    assert ProfileScorer(t).score([fewer_cold, shorter_hot]) == [7 + 4000 + 3 * 1 / 3, 3010]
    assert ProfileScorer(None).score([fewer_cold, shorter_hot]) == [6.0, 7.0]  # no table: the static count


def test_profile_model_turns_on_variants_and_searches(tmp_path):
    from costtune.search.scorer import ProfileScorer, make_scorer

    assert isinstance(make_scorer("profile", None), ProfileScorer)
    cfg = _config(tmp_path, model="profile", budget=3, k=4, neighbours=3, neighbour_moves="edits", crossovers=2)
    assert cfg.variants
    (p,) = run_search(cfg).programs
    assert p.measurements == len(_measured(cfg.db_url)) == 3 and p.best_value <= p.o3_value
    study = optuna.load_study(study_name=study_name(cfg, f"builtin/{PROGRAM}"), storage=cfg.storage_url)
    assert max(t.system_attrs.get("costtune:k", 0) for t in study.trials) == 4 + 3 + 2  # + local moves, crossovers
    with pytest.raises(ConfigError, match="profile has nothing to retrain"):
        SearchConfig(benchmarks=[PROGRAM], model="profile", retrain_every=5)
    assert not SearchConfig(benchmarks=[PROGRAM], sampler="tpe", model="profile").variants  # no screen, no profiles


def test_retrain_every_with_the_variant_model_fine_tunes_it_on_the_program_every_m_measurements(tmp_path, monkeypatch):
    from costtune.search import variants as variants_mod

    adapted_at = []
    real = variants_mod.VariantTable.adapt

    def spy(self, epochs=2, lr=1e-4):
        adapted_at.append((len(self.profiled), epochs))
        return real(self, epochs=epochs, lr=lr)

    monkeypatch.setattr(variants_mod.VariantTable, "adapt", spy)
    cfg = _config(tmp_path, model="variant", budget=5, retrain_every=2, retrain_epochs=1.0)
    (p,) = run_search(cfg).programs
    assert p.measurements == 5 and p.best_value <= p.o3_value
    assert [e for _, e in adapted_at] == [1, 1] and all(n >= 2 for n, _ in adapted_at)  # after measurements 2 and 4


def test_a_served_variant_model_predicts_as_in_process_and_a_search_screens_with_it_through_the_server(tmp_path):
    from costtune import resources
    from costtune.model.variant_model import annotate, load, tokenize
    from costtune.serve import Client
    from costtune.serve.adapter import load_served
    from costtune.errors import CostTuneError
    from costtune.serve.server import ServerConfig, start

    running = start(lambda: load_served(resources.variant_model_dir(), threads=1),
                    ServerConfig(host="127.0.0.1", port=0, workers=2))
    try:
        assert running.loaded.wait(120) and running.load_error is None, running.load_error
        addr = f"127.0.0.1:{running.port}"
        ref = annotate("<f>:\nL1:\nadd w8, w8, #1\ncmp w8, #100\nb.lt L1\nret\n", [100, 1], 301.0, {})
        pairs = [(ref, tokenize("<f>:\nL1:\nadd w8, w8, #2\ncmp w8, #100\nb.lt L1\nret\n")), (ref, ref[1:])]
        with Client(addr, timeout=30) as c:
            assert c.model_info().head == "variant"
            assert c.predict_variants(pairs) == pytest.approx(load(resources.variant_model_dir()).predict(pairs),
                                                               abs=1e-4)
            with pytest.raises(CostTuneError, match="function-variant model: it answers PredictVariants only"):
                c.score(texts=["ret"])
        cfg = _config(tmp_path, server=addr, budget=4)
        res = run_search(cfg)
        (p,) = res.programs
        assert p.measurements == 4 and p.best_value <= p.o3_value
        assert "variant model on server" in res.model and running.service.counters["requests"] > 1
        with pytest.raises(ConfigError, match="--retrain-every with --server .*start it with --allow-load"):
            run_search(_config(tmp_path / "again", server=addr, retrain_every=2))
    finally:
        running.stop(1)


def test_retrain_every_through_a_variant_server_fine_tunes_here_and_the_server_serves_each_adapted_model(tmp_path):
    from costtune import resources
    from costtune.serve import Client
    from costtune.serve.adapter import load_served
    from costtune.serve.server import ServerConfig, start

    base = str(resources.variant_model_dir().resolve())
    running = start(lambda: load_served(base, threads=1),
                    ServerConfig(host="127.0.0.1", port=0, workers=2, allow_load=True))
    try:
        assert running.loaded.wait(120) and running.load_error is None, running.load_error
        addr = f"127.0.0.1:{running.port}"
        served = []
        real = running.service.set_model
        running.service.set_model = lambda m: (real(m), served.append(running.service.info.get("path")))
        cfg = _config(tmp_path, server=addr, budget=5, retrain_every=2, retrain_epochs=1.0)
        (p,) = run_search(cfg).programs
        assert p.measurements == 5 and p.best_value <= p.o3_value
        adapted = sorted((Path(cfg.out) / "adapted").iterdir())
        assert len(adapted) == 2 and all((d / "variant_model.json").is_file() for d in adapted)  # after 2 and 4
        assert str(adapted[0]) in served or str(adapted[1]) in served  # the server predicted with an adapted model
        with Client(addr, timeout=30) as c:
            assert c.model_info().path == base  # and serves the model it started with once the search is done
    finally:
        running.stop(1)


def test_block_counts_of_a_real_profile_add_up_to_each_functions_count():
    from costtune.asm import program_functions
    from costtune.benchmarks import get_benchmark
    from costtune.compile import compile_benchmark
    from costtune.measure import block_profile
    from costtune.measure.profile import read_symbols
    from costtune.search.variants import block_counts, block_shape

    bench = get_benchmark(f"builtin/{PROGRAM}")
    art = compile_benchmark(bench, "O3").artifact
    prof = block_profile(art, bench, repeat=1)
    fns = program_functions(art)
    counts = block_counts(fns, prof.blocks, read_symbols(art.binary))
    assert set(counts) == set(fns)
    ran = [f for f in fns if prof.functions.get(f)]
    assert ran and all(sum(c * n for c, n in zip(counts[f], block_shape(fns[f])[0])) == prof.functions[f] for f in ran)


def test_search_with_variants_profiles_measured_candidates(tmp_path, monkeypatch):
    from costtune.search import variants as variants_mod

    seen = []
    real = variants_mod.VariantTable.observe

    def spy(self, binary_hash, functions, per_function, total, block_counts=None):
        seen.append((binary_hash, total, sum(per_function.values())))
        assert block_counts and set(block_counts) <= set(functions)
        return real(self, binary_hash, functions, per_function, total, block_counts)

    monkeypatch.setattr(variants_mod.VariantTable, "observe", spy)
    cfg = _config(tmp_path, model="static", budget=3, variants=True)
    (p,) = run_search(cfg).programs
    rows = {r.binary_hash: r.value for r in _measured(cfg.db_url)}
    assert len(seen) == len(rows) == 3  # each measured binary profiled once, O3 included
    assert all(rows[h] == total and own <= total for h, total, own in seen)  # the profile's total is the measurement
    with pytest.raises(ConfigError):
        SearchConfig(benchmarks=[PROGRAM], sampler="tpe", variants=True)


def test_tell_predicted_adds_the_screens_predicted_proposals_as_trials_not_measurements(tmp_path):
    import optuna

    cfg = _config(tmp_path, model="static", budget=4, k=6, variants=True, tell_predicted=True)
    (p,) = run_search(cfg).programs
    trials = optuna.load_study(study_name=p.study, storage=cfg.storage_url).get_trials()
    told = [t for t in trials if t.user_attrs.get("told")]
    assert told, "the screen predicted none of its proposals"
    assert p.trials == len(trials) - len(told)  # told trials count neither as trials nor as measurements
    assert len(_measured(cfg.db_url)) == p.measurements == 4
    keys = [tuple(sorted(t.params.items())) for t in trials]
    assert len(set(keys[i] for i, t in enumerate(trials) if t.user_attrs.get("told"))) == len(told)  # each told once
    for t in told:
        assert t.user_attrs["status"] == "predicted" and t.value == t.user_attrs["insns"] / p.o3_value
        assert t.user_attrs["insns"] >= p.best_value  # predicted not to beat the best
    with pytest.raises(ConfigError):
        SearchConfig(benchmarks=[PROGRAM], model="static", tell_predicted=True)


def test_no_gain_prediction_spares_a_measurement_only_when_it_cannot_win(tmp_path):
    from costtune.benchmarks import get_benchmark
    from costtune.compile import compile_benchmark
    from costtune.measure import measure
    from costtune.search.variants import VariantTable, no_gain_prediction, profile_observer

    bench = get_benchmark(f"builtin/{PROGRAM}")
    arts = {p: compile_benchmark(bench, p).artifact for p in ("O1", "O3")}
    t = VariantTable()
    guess = no_gain_prediction(t)
    assert guess(arts["O1"]) is None  # nothing observed yet
    profile_observer(t, bench, None, 1)(arts["O3"])
    o3 = measure(arts["O3"], bench, metric="insns", repeat=1).value
    assert t.best == o3 and guess(arts["O3"]) == o3  # known variants, no gain: predicted, not measured
    t.best = o3 + 1  # now the prediction would beat the best: it is measured instead
    assert guess(arts["O3"]) is None


def test_every_shipped_tuner_config_loads_and_validates():
    from costtune.model import PretrainConfig, TrainConfig
    from costtune.resources import shipped_strategies
    import yaml

    root = Path(__file__).resolve().parent.parent / "tuner_configs"
    kinds = {"model_tiny": PretrainConfig, "model_": TrainConfig, "": SearchConfig}  # every other file: a strategy
    loaded = []
    for path in sorted(root.glob("*.yaml")):
        cls = next(c for prefix, c in kinds.items() if path.name.startswith(prefix))
        loaded.append(cls.load(path))  # unknown fields, wrong types and failed checks raise ConfigError
    assert len(loaded) == len(list(root.glob("*.yaml"))) >= 11
    strategies = shipped_strategies()
    assert {"tpe", "random", "screen_profile", "screen_model", "screen_model_retrain"} <= set(strategies)
    sp = SearchConfig.load("screen_profile")
    assert (sp.model, sp.variants, sp.neighbours, sp.crossovers, sp.warm_start_mode, sp.k) == ("profile", True, 4, 4,
                                                                                                "screen", 8)
    # screen_model is screen_profile with the variant model in the screen; _retrain fine-tunes it as it goes
    sm, smr = SearchConfig.load("screen_model"), SearchConfig.load("screen_model_retrain")
    assert sm.model == smr.model == "variant" and sm.retrain_every == 0 and smr.retrain_every > 0
    assert SearchConfig.load("tpe").sampler == "tpe" and SearchConfig.load("random").sampler == "random"
    for name in strategies:  # the header's first line names the strategy and says what it is
        text = (root / f"{name}.yaml").read_text()
        assert text.startswith(f"# {name}: ") and len(strategies[name]) > 20, name
    # a strategy file says how to search: the suite, the programs and their repeat come from the command
    # line (a repeat in the file was silently applied to a user's program); the program's own is the default
    for name in strategies:
        assert not {"suite", "benchmarks", "repeat"} & set(yaml.safe_load((root / f"{name}.yaml").read_text())), name
    assert sp.repeat is None and sp.suite == SearchConfig().suite


def test_the_search_help_lists_every_shipped_strategy(capsys):
    from costtune.resources import shipped_strategies

    with pytest.raises(SystemExit):
        cli_main(["search", "--help"])
    text = capsys.readouterr().out
    for name, what in shipped_strategies().items():
        assert any(line.split()[:1] == [name] and what[:30] in line for line in text.splitlines()), name
    assert "--strategy NAME|FILE" in text and "--config" not in text


def test_without_a_strategy_a_search_runs_the_profile_screen_unless_a_flag_chooses_another_method(
        tmp_path, capsys, monkeypatch):
    import costtune.commands.search as search_cmd

    seen = []
    real = search_cmd.run_search
    monkeypatch.setattr(search_cmd, "run_search", lambda config: seen.append(config) or real(config))
    common = ["search", "--benchmarks", PROGRAM, "--budget", "2", "--repeat", "1", "--no-progress", "--json"]
    assert cli_main([*common, "--out", str(tmp_path / "a")]) == 0
    assert cli_main([*common, "--sampler", "tpe", "--out", str(tmp_path / "b")]) == 0
    capsys.readouterr()
    # --model default (the SearchConfig defaults): the screen is the profile estimate with the variant model
    assert cli_main([*common, "--model", "default", "--k", "2", "--out", str(tmp_path / "c")]) == 0
    res = json.loads(capsys.readouterr().out)
    assert "variant model" in res["model"] and res["programs"][0]["measurements"] == 2, res
    screen = SearchConfig.load(search_cmd.DEFAULT_STRATEGY)
    assert (seen[0].sampler, seen[0].model, seen[0].variants, seen[0].k) == ("proxy", "profile", True, screen.k)
    assert seen[0].neighbours == screen.neighbours and seen[0].budget == 2
    assert seen[1].sampler == "tpe" and not seen[1].variants and seen[1].k == SearchConfig().k


def test_the_default_model_is_the_variant_model_where_the_search_can_profile_and_the_llm_elsewhere():
    # the shipped LLM ranks unseen programs' candidates below the profile estimate with the variant model
    for model in ("", "default"):
        assert SearchConfig(benchmarks=[PROGRAM], model=model).screen_model == "variant"
        # no block profiles for cycles: the LLM, which needs none
        assert SearchConfig(benchmarks=[PROGRAM], model=model, metric="cycles").screen_model == "llm"
    assert SearchConfig(benchmarks=[PROGRAM], model="llm").screen_model == "llm"
    assert SearchConfig(benchmarks=[PROGRAM], server="localhost:1").screen_model == ""  # the server says
    # the choice is made when the search starts: overriding the sampler or the metric later still validates
    assert not SearchConfig(benchmarks=[PROGRAM]).override(sampler="tpe").variants
    assert SearchConfig(benchmarks=[PROGRAM], tell_predicted=True).tell_predicted  # the variant model's table tells
    with pytest.raises(ConfigError, match="--tell-predicted needs --variants"):
        SearchConfig(benchmarks=[PROGRAM], tell_predicted=True, metric="cycles")
    from costtune.model.variant_model import Ensemble, VariantModel
    from costtune.search.scorer import LocalScorer, ProfileScorer, make_scorer

    assert isinstance(make_scorer("variant", None).function_model, (VariantModel, Ensemble))
    assert isinstance(make_scorer("llm", None), LocalScorer) and not isinstance(make_scorer("llm", None), ProfileScorer)


def test_a_pass_catalog_that_does_not_load_leaves_no_out_behind(tmp_path, monkeypatch, capsys):
    """The catalog is loaded before OUT, search.db and records.db are made (a failure left them behind)."""
    monkeypatch.setenv("COSTTUNE_PASSES_DIR", str(tmp_path / "no-catalogs"))
    out = tmp_path / "never"
    rc, err = _run_cli(capsys, "search", "--benchmarks", PROGRAM, "--budget", "2", "--sampler", "tpe",
                       "--no-progress", "--out", str(out))
    assert rc != 0 and err.startswith("costtune: error: no pass catalog for LLVM") and len(err.splitlines()) == 1, err
    assert not out.exists()


def test_a_shipped_config_loads_by_its_name():
    root = Path(__file__).resolve().parent.parent / "tuner_configs"
    assert SearchConfig.load("search_quick") == SearchConfig.load(root / "search_quick.yaml")
    assert SearchConfig.load("search_quick.yaml") == SearchConfig.load(root / "search_quick.yaml")
    with pytest.raises(ConfigError, match="no config file search_nothing and no shipped config of that name"):
        SearchConfig.load("search_nothing")


def test_the_progress_plot_ends_at_the_budget(tmp_path):
    """Budget 8: the x axis runs 1..8 (it ran to 9), integer ticks only."""
    from costtune.search.plot import plot_progress, progress_figure
    from costtune.search.results import ProgramResult

    history = [1.0, 0.96, 0.91, 0.91, 0.91, 0.91, 0.9, 0.9]
    p = ProgramResult("builtin/bitcount", "s", 100.0, 90.0, "p", 8, 10, history)
    ax = progress_figure([p], budget=8).axes[0]
    assert ax.get_xlim() == (1.0, 8.0)
    assert all(float(t).is_integer() and 1 <= t <= 8 for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= 8)
    assert plot_progress([p], tmp_path / "progress.png", 8).stat().st_size > 1000


def test_a_variant_model_screens_as_the_profile_estimate_with_its_predictions(tmp_path):
    pytest.importorskip("torch")
    from costtune.model.variant_model import annotate, tokenize, train
    from costtune.search.scorer import ProfileScorer, make_scorer

    text = "<f>:\nL1:\nadd w8, w8, #1\ncmp w8, #9\nb.lt L1\nret\n"
    ex = [{"ref": annotate(text, [9, 1], 28.0, {}), "new": tokenize(text.replace("#1", f"#{s}")),
           "target": -0.1 * s, "weight": 1.0} for s in (1, 2, 3, 4)]
    train(ex, tmp_path / "vm", epochs=2, batch=4, dim=16, layers=1, heads=2)
    scorer = make_scorer(str(tmp_path / "vm"), None)
    assert isinstance(scorer, ProfileScorer) and scorer.function_model is not None
    assert "variant model" in scorer.describe()
    cfg = _config(tmp_path, model=str(tmp_path / "vm"), budget=3, k=4)
    assert cfg.variants
    (p,) = run_search(cfg).programs
    assert p.measurements == len(_measured(cfg.db_url)) == 3 and p.best_value <= p.o3_value
    # --retrain-every fine-tunes it on the program (test_retrain_every_with_the_variant_model_...)
    assert SearchConfig(benchmarks=[PROGRAM], model=str(tmp_path / "vm"), retrain_every=5).retrain_every == 5


def test_values_that_cannot_work_are_refused_and_a_program_folder_keeps_its_own_name(tmp_path, monkeypatch):
    from costtune.benchmarks import get_benchmark, get_suite
    from costtune.errors import UnknownBenchmark
    from costtune.measure import measure
    from costtune.search.loop import _resolve

    for kw, msg in [(dict(startup_trials=-2), "startup_trials"), (dict(fail_value=float("nan")), "fail_value"),
                    (dict(max_trials_factor=0), "max_trials_factor")]:
        with pytest.raises(ConfigError, match=msg):
            SearchConfig(benchmarks=[PROGRAM], **kw)
    with pytest.raises(ConfigError, match="--repeat must be >= 1"):
        measure(tmp_path / "prog", get_benchmark(f"builtin/{PROGRAM}"), repeat=0)
    # a folder named like a builtin program is PARENT/NAME, as compile and measure name it, never builtin/NAME
    mine = tmp_path / "mine" / PROGRAM
    mine.mkdir(parents=True)
    (mine / "main.c").write_text("int main(void) { return 0; }\n")
    (mine / "bench.yaml").write_text("timeout: 30\n")
    (b,) = _resolve(SearchConfig(benchmarks=[str(mine)]))
    assert b.id == f"mine/{PROGRAM}" == get_benchmark(str(mine)).id
    with pytest.raises(UnknownBenchmark):
        get_suite("builtin").get(str(mine))
    # no --benchmarks: a folder of one's own programs is searched whole, a shipped suite is not
    assert [b.id for b in _resolve(SearchConfig(suite=str(mine.parent)))] == [f"mine/{PROGRAM}"]
    with pytest.raises(UnknownBenchmark, match="name the programs"):
        _resolve(SearchConfig())
    # a bare name is the suite's program even where a folder of that name is in the working directory
    monkeypatch.chdir(mine.parent)
    assert [b.id for b in _resolve(SearchConfig(benchmarks=[PROGRAM]))] == [f"builtin/{PROGRAM}"]
    with pytest.raises(ConfigError, match="fail_value"):
        SearchConfig(benchmarks=[PROGRAM], fail_value=1.0)  # a failure told as good as O3
    # a study of another measurement is refused before any program is searched
    from costtune.search.study import check_study, load_storage, open_study

    url = f"sqlite:///{tmp_path / 'search.db'}"
    storage = load_storage(url)
    ident = dict(metric="insns", target="aarch64", objective="ratio", repeat=1, program="p1", llvm=19)
    check_study(storage, "s", ident, url)  # none yet
    open_study(storage, "s", ident, url)
    check_study(storage, "s", ident, url)
    with pytest.raises(ConfigError, match="holds values of another version of the program"):
        check_study(storage, "s", {**ident, "program": "p2"}, url)
    with pytest.raises(ConfigError, match="holds values of llvm 19, this search measures llvm 14"):
        open_study(storage, "s", {**ident, "llvm": 14}, url)
