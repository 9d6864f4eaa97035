"""Side by side: random search, Optuna TPE, and proxy-guided TPE, same programs, same budget.

    .venv/bin/python benchmarks/bench_search.py --benchmarks bitcount sorting sha256 --budget 40 \
        [--model DIR] [--k 8] [--repeat 1] [--flat] [--jobs 2] [--out bench_search_out] [--json]

Each (method, program) gets its own study storage and records database (fresh, so no
method reuses another's measurements) in OUT/<method>/<program>/; ``--jobs N`` runs N of
them at once (single-threaded each, most expensive first), and a rerun resumes the
studies. Per program and method it reports the best
instruction count against O3, and how many real measurements the method needed to reach
the final result of unguided TPE. ``--flat`` adds random search over the flat
random-sequence space. ``--methods ... proxy-warm tpe-warm --warm-runs EARLIER_OUT`` adds
the proxy and TPE warm-started (``--warm-start``) from the studies EARLIER_OUT holds for
programs of *other* families (``security-blowfish-decode`` never learns from
``-encode``): transfer from earlier searches, evaluated leave-one-family-out.
``proxy-static-var-screened-warm`` offers the warm pipelines to the proxy's screen
with every trial's proposals (``--warm-start-mode screen``) instead of measuring them all
first. ``tpe-s1``/``tpe-s2`` are unguided TPE at seeds 1 and 2: with them the table adds the
one-third test against every TPE seed (TPE's final result at one seed is partly luck).
The test is read three ways: per program (``<=1/3 of TPE``), summed over the programs
(``sum to reach``), and on the geometric mean (``geomean to tpe``: after how many
measurements per program the method's geomean of best-so-far speedups reaches TPE's
final geomean, beside the measurements TPE itself needed). ``--references EARLIER/bench_search.json``
takes the TPE runs from an earlier run instead of repeating them (exact counts, seeded: TPE
repeats its history measurement by measurement).
Prints a table and writes OUT/bench_search.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from costtune.errors import CostTuneError  # noqa: E402
from costtune.search import SearchConfig, run_search  # noqa: E402

METHODS = {  # name -> SearchConfig overrides
    "random": dict(sampler="random"),
    "tpe": dict(sampler="tpe"),
    "proxy": dict(sampler="proxy"),
    "random-flat": dict(sampler="random", space="flat"),  # flat random pass sequences (--flat)
    "proxy-static": dict(sampler="proxy", model="static"),  # the proxy without a model: static insn count
    # warm-started from other program families' studies of --warm-runs (leave one family out)
    "proxy-warm": dict(sampler="proxy"),
    "proxy-variants": dict(sampler="proxy", variants=True),  # + predictions from measured function variants
    "tpe-warm": dict(sampler="tpe"),
    # the three together: static-count screen, function-variant predictions, warm start
    "proxy-static-var-warm": dict(sampler="proxy", model="static", variants=True),
    # the same, but the warm pipelines join the screen instead of all being measured first
    "proxy-static-var-screened-warm": dict(sampler="proxy", model="static", variants=True, warm_start_mode="screen"),
    # the same once --variants also predicted new variants of a known control-flow shape (runs of the
    # -var- methods above predate that)
    "proxy-static-shapes-screened-warm": dict(sampler="proxy", model="static", variants=True,
                                              warm_start_mode="screen"),
    # the same, telling TPE every screened proposal predicted not to gain (--tell-predicted)
    "proxy-static-told-screened-warm": dict(sampler="proxy", model="static", variants=True,
                                            warm_start_mode="screen", tell_predicted=True),
    # ranked by the count estimated from block profiles (--model profile) instead of the static count
    "proxy-profile-screened-warm": dict(sampler="proxy", model="profile", warm_start_mode="screen"),
    "proxy-profile-told-screened-warm": dict(sampler="proxy", model="profile", warm_start_mode="screen",
                                             tell_predicted=True),
    # + 4 neighbours of the best trial in every screen (--neighbours 4)
    "proxy-profile-told-nbr-screened-warm": dict(sampler="proxy", model="profile", warm_start_mode="screen",
                                                 tell_predicted=True, neighbours=4),
    # + 4 crossovers of two of the 8 best trials in every screen (--crossovers 4)
    "proxy-profile-told-nbr-cx-screened-warm": dict(sampler="proxy", model="profile", warm_start_mode="screen",
                                                    tell_predicted=True, neighbours=4, crossovers=4),
    # the same with no warm start: what the method does on its own, without other programs' searches
    "proxy-profile-told-nbr-cx-screened": dict(sampler="proxy", model="profile", tell_predicted=True, neighbours=4,
                                               crossovers=4),
    # + half of the neighbours repeat one of the best pipeline's added passes elsewhere (--neighbour-moves repeat)
    "proxy-profile-told-nbr-rep-cx-screened-warm": dict(sampler="proxy", model="profile", warm_start_mode="screen",
                                                        tell_predicted=True, neighbours=4, crossovers=4,
                                                        neighbour_moves="repeat"),
    # + a third of the neighbours repeat an added pass, a third insert a new one (--neighbour-moves edits)
    "proxy-profile-told-nbr-edits-cx-screened-warm": dict(sampler="proxy", model="profile", warm_start_mode="screen",
                                                          tell_predicted=True, neighbours=4, crossovers=4,
                                                          neighbour_moves="edits"),
    # unguided TPE at other seeds: how much TPE's own final result and its measurements vary
    "tpe-s1": dict(sampler="tpe", seed=1),
    "tpe-s2": dict(sampler="tpe", seed=2),
}
#: a short line per method for --help
METHOD_HELP = {
    "random": "random search in the o3-edits space (O3 plus edits)",
    "tpe": "Optuna TPE, unguided: every trial measured",
    "proxy": "TPE whose k proposals a trial are screened by the cost model (--model); the best is measured",
    "random-flat": "random flat pass sequences of the catalog (the collect space; --flat adds it)",
    "proxy-static": "the proxy screening by static instruction count instead of a model",
    "proxy-warm": "the proxy, warm-started from --warm-runs' studies of other program families",
    "proxy-variants": "the proxy + predictions from measured function variants (--variants)",
    "tpe-warm": "TPE warm-started from --warm-runs' studies of other program families",
    "proxy-static-var-warm": "static-count screen + variants + warm start",
    "proxy-static-var-screened-warm": "the same, the warm pipelines joining the screen (--warm-start-mode screen)",
    "proxy-static-shapes-screened-warm": "the same once variants also predict new variants of a known shape",
    "proxy-static-told-screened-warm": "the same, telling TPE the proposals predicted not to gain (--tell-predicted)",
    "proxy-profile-screened-warm": "screened by the profile estimate (--model profile), warm pipelines screened",
    "proxy-profile-told-screened-warm": "the same + --tell-predicted",
    "proxy-profile-told-nbr-screened-warm": "the same + 4 neighbours of the best trial a screen (--neighbours 4)",
    "proxy-profile-told-nbr-cx-screened-warm": "the same + 4 crossovers of the best trials (--crossovers 4): "
                                               "tuner_configs/search_cbench.yaml with a warm start",
    "proxy-profile-told-nbr-cx-screened": "the same without a warm start (search_cbench.yaml alone)",
    "proxy-profile-told-nbr-rep-cx-screened-warm": "... neighbours half repeat an added pass (--neighbour-moves repeat)",
    "proxy-profile-told-nbr-edits-cx-screened-warm": "... neighbours repeat or insert passes (--neighbour-moves edits)",
    "tpe-s1": "unguided TPE at seed 1 (with tpe-s2: how much TPE's own result varies)",
    "tpe-s2": "unguided TPE at seed 2",
}
WARM_SOURCES = ("tpe", "random", "proxy", "proxy-static")  # methods of --warm-runs whose studies seed *-warm


def family(bench: str) -> str:
    """``security-blowfish-decode`` -> ``security-blowfish``: programs that share their code."""
    return "-".join(bench.split("/")[-1].split("-")[:2])


def warm_storages(runs: Path, bench: str) -> list[str]:
    """Study storages in RUNS/<method>/<program>/ of every program outside ``bench``'s family."""
    return [f"sqlite:///{db.resolve()}" for m in WARM_SOURCES for db in sorted((runs / m).glob("*/search.db"))
            if family(db.parent.name) != family(bench)]


