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
    earlier = {"methods": {"tpe": {"seconds": 5.0, "programs": {"cbench/a": {"history": [1.0, 0.9]},
                                                                "cbench/z": {"history": [1.0]}}},
                           "tpe-s1": {"seconds": 6.0, "programs": {"cbench/a": {"history": [1.0, 0.8]}}},
                           "proxy": {"seconds": 7.0, "programs": {"cbench/a": {"history": [1.0, 0.7]}}}}}
    path = tmp_path / "bench_search.json"
    path.write_text(bench.json.dumps(earlier))
    refs = bench.load_references(path, ["a", "b"], exclude={"tpe-s1": {}})
    assert refs == {"tpe": {"seconds": 5.0, "programs": {"cbench/a": {"history": [1.0, 0.9]}}}}
    path.write_text("{}")
    with pytest.raises(SystemExit, match="not a bench_search.json"):
        bench.load_references(path, ["a"], exclude={})


def test_defaults_help_and_method_names():
    """--repeat: each program's own unless asked (--repeat 1); --k 8 as the README and search_cbench.yaml;
    every option has help text and --help explains every method in a line."""
    ap = bench.parser()
    args = ap.parse_args([])
    assert args.repeat is None and args.k == 8
    assert ap.parse_args(["--repeat", "1"]).repeat == 1
    for action in ap._actions:
        assert action.help, action.option_strings
    text = ap.format_help()
    for method in bench.METHODS:
        line = next(l for l in text.splitlines() if l.split()[:1] == [method])
        assert len(line.split()) > 3, line


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
