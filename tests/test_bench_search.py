"""The statistics behind the README's search figures (benchmarks/bench_search.py)."""

import importlib.util
from pathlib import Path

import pytest

spec = importlib.util.spec_from_file_location("bench_search", Path(__file__).parent.parent / "benchmarks" / "bench_search.py")
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)


def run(**histories):  # best-so-far / O3 after each measurement, the O3 baseline first
    return {"programs": {b: {"history": h} for b, h in histories.items()}}


def test_one_third_sum_and_geomean_readings_of_reaching_tpe():
    tpe = run(a=[1.0, 0.9, 0.9, 0.9, 0.9, 0.9, 0.8], b=[1.0, 1.0, 1.0, 0.95, 0.95, 0.95, 0.95], c=[1.0] * 7)
    fast = run(a=[1.0, 0.8], b=[1.0, 0.96, 0.96])  # reaches a at 2 (TPE: 7), never b; stops early
    results = {"tpe": tpe, "fast": fast}
    assert bench.reach(tpe["programs"]["a"]["history"], 0.8) == 7
    assert bench.third_test(fast, results, "tpe") == (1, 2)  # c: TPE never beat O3, not counted
    assert bench.sum_to_reach(fast, results, "tpe", budget=40) == 2 + 40
    # geomean of best-so-far speedups over a and b (c only TPE ran): TPE's final is
    # sqrt(1/0.8 * 1/0.95); fast keeps its last best, sqrt(1/0.8 * 1/0.96) < that: never
    assert bench.geomean_reach(fast, results, "tpe") == (None, 7)
    faster = run(a=[1.0, 0.7], b=[1.0, 1.0, 1.0, 0.99])
    assert bench.geomean_reach(faster, {"tpe": tpe, "faster": faster}, "tpe") == (2, 7)
    assert bench.geomean_reach(faster, {"faster": faster}, "tpe") == (None, None)  # no reference run
    assert bench.geomean([1.25, 0.8]) == pytest.approx(1.0)


def test_references_are_the_tpe_runs_of_an_earlier_json_on_the_requested_programs(tmp_path):
    earlier = {"budget": 100, "methods": {"tpe": {"seconds": 5.0, "programs": {"cbench/a": {"history": [1.0, 0.9]},
                                                                "cbench/z": {"history": [1.0]}}},
                           "tpe-s1": {"seconds": 6.0, "programs": {"cbench/a": {"history": [1.0, 0.8]}}},
                           "proxy": {"seconds": 7.0, "programs": {"cbench/a": {"history": [1.0, 0.7]}}}}}
    path = tmp_path / "bench_search.json"
    path.write_text(bench.json.dumps(earlier))
    refs = bench.load_references(path, ["a", "b"], exclude={"tpe-s1": {}})
    assert refs == {"tpe": {"seconds": 5.0, "budget": 100, "programs": {"cbench/a": {"history": [1.0, 0.9]}}}}
    path.write_text("{}")
    with pytest.raises(SystemExit, match="not a bench_search.json"):
        bench.load_references(path, ["a"], exclude={})


def test_defaults_and_help():
    """--repeat: each program's own unless asked (--repeat 1); every option has help text."""
    ap = bench.parser()
    args = ap.parse_args([])
    assert args.repeat is None and args.budget == 40 and args.strategies == ["random", "tpe", "screen_model"]
    assert ap.parse_args(["--repeat", "1"]).repeat == 1
    for action in ap._actions:
        assert action.help, action.option_strings
    with pytest.raises(SystemExit):  # a program list or the held-out set, not both
        ap.parse_args(["--heldout", "--benchmarks", "bitcount"])


def test_runs_are_strategies_at_a_budget_and_seeds():
    runs = bench.parse_runs(["tpe@100:0,1", "screen_profile", "mine/my_screen.yaml:s2+warm"], budget=40)
    assert [(r.label, r.strategy, r.budget, r.seed, r.warm) for r in runs] == [
        ("tpe", "tpe", 100, 0, False), ("tpe-s1", "tpe", 100, 1, False),
        ("screen_profile", "screen_profile", 40, 0, False), ("my_screen-s2-warm", "mine/my_screen.yaml", 40, 2, True)]
    for bad, why in ((["tpe", "tpe:0"], "run tpe named twice"), (["tpe@x"], "is not STRATEGY"),
                     (["tpe@0"], "budget must be >= 1")):
        with pytest.raises(ValueError, match=why):
            bench.parse_runs(bad, budget=40)