def reach(history: list, target: float | None) -> int | None:
    """1-based number of measurements after which best-so-far <= target."""
    if target is None:
        return None
    for i, v in enumerate(history, 1):
        if v is not None and v <= target * (1 + 1e-12):
            return i
    return None


TPE_SEEDS = ("tpe", "tpe-s1", "tpe-s2")  # unguided TPE at seeds 0, 1, 2: the references of the one-third test


def final(results: dict, ref: str, bench: str) -> float | None:
    """Best value the reference method ``ref`` measured on ``bench`` (None if it did not run)."""
    p = results.get(ref, {}).get("programs", {}).get(bench)
    return min(v for v in p["history"] if v is not None) if p else None


def load_references(path: Path, benchmarks: list, exclude: dict) -> dict:
    """The TPE runs of an earlier bench_search.json, restricted to ``benchmarks``, that are not in ``exclude``."""
    try:
        ran = json.loads(path.read_text())["methods"]
    except (OSError, ValueError, KeyError) as e:
        raise SystemExit(f"bench_search: error: --references {path}: not a bench_search.json ({e})")
    return {name: {"seconds": ran[name]["seconds"],
                   "programs": {b: p for b, p in ran[name]["programs"].items() if _order(b, benchmarks) < len(benchmarks)}}
            for name in TPE_SEEDS if name in ran and name not in exclude}


def third_test(r: dict, results: dict, ref: str) -> tuple[int, int]:
    """The issue's test against reference ``ref``, on the programs where ``ref`` beat O3: of those,
    on how many did method ``r`` reach ``ref``'s final result with at most a third of the
    measurements ``ref`` itself needed to reach it. Returns (passed, programs)."""
    passed = improved = 0
    for b, p in r["programs"].items():
        target = final(results, ref, b)
        if target is None or target >= 1.0:  # histories are best-so-far / O3
            continue
        improved += 1
        mine, theirs = reach(p["history"], target), reach(results[ref]["programs"][b]["history"], target)
        passed += mine is not None and 3 * mine <= theirs
    return passed, improved


def sum_to_reach(r: dict, results: dict, ref: str, budget: int) -> int | None:
    """The test in aggregate: measurements method ``r`` needed to reach ``ref``'s final result,
    summed over the programs where ``ref`` beat O3, a program not reached counted as the whole
    budget (a lower bound). None unless ``r`` ran every one of those programs."""
    total, n = 0, 0
    for b in results.get(ref, {}).get("programs", {}):
        target = final(results, ref, b)
        if target is None or target >= 1.0:
            continue
        if b not in r["programs"]:
            return None
        total, n = total + (reach(r["programs"][b]["history"], target) or budget), n + 1
    return total if n else None


def geomean_reach(r: dict, results: dict, ref: str) -> tuple[int | None, int | None]:
    """The test on the geometric mean: after how many measurements per program the geomean over
    the programs of method ``r``'s best-so-far speedup first reaches ``ref``'s final geomean, and
    after how many ``ref``'s own does (a search that stopped early keeps its last best). On the
    programs both ran. Returns (r's, ref's); None where not reached."""
    progs = [b for b in results.get(ref, {}).get("programs", {}) if b in r["programs"]]
    if not progs:
        return None, None

    def curve(m: dict) -> list[float]:
        hs = [m["programs"][b]["history"] for b in progs]
        return [geomean([1 / (h[min(i, len(h) - 1)] or 1.0) for h in hs]) for i in range(max(map(len, hs)))]

    theirs = curve(results[ref])

    def first(c: list[float]) -> int | None:
        return next((i for i, v in enumerate(c, 1) if v >= theirs[-1] * (1 - 1e-12)), None)

    return first(curve(r)), first(theirs)


def geomean(xs):
    xs = [x for x in xs if x]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else None


def _order(key: str, names: list) -> int:
    short = key.split("/", 1)[-1]
    return names.index(short) if short in names else names.index(key) if key in names else len(names)


def _die_with_parent(parent: int) -> None:
    """Pool initializer: a worker whose parent is killed stops too (instead of searching on)."""
    import threading

    def watch():
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def cpu_seconds() -> float:
    """CPU time of this process and its waited-for children (clang, opt, llc, qemu) so far."""
    import resource

    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + kids.ru_utime + kids.ru_stime


CPU_FILE = "bench_cpu_seconds.txt"  #: a search's CPU seconds, beside its summary.json