def test_every_shipped_strategy_becomes_a_search_of_one_program_at_the_runs_budget_and_seed(tmp_path):
    from costtune.resources import shipped_strategies
    from costtune.search import SearchConfig

    args = bench.parser().parse_args(["--out", str(tmp_path), "--model", str(tmp_path / "m")])
    for name in shipped_strategies():
        run = bench.Run(name + "-s3", name, 7, 3, False)
        cfg = bench.strategy_config(run, "cbench/telecom-gsm", 1, args)
        assert isinstance(cfg, SearchConfig) and (cfg.suite, cfg.benchmarks, cfg.budget, cfg.seed, cfg.repeat) == (
            "cbench", ["telecom-gsm"], 7, 3, 1), name
        assert cfg.out == str(tmp_path / f"{name}-s3" / "cbench" / "telecom-gsm")
        # --model replaces a learned model in the screen, never the profile estimate or a sampler without a screen
        learned = SearchConfig.load(name).uses_model and SearchConfig.load(name).model not in ("profile", "static")
        assert (cfg.model == str(tmp_path / "m")) == learned, name
    assert bench.strategy_config(bench.Run("t", "tpe", 5, 0, False), "bitcount", None, args).suite == "builtin"


def test_searches_run_program_by_program_the_screened_and_larger_budgets_first(tmp_path):
    args = bench.parser().parse_args(["--out", str(tmp_path)])
    runs = bench.parse_runs(["random@40", "tpe@100:0,1", "screen_profile@40"], budget=40)
    jobs = bench.schedule(runs, [("cbench/telecom-gsm", 1), ("bitcount", None)], args)
    assert [(label, cfg.benchmarks[0]) for label, cfg in jobs] == [
        (label, b) for b in ("telecom-gsm", "bitcount") for label in ("screen_profile", "tpe", "tpe-s1", "random")]


def test_searches_an_earlier_json_finished_at_the_same_budget_are_not_run_again(tmp_path):
    import json

    args = bench.parser().parse_args(["--out", str(tmp_path)])
    runs = bench.parse_runs(["tpe@100", "screen_profile@40"], budget=40)
    names = ["cbench/telecom-gsm", "bitcount"]
    done = {"tpe": {"budget": 100, "programs": {
                "cbench/telecom-gsm": {"history": [1.0, 0.9], "measurements": 100, "cpu_seconds": 12.5, "at": {}},
                "cbench/bzip2-decode": {"history": [1.0], "measurements": 37, "cpu_seconds": 3.0}}},  # not asked for
            "screen_profile": {"budget": 20, "programs": {  # another budget: not this run
                "cbench/telecom-gsm": {"history": [1.0], "measurements": 20, "cpu_seconds": 1.0}}}}
    path = tmp_path / "bench_search.json"
    path.write_text(json.dumps({"methods": done}))
    earlier = bench.load_done(path, runs, names)
    assert earlier == {("tpe", "cbench/telecom-gsm"): ("tpe", {"cbench/telecom-gsm": {
        "history": [1.0, 0.9], "measurements": 100, "cpu_seconds": 12.5}}, 12.5)}
    jobs = bench.schedule(runs, [(b, None) for b in names], args, skip=set(earlier))
    assert [(label, cfg.benchmarks[0]) for label, cfg in jobs] == [
        ("screen_profile", "telecom-gsm"), ("screen_profile", "bitcount"), ("tpe", "bitcount")]
    # counts taken at another repeat knob do not compare; a strategy file that changed runs again
    with pytest.raises(SystemExit, match="ran at --repeat None, this run at --repeat 1"):
        bench.load_done(path, runs, names, repeat=1)
    done["tpe"]["strategy_fields"] = bench._fields("tpe")  # the file as it is: taken
    path.write_text(json.dumps({"methods": done}))
    assert set(bench.load_done(path, runs, names)) == {("tpe", "cbench/telecom-gsm")}
    done["tpe"]["strategy_fields"] = {"sampler": "tpe", "startup_trials": 3}
    path.write_text(json.dumps({"methods": done}))
    assert bench.load_done(path, runs, names) == {}
    path.write_text("{}")
    with pytest.raises(SystemExit, match="--done .*not a bench_search.json"):
        bench.load_done(path, runs, names)


def test_the_heldout_list_is_the_six_and_one_test_program_of_each_of_12_other_families():
    """The fixed held-out set: chosen once (by the rule its header states) and kept as the corpus
    grows; every program stays in the test split, one per family, none builtin or of the six's."""
    from costtune.corpus import read_corpus
    from costtune.corpus.families import HELD_OUT

    listed = bench.read_programs(bench.HELDOUT)
    six = ["cbench/telecom-gsm", "cbench/automotive-susan-corners", "cbench/automotive-susan-edges",
           "cbench/automotive-susan-smoothing", "cbench/bzip2-decode", "cbench/bzip2-encode"]
    assert listed[:6] == [(p, 1) for p in six]
    _, programs = read_corpus(Path(__file__).parent.parent / "benchmarks" / "corpus" / "corpus.jsonl.gz")
    meta = {prog["benchmark"]: prog for prog, _ in programs}
    rest = listed[6:]
    assert len(rest) >= 12 and rest == sorted(rest)
    families = [meta[p]["family"] for p, _ in rest]
    assert len(set(families)) == len(rest)
    for (p, repeat), family in zip(rest, families):
        m = meta[p]
        assert m["split"] == "test" and m["suite"] != "builtin" and repeat == m["repeat"], (p, m)
        assert family not in {f"mibench:{c}" for c in HELD_OUT}, p
    assert all(meta[p]["split"] == "test" for p in six if p in meta)  # gsm is not in the corpus