def _run_one(out: Path, method: str, bench: str, over: dict, common: dict):
    """One method on one program in OUT/<method>/<program>/: (method, {program: result}, CPU seconds)."""
    cfg = SearchConfig(benchmarks=[bench], out=str(out / method / bench.replace("/", "_")), **{**common, **over})
    c0 = cpu_seconds()
    try:
        res = run_search(cfg)
    except CostTuneError as e:  # one program that cannot be searched does not sink the others
        print(f"{method} {bench}: {e}", file=sys.stderr)
        return method, {}, cpu_seconds() - c0
    cpu = cpu_seconds() - c0
    (Path(cfg.out) / CPU_FILE).write_text(f"{cpu:.2f}\n")
    return method, {p.benchmark: {"o3": p.o3_value, "best": p.best_value, "speedup": p.speedup,
                                  "measurements": p.measurements, "trials": p.trials, "history": p.history,
                                  "best_pipeline": p.best_pipeline} for p in res.programs}, cpu


MISSING = "failed / not run"


def _finished(out: Path, method: str, bench: str):
    """What _run_one returns, from the summary.json of a search that finished earlier ({} if none did)."""
    path = out / method / bench.replace("/", "_") / "summary.json"
    if not path.is_file():
        return method, {}, 0.0
    d = json.loads(path.read_text())
    cpu = path.with_name(CPU_FILE)
    return method, {p["benchmark"]: {k: p[k] for k in ("speedup", "measurements", "trials", "history", "best_pipeline")}
                    | {"o3": p["o3_value"], "best": p["best_value"]} for p in d["programs"]}, \
        float(cpu.read_text()) if cpu.is_file() else float("nan")


def markdown(results: dict, names: list) -> str:
    """The table as Markdown: O3/best (measurements to reach TPE's final best) per program and method."""
    progs = sorted({b for r in results.values() for b in r["programs"]}, key=lambda k: _order(k, names))
    lines = ["| program | " + " | ".join(results) + " |", "|---" * (len(results) + 1) + "|"]
    for b in progs:
        cells = []
        for r in results.values():
            p = r["programs"].get(b)
            cells.append(MISSING if p is None else f"{p['speedup']:.4f}x ({p['to_reach_tpe'] or '-'})")
        lines.append(f"| {b.split('/', 1)[-1]} | " + " | ".join(cells) + " |")
    rows = [("geomean", lambda r: f"**{r['geomean_speedup']:.3f}x**" if r["geomean_speedup"] else "-"),
            ("geomean without its best program", lambda r: f"{r['geomean_without_best']:.3f}x" if r["geomean_without_best"] else "-"),
            ("reached TPE's final result", lambda r: f"{r['reached_tpe']}/{len(r['programs'])}"),
            ("... with <= 1/3 of TPE's measurements (programs where TPE beat O3)",
             lambda r: f"{r['within_third_of_tpe']}/{r['tpe_improved']}"),
            ("measurements to reach TPE's final result, summed (not reached: the budget)",
             lambda r: str(r["sum_to_reach_tpe"]) if r["sum_to_reach_tpe"] is not None else "-"),
            ("measurements per program after which the geomean reaches TPE's final geomean (TPE's own)",
             lambda r: "{} ({})".format(*(x or "-" for x in r["geomean_reach_tpe"]))),
            ("CPU seconds (all programs)", lambda r: f"{r['seconds']:.0f}")]
    if any("within_third_of_tpe_seeds" in r for r in results.values()):
        rows.insert(-1, ("... against each TPE seed, summed (a method never against itself)",
                         lambda r: "{}/{}".format(*r["within_third_of_tpe_seeds"])))
    for label, f in rows:
        lines.append(f"| {label} | " + " | ".join(f(r) for r in results.values()) + " |")
    return "\n".join(lines)


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="methods:\n" + "\n".join(f"  {m:<46} {METHOD_HELP[m]}" for m in METHODS))
    ap.add_argument("--suite", default="builtin", help="builtin | cbench | ... | DIR (default: builtin)")
    ap.add_argument("--benchmarks", nargs="+", default=["bitcount", "sorting", "sha256"],
                    help="programs of the suite (default: bitcount sorting sha256)")
    ap.add_argument("--budget", type=int, default=40, help="real measurements per program, O3 included (default: 40)")
    ap.add_argument("--k", type=int, default=8, help="proposals a proxy trial screens (default: 8, as the README's "
                    "comparisons and search_cbench.yaml)")
    ap.add_argument("--model", default="", help="the proxy's cost model directory (default: the shipped model)")
    ap.add_argument("--repeat", type=int, help="the programs' repeat knob (default: each program's own; "
                    "--repeat 1 for one run over the program's input, as the README's cBench runs)")
    ap.add_argument("--seed", type=int, default=0, help="the searches' seed (default: 0)")
    ap.add_argument("--flat", action="store_true", help="also random search over the flat space")
    ap.add_argument("--methods", nargs="+", default=["random", "tpe", "proxy"], choices=list(METHODS),
                    metavar="METHOD", help="methods to compare (default: random tpe proxy; listed below)")
    ap.add_argument("--jobs", type=int, default=1, help="(method, program) searches run at once")
    ap.add_argument("--warm-runs", type=Path, help="an earlier OUT: the *-warm methods start from the best "
                    "pipelines its studies found for programs of other families")
    ap.add_argument("--references", type=Path, help="an earlier bench_search.json: its unguided TPE runs "
                    "(tpe, tpe-s1, tpe-s2) on these programs are the references of the tests, where not run here "
                    "(instruction counts are exact and seeded TPE repeats its history measurement by measurement)")
    ap.add_argument("--out", default="bench_search_out", help="output directory (default: bench_search_out)")
    ap.add_argument("--fresh", action="store_true", help="delete OUT first (otherwise studies resume)")
    ap.add_argument("--report", action="store_true", help="run nothing: the table of the searches in OUT that "
                    "finished (CPU seconds are those of each search's last pass; nan where not recorded)")
    ap.add_argument("--json", action="store_true", help="print the JSON instead of the table")
    ap.add_argument("--markdown", action="store_true", help="print a Markdown table instead")
    return ap


def main(argv=None) -> int:
    ap = parser()
    args = ap.parse_args(argv)

    out = Path(args.out)
    if args.fresh and out.exists():
        shutil.rmtree(out)
    methods = {m: METHODS[m] for m in args.methods}
    if args.flat:
        methods["random-flat"] = dict(sampler="random", space="flat")
    if any(m.endswith("-warm") for m in methods) and not args.warm_runs and not args.report:
        ap.error("the *-warm methods need --warm-runs")

    def over(name: str, bench: str) -> dict:
        if not name.endswith("-warm"):
            return methods[name]
        return {**methods[name], "warm_start": warm_storages(args.warm_runs, bench)}

    jobs = [(name, b) for name in methods for b in args.benchmarks]
    jobs.sort(key=lambda j: not j[0].startswith("proxy"))  # the proxy's jobs compile k candidates a trial: first
    common = dict(suite=args.suite, budget=args.budget, k=args.k, model=args.model, repeat=args.repeat,
                  seed=args.seed, progress=args.jobs == 1)
    t0 = time.perf_counter()
    if args.report:
        done = [_finished(out, name, b) for name, b in jobs]
    elif args.jobs == 1:
        done = [_run_one(out, name, b, over(name, b), common) for name, b in jobs]
    else:
        import multiprocessing as mp

        with mp.get_context("spawn").Pool(args.jobs, maxtasksperchild=1, initializer=_die_with_parent,
                                           initargs=(os.getpid(),)) as pool:
            done = pool.starmap(_run_one, [(out, name, b, over(name, b), common) for name, b in jobs],
                                chunksize=1)
    results = {name: {"seconds": 0.0, "programs": {}} for name in methods}
    for name, prog, seconds in done:  # CPU seconds, the searches' own and their tools'
        results[name]["seconds"] = round(results[name]["seconds"] + seconds, 1)
        results[name]["programs"].update(prog)
    for r in results.values():  # the order of --benchmarks
        r["programs"] = {k: r["programs"][k] for k in sorted(r["programs"], key=lambda k: _order(k, args.benchmarks))}
    wall = round(time.perf_counter() - t0, 1)
    if args.references:
        results = {**load_references(args.references, args.benchmarks, exclude=results), **results}
    for r in results.values():
        for b, p in r["programs"].items():
            p["to_reach_tpe"] = reach(p["history"], final(results, "tpe", b))
    for r in results.values():
        r["geomean_speedup"] = geomean([p["speedup"] for p in r["programs"].values()])
        hits = [p["to_reach_tpe"] for p in r["programs"].values()]
        r["reached_tpe"] = sum(h is not None for h in hits)
        r["mean_to_reach_tpe"] = (sum(h for h in hits if h) / len([h for h in hits if h])) if any(hits) else None
        r["within_third_of_tpe"], r["tpe_improved"] = third_test(r, results, "tpe")
        r["sum_to_reach_tpe"] = sum_to_reach(r, results, "tpe", args.budget)
        r["geomean_reach_tpe"] = list(geomean_reach(r, results, "tpe"))
        r["geomean_without_best"] = geomean(sorted(p["speedup"] for p in r["programs"].values())[:-1])
    seeds = [m for m in results if m in TPE_SEEDS]
    if len(seeds) > 1:  # the test against every TPE seed, a method never against itself
        for name, r in results.items():
            tests = [third_test(r, results, ref) for ref in seeds if ref != name]
            r["within_third_of_tpe_seeds"] = [sum(t[0] for t in tests), sum(t[1] for t in tests)]
    for name, r in results.items():  # the geomean reading against every TPE seed there is
        r["geomean_reach_tpe_seeds"] = {ref: list(geomean_reach(r, results, ref)) for ref in seeds if ref != name}
    report = {"suite": args.suite, "benchmarks": args.benchmarks, "budget": args.budget, "k": args.k,
              "model": args.model or "default", "repeat": args.repeat, "seed": args.seed, "jobs": args.jobs,
              "wall_seconds": wall, "methods": results}
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench_search.json").write_text(json.dumps(report, indent=2))
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    if args.markdown:
        print(markdown(results, args.benchmarks))
        return 0
    progs = sorted({b for r in results.values() for b in r["programs"]}, key=lambda k: _order(k, args.benchmarks))
    w = max(len(p) for p in progs + ["geomean"])
    print(f"budget {args.budget} real measurements per program, k={args.k}, "
          f"repeat={args.repeat or 'own'}; "
          "cells: O3/best (measurements to reach TPE's final best); '<=1/3 of TPE': programs, of those "
          "where TPE beat O3, whose TPE result the method reached with a third of TPE's own measurements")
    print(f"{'program':<{w}}  " + "  ".join(f"{m:>16}" for m in results))
    for b in progs:
        cells = []
        for m in results:
            p = results[m]["programs"].get(b)
            if p is None:
                cells.append(MISSING)
                continue
            rt = p["to_reach_tpe"]
            cells.append(f"{p['speedup']:.4f} ({rt if rt else '-':>3})")
        print(f"{b:<{w}}  " + "  ".join(f"{c:>16}" for c in cells))
    print(f"{'geomean':<{w}}  " + "  ".join(f"{results[m]['geomean_speedup'] or 0:>16.4f}" for m in results))
    print(f"{'reached TPE':<{w}}  " + "  ".join(f"{results[m]['reached_tpe']:>13}/{len(progs):<2}" for m in results))
    print(f"{'geomean w/o top':<{w}}  " + "  ".join(f"{results[m]['geomean_without_best']:>16.4f}" if results[m]['geomean_without_best'] else f"{'-':>16}"
                                                 for m in results))
    print(f"{'<=1/3 of TPE':<{w}}  " + "  ".join(f"{results[m]['within_third_of_tpe']:>13}/{results[m]['tpe_improved']:<2}"
                                                 for m in results))
    if any("within_third_of_tpe_seeds" in r for r in results.values()):
        print(f"{'<=1/3, all seeds':<{w}}  " + "  ".join(
            "{:>13}/{:<2}".format(*results[m]["within_third_of_tpe_seeds"]) for m in results))
    print(f"{'sum to reach':<{w}}  " + "  ".join(
        f"{results[m]['sum_to_reach_tpe']:>16}" if results[m]["sum_to_reach_tpe"] is not None else f"{'-':>16}"
        for m in results))
    for ref in ["tpe"] + [s for s in seeds if s != "tpe"]:
        cells = [results[m]["geomean_reach_tpe_seeds"].get(ref, (None, None)) for m in results]
        print(f"{'geomean to ' + ref:<{w}}  " + "  ".join(
            f"{(f'{a} of {b}' if b else '-') if a else '-':>16}" for a, b in cells))
    print(f"{'mean to reach':<{w}}  " + "  ".join(
        f"{results[m]['mean_to_reach_tpe']:>16.1f}" if results[m]["mean_to_reach_tpe"] else f"{'-':>16}" for m in results))
    print(f"{'cpu seconds':<{w}}  " + "  ".join(f"{results[m]['seconds']:>16.0f}" for m in results))
    print(f"JSON: {out / 'bench_search.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