def test_program_lists_say_what_is_wrong_in_one_line(tmp_path):
    f = tmp_path / "list.txt"
    f.write_text("# comment\nbuiltin/bitcount 1  # trailing\n\nbuiltin/sha256\n")
    assert bench.read_programs(f) == [("builtin/bitcount", 1), ("builtin/sha256", None)]
    f.write_text("builtin/bitcount many\n")
    with pytest.raises(ValueError, match="list.txt:1: expected 'suite/name \\[repeat\\]'"):
        bench.read_programs(f)
    with pytest.raises(ValueError, match="cannot read program list"):
        bench.read_programs(tmp_path / "none.txt")


def test_figures_after_10_20_40_and_the_budget():
    """Per program O3/best after each point within the run's budget (a search that stopped early keeps
    its last best); per run their geomeans; a program not reached counts as the run's own budget."""
    h_tpe = [1.0] * 50 + [0.5] * 50  # TPE reaches 2x at measurement 51
    h_fast = [1.0] * 9 + [0.8] * 11 + [0.5] * 5  # 1.25x at 10, 2x at 21, then stops (the trial cap) at 25
    results = {"tpe": {"budget": 100, "programs": {"a": {"history": h_tpe, "speedup": 2.0}}},
               "fast": {"budget": 40, "programs": {"a": {"history": h_fast, "speedup": 2.0}}}}
    bench.summarize(results, ["a"])
    assert results["fast"]["programs"]["a"]["at"] == {10: 1.25, 20: 1.25, 40: 2.0}
    assert results["tpe"]["programs"]["a"]["at"] == {10: 1.0, 20: 1.0, 40: 1.0, 100: 2.0}
    assert results["fast"]["geomean_at"] == {10: 1.25, 20: 1.25, 40: 2.0}
    assert results["fast"]["geomean_reach_tpe"] == [21, 51]
    assert bench.at([], 10) is None
    results["slow"] = {"budget": 30, "programs": {"a": {"history": [1.0] * 30, "speedup": 1.0}}}
    bench.summarize(results, ["a"])
    assert results["slow"]["sum_to_reach_tpe"] == 30 and results["slow"]["geomean_reach_tpe"] == [None, 51]


def test_cpu_seconds_count_cpu_of_children_not_wall_time():
    import subprocess
    import sys

    c0 = bench.cpu_seconds()
    subprocess.run([sys.executable, "-c", "import time; time.sleep(1.0)"], check=True)
    slept = bench.cpu_seconds() - c0
    subprocess.run([sys.executable, "-c", "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.6: pass"],
                   check=True)
    busy = bench.cpu_seconds() - c0 - slept
    assert slept < 0.5 and busy >= 0.55, (slept, busy)


def test_two_strategies_by_file_side_by_side_on_builtin_programs(tmp_path, capsys):
    """A shipped strategy by its file and one of the user's own, two measurements each on two programs."""
    mine = tmp_path / "my_random.yaml"
    mine.write_text("# my_random: random search\nsampler: random\n")
    tpe = Path(__file__).resolve().parent.parent / "tuner_configs" / "tpe.yaml"
    out = tmp_path / "out"
    assert bench.main(["--strategies", f"{tpe}@3", f"{mine}@2:1", "--benchmarks", "bitcount", "builtin/checksum",
                       "--repeat", "1", "--out", str(out), "--json"]) == 0
    report = bench.json.loads(capsys.readouterr().out)
    runs = report["methods"]
    assert list(runs) == ["tpe", "my_random-s1"]
    assert (runs["tpe"]["budget"], runs["my_random-s1"]["budget"], runs["my_random-s1"]["seed"]) == (3, 2, 1)
    assert runs["my_random-s1"]["strategy_fields"] == {"sampler": "random"}
    for label, r in runs.items():
        assert list(r["programs"]) == ["builtin/bitcount", "builtin/checksum"], label
        for p in r["programs"].values():
            assert p["measurements"] == r["budget"] == len(p["history"]) and p["o3"] > 0, label
            assert list(p["at"]) == [str(r["budget"])] and p["at"][str(r["budget"])] == pytest.approx(p["speedup"])
        assert r["geomean_speedup"] >= 1.0 and r["seconds"] > 0
        assert (out / label / "bitcount" / "summary.json").is_file()
    # --report reads the finished searches back: the same figures
    assert bench.main(["--strategies", f"{tpe}@3", f"{mine}@2:1", "--benchmarks", "bitcount", "builtin/checksum",
                       "--out", str(out), "--report", "--json"]) == 0
    again = bench.json.loads(capsys.readouterr().out)["methods"]
    assert {k: r["geomean_speedup"] for k, r in again.items()} == {k: r["geomean_speedup"] for k, r in runs.items()}


def test_a_strategy_that_does_not_load_stops_before_any_search(tmp_path, capsys):
    rc = bench.main(["--strategies", "tpe", "no_such_strategy", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.startswith("bench_search: error: no config file no_such_strategy") and len(err.splitlines()) == 1
    assert not (tmp_path / "out").exists()
