"""Search strategies side by side: the same programs, each strategy at its budget and seeds.

    .venv/bin/python benchmarks/bench_search.py --heldout \
        --strategies tpe@100:0,1 screen_model@40 screen_profile@40 random@40 [--jobs 2] [--out bench_search_out]
    .venv/bin/python benchmarks/bench_search.py --strategies tpe screen_profile --benchmarks bitcount sorting --budget 20

A strategy is a search strategy file (``tuner_configs/NAME.yaml``, by name, or a path to your own;
``costtune search --help`` lists the shipped ones). ``STRATEGY[@BUDGET][:SEED,...][+warm]`` runs it
with BUDGET real measurements per program (default ``--budget``) at each SEED (default 0); a run is
labelled by the strategy's file name, ``-sN`` for a seed N other than 0 and ``-warm`` when warm
started: ``tpe``, ``tpe-s1``, ``screen_profile-warm``. The run labelled ``tpe`` (unguided TPE at seed 0)
is the reference; every ``tpe-sN`` is a reference too.

Programs: ``--benchmarks`` names of ``--suite`` or ``suite/name`` of any suite (several suites in
one run), or ``--heldout``: the fixed held-out set of ``benchmarks/heldout_search.txt`` (six cBench
programs and 12 of the corpus's test split, each at the repeat the corpus measured it with).

Each (run, program) gets its own study storage and records database (fresh, so no run reuses
another's measurements) in OUT/<label>/<program>/; ``--jobs N`` runs N of them at once
(single-threaded each, the screened ones and the larger budgets first), and a rerun resumes the
studies. Reported per program and run: the improvement over O3 (O3 / best) after 10, 20, 40 and
100 measurements (those within the run's budget) and at the end, and the measurements the run
needed to reach TPE's final result; per run: the geometric means of those, the final geomean
with its best program left out, the one-third test against TPE read per program (``<=1/3 of
TPE``), summed over the programs (``sum to reach``) and on the geometric mean (``geomean to
tpe``: after how many measurements per program the geomean of the run's best-so-far passes
TPE's final geomean, beside the measurements TPE itself needed), and CPU seconds (the searches'
own and their tools'). ``+warm`` runs start from the best pipelines that the studies of
``--warm-runs EARLIER_OUT`` found for programs of *other* families (leave one family out).
``--references EARLIER/bench_search.json`` takes the TPE runs from an earlier run instead of
repeating them (exact counts, seeded: TPE repeats its history measurement by measurement);
``--done EARLIER/bench_search.json`` takes every (run, program) search it finished at the same budget
and runs only the rest (a benchmark longer than one machine's time, continued on another).
Prints a table and writes OUT/bench_search.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import sys
import time
from pathlib import Path
from typing import NamedTuple

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from costtune.corpus.families import family_of  # noqa: E402
from costtune.errors import CostTuneError  # noqa: E402
from costtune.search import SearchConfig, run_search  # noqa: E402
from costtune.search.scorer import PROFILE, STATIC  # noqa: E402

HELDOUT = Path(__file__).resolve().parent / "heldout_search.txt"
CHECKPOINTS = (10, 20, 40, 100)  #: measurements after which the improvement over O3 is reported
REFERENCE = "tpe"  #: the run whose final result the others are measured against
_REFERENCE_RUN = re.compile(rf"{REFERENCE}(-s\d+)?")  #: the reference strategy at any seed
_SPEC = re.compile(r"(?P<strategy>[^@]+?)(@(?P<budget>\d+))?(:(?P<seeds>s?\d+(,s?\d+)*))?(?P<warm>\+warm)?")


class Run(NamedTuple):
    """One strategy at one budget and seed: a column of the table."""

    label: str
    strategy: str  #: a shipped strategy's name or a file
    budget: int
    seed: int
    warm: bool


def parse_runs(specs: list, budget: int) -> list[Run]:
    """``STRATEGY[@BUDGET][:SEED,...][+warm]`` items -> runs; ValueError on a malformed item or a label twice."""
    runs = []
    for spec in specs:
        m = _SPEC.fullmatch(spec)
        if not m:
            raise ValueError(f"strategy {spec!r} is not STRATEGY[@BUDGET][:SEED,...][+warm]")
        strategy, warm = m["strategy"], bool(m["warm"])
        name = Path(strategy).name.removesuffix(".yaml").removesuffix(".yml")
        seeds = [int(x.lstrip("s")) for x in m["seeds"].split(",")] if m["seeds"] else [0]
        for seed in seeds:
            label = name + (f"-s{seed}" if seed else "") + ("-warm" if warm else "")
            runs.append(Run(label, strategy, int(m["budget"] or budget), seed, warm))
    labels = [r.label for r in runs]
    twice = sorted({x for x in labels if labels.count(x) > 1})
    if twice:
        raise ValueError(f"run {twice[0]} named twice (one strategy at one seed per table)")
    if any(r.budget < 1 for r in runs):
        raise ValueError("every budget must be >= 1")
    return runs


def read_programs(path: Path) -> list[tuple[str, int | None]]:
    """``suite/name [repeat]`` lines of a program list (``#`` starts a comment) -> (program, repeat)."""
    try:
        text = path.read_text()
    except OSError as e:
        raise ValueError(f"cannot read program list {path}: {e.strerror or e}") from None
    out = []
    for i, line in enumerate(text.splitlines(), 1):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        if len(words) > 2 or (len(words) == 2 and not words[1].isdigit()):
            raise ValueError(f"{path}:{i}: expected 'suite/name [repeat]', not {line.strip()!r}")
        out.append((words[0], int(words[1]) if len(words) == 2 else None))
    if not out:
        raise ValueError(f"{path}: no programs")
    return out


def program_dir(program: str) -> str:
    """Where a program's study lies under OUT/<label>/: ``sha256``, ``cbench/telecom-gsm`` (a program
    of a folder suite given as a path: its last two parts)."""
    return "/".join(Path(program).parts[-2:])


def warm_storages(runs: Path, program: str) -> list[str]:
    """Study storages in RUNS/<label>/<program>/ of every program outside ``program``'s family
    (runs that were warm-started themselves are left out)."""
    out = []
    for db in sorted(runs.glob("**/search.db")):
        rel = db.relative_to(runs).parts
        if len(rel) >= 3 and not rel[0].endswith("-warm") and family_of("/".join(rel[1:-1])) != family_of(program):
            out.append(f"sqlite:///{db.resolve()}")
    return out


def strategy_config(run: Run, program: str, repeat: int | None, args) -> SearchConfig:
    """The SearchConfig of one (run, program): the strategy file, the program, the run's budget and seed."""
    suite, _, name = program.rpartition("/")
    cfg = SearchConfig.load(run.strategy)
    learned = cfg.uses_model and cfg.model not in (STATIC, PROFILE) and not cfg.server
    return cfg.override(suite=suite or args.suite, benchmarks=[name], budget=run.budget, seed=run.seed,
                        repeat=args.repeat or repeat, out=str(Path(args.out) / run.label / program_dir(program)),
                        model=args.model if learned else None, progress=args.jobs == 1,
                        warm_start=warm_storages(args.warm_runs, program) if run.warm else None)


def schedule(runs: list[Run], programs: list, args, skip=frozenset()) -> list[tuple[str, SearchConfig]]:
    """(label, config) of every (run, program) not in ``skip`` ((label, program) pairs), program by
    program - a benchmark cut short leaves whole rows - and in a program the screened searches (k
    compiles a trial) and larger budgets first."""
    jobs = [(i, r.label, strategy_config(r, b, repeat, args)) for r in runs for i, (b, repeat) in enumerate(programs)
            if (r.label, b) not in skip]
    return [(label, cfg) for _, label, cfg in sorted(jobs, key=lambda j: (j[0], not j[2].uses_model, -j[2].budget))]


def load_done(path: Path, runs: list[Run], names: list, repeat: int | None = None) -> dict:
    """The (run, program) searches an earlier bench_search.json finished at the same budget, repeat
    knob and strategy file: {(label, program): (label, {program: result}, CPU seconds)} - what
    _run_one returns. A JSON of another --repeat is refused: its counts do not compare."""
    try:
        data = json.loads(path.read_text())
        ran = data["methods"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise SystemExit(f"bench_search: error: --done {path}: not a bench_search.json ({e})")
    if data.get("repeat") != repeat:
        raise SystemExit(f"bench_search: error: --done {path} ran at --repeat {data.get('repeat')}, this run at "
                         f"--repeat {repeat}: its counts do not compare")
    out = {}
    for r in runs:
        earlier = ran.get(r.label, {})
        if earlier.get("budget") != r.budget or earlier.get("warm", False) != r.warm:
            continue
        if earlier.get("strategy_fields") not in (None, _fields(r.strategy)):
            print(f"bench_search: {r.label}: the strategy file changed since {path}: none of its searches is "
                  "taken from it", file=sys.stderr)
            continue
        for key, p in earlier.get("programs", {}).items():
            i = _order(key, names)
            # a program is in a bench_search.json once its search finished: its budget spent, or the
            # space gave no new binaries for max_trials_factor x the budget trials
            if i < len(names) and p.get("cpu_seconds") is not None:
                p = {k: v for k, v in p.items() if k not in ("at", "to_reach_tpe")}  # summarize() adds them again
                out[(r.label, names[i])] = (r.label, {key: p}, p["cpu_seconds"])
    return out


def reach(history: list, target: float | None) -> int | None:
    """1-based number of measurements after which best-so-far <= target."""
    if target is None:
        return None
    for i, v in enumerate(history, 1):
        if v is not None and v <= target * (1 + 1e-12):
            return i
    return None


def final(results: dict, ref: str, bench: str) -> float | None:
    """Best value the reference method ``ref`` measured on ``bench`` (None if it did not run)."""
    p = results.get(ref, {}).get("programs", {}).get(bench)
    return min(v for v in p["history"] if v is not None) if p else None


def load_references(path: Path, benchmarks: list, exclude: dict) -> dict:
    """The TPE runs of an earlier bench_search.json, restricted to ``benchmarks``, that are not in ``exclude``."""
    try:
        data = json.loads(path.read_text())
        ran = data["methods"]
    except (OSError, ValueError, KeyError) as e:
        raise SystemExit(f"bench_search: error: --references {path}: not a bench_search.json ({e})")
    return {name: {"seconds": r["seconds"], "budget": r.get("budget", data.get("budget")),
                   "programs": {b: p for b, p in r["programs"].items() if _order(b, benchmarks) < len(benchmarks)}}
            for name, r in ran.items() if _REFERENCE_RUN.fullmatch(name) and name not in exclude}


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


def at(history: list, n: int) -> float | None:
    """O3 / best-so-far after ``n`` measurements (a search that stopped early keeps its last best)."""
    if not history:
        return None
    v = history[min(n, len(history)) - 1]
    return 1 / v if v else None


def _order(key: str, names: list) -> int:
    short = key.split("/", 1)[-1]
    return names.index(key) if key in names else names.index(short) if short in names else len(names)


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


def _program_results(res) -> dict:
    return {p.benchmark: {"o3": p.o3_value, "best": p.best_value, "speedup": p.speedup,
                          "measurements": p.measurements, "trials": p.trials, "history": p.history,
                          "best_pipeline": p.best_pipeline} for p in res.programs}


def _run_one(label: str, cfg: SearchConfig):
    """One run on one program in cfg.out: (label, {program: result}, CPU seconds)."""
    c0 = cpu_seconds()
    try:
        res = run_search(cfg)
    except CostTuneError as e:  # one program that cannot be searched does not sink the others
        print(f"{label} {cfg.suite}/{cfg.benchmarks[0]}: {e}", file=sys.stderr)
        return label, {}, cpu_seconds() - c0
    cpu = cpu_seconds() - c0
    spent = Path(cfg.out) / CPU_FILE
    if spent.is_file():  # a resumed search: its earlier passes' seconds count too
        cpu += float(spent.read_text())
    spent.write_text(f"{cpu:.2f}\n")
    return label, _program_results(res), cpu


MISSING = "failed / not run"


def _finished(out: Path, label: str, program: str):
    """What _run_one returns, from the summary.json of a search that finished earlier ({} if none did)."""
    path = out / label / program_dir(program) / "summary.json"
    if not path.is_file():
        return label, {}, 0.0
    d = json.loads(path.read_text())
    cpu = path.with_name(CPU_FILE)
    return label, {p["benchmark"]: {k: p[k] for k in ("speedup", "measurements", "trials", "history", "best_pipeline")}
                   | {"o3": p["o3_value"], "best": p["best_value"]} for p in d["programs"]}, \
        float(cpu.read_text()) if cpu.is_file() else float("nan")


def _name(key: str, keys: list) -> str:
    """A program's name in a table: without its suite when every program is of one suite."""
    return key.split("/", 1)[-1] if len({k.split("/", 1)[0] for k in keys}) == 1 else key


def points(budget: int) -> list[int]:
    """The measurement counts reported for a run of ``budget``: the CHECKPOINTS below it, and the budget."""
    return [n for n in CHECKPOINTS if n < budget] + [budget]


def markdown(results: dict, names: list) -> str:
    """The table as Markdown: O3/best after 10, 20, 40, 100 measurements and at the budget
    (measurements to reach TPE's final best), per program and run."""
    progs = sorted({b for r in results.values() for b in r["programs"]}, key=lambda k: _order(k, names))
    head = [f"{m} (after {' / '.join(map(str, points(r['budget'])))})" for m, r in results.items()]
    lines = ["| program | " + " | ".join(head) + " |", "|---" * (len(results) + 1) + "|"]
    for b in progs:
        cells = []
        for r in results.values():
            p = r["programs"].get(b)
            steps = " / ".join(f"{x:.4f}x" if x else "-" for x in p["at"].values()) if p else ""
            cells.append(f"{steps} ({p['to_reach_tpe'] or '-'})" if p else MISSING)
        lines.append(f"| {_name(b, progs)} | " + " | ".join(cells) + " |")
    rows = [(f"geomean after {n} measurements", lambda r, n=n: f"{r['geomean_at'][n]:.4f}x" if r["geomean_at"].get(n) else "-")
            for n in CHECKPOINTS]
    rows += [("geomean at the end", lambda r: f"**{r['geomean_speedup']:.4f}x**" if r["geomean_speedup"] else "-"),
             ("geomean without its best program", lambda r: f"{r['geomean_without_best']:.4f}x" if r["geomean_without_best"] else "-"),
             ("reached TPE's final result", lambda r: f"{r['reached_tpe']}/{len(r['programs'])}"),
             ("... with <= 1/3 of TPE's measurements (programs where TPE beat O3)",
              lambda r: f"{r['within_third_of_tpe']}/{r['tpe_improved']}"),
             ("measurements to reach TPE's final result, summed (not reached: the budget)",
              lambda r: str(r["sum_to_reach_tpe"]) if r["sum_to_reach_tpe"] is not None else "-"),
             ("measurements per program after which the geomean passes TPE's final geomean (TPE's own)",
              lambda r: "{} ({})".format(*(x or "-" for x in r["geomean_reach_tpe"]))),
             ("CPU seconds (all programs)", lambda r: f"{r['seconds']:.0f}")]
    if any("within_third_of_tpe_seeds" in r for r in results.values()):
        rows.insert(-1, ("... against each TPE seed, summed (a run never against itself)",
                         lambda r: "{}/{}".format(*r["within_third_of_tpe_seeds"])))
    for label, f in rows:
        lines.append(f"| {label} | " + " | ".join(f(r) for r in results.values()) + " |")
    return "\n".join(lines)


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="\n".join(__doc__.splitlines()[1:]))
    ap.add_argument("--strategies", nargs="+", default=["random", "tpe", "screen_model"],
                    metavar="SPEC",
                    help="the runs: SPEC = STRATEGY[@BUDGET][:SEED,...][+warm], STRATEGY a strategy file by name "
                         "(tuner_configs/: tpe, random, screen_profile, screen_model, screen_model_retrain, ...) or "
                         "path, at BUDGET measurements per program (default --budget) and at each SEED (default 0), "
                         "+warm: warm-started from --warm-runs; e.g. tpe@100:0,1 screen_profile@40 "
                         "(default: random tpe screen_model)")
    ap.add_argument("--suite", default="builtin", help="the suite of --benchmarks names without one: builtin | cbench "
                    "| codelets | polybench | testsuite | csmith | DIR (default: builtin)")
    programs = ap.add_mutually_exclusive_group()
    programs.add_argument("--benchmarks", nargs="+", metavar="PROGRAM",
                          help="programs: names of --suite or suite/name of any suite (default: bitcount sorting sha256)")
    programs.add_argument("--heldout", action="store_true", help="the fixed held-out set of "
                          "benchmarks/heldout_search.txt (its header says how it was chosen), each program at the "
                          "repeat the file gives")
    ap.add_argument("--budget", type=int, default=40, help="real measurements per program, O3 included, of a strategy "
                    "given without @BUDGET (default: 40)")
    ap.add_argument("--model", help="a cost-model directory for the strategies whose screen holds a learned model "
                    "(default: each strategy's own)")
    ap.add_argument("--repeat", type=int, help="the programs' repeat knob (default: each program's own, or the "
                    "repeat of its --heldout line; --repeat 1 for one run over the program's input)")
    ap.add_argument("--jobs", type=int, default=1, help="(run, program) searches run at once")
    ap.add_argument("--warm-runs", type=Path, help="an earlier OUT: the +warm runs start from the best "
                    "pipelines its studies found for programs of other families")
    ap.add_argument("--references", type=Path, help="an earlier bench_search.json: its unguided TPE runs "
                    "(tpe, tpe-s1, ...) on these programs are the references of the tests, where not run here "
                    "(instruction counts are exact and seeded TPE repeats its history measurement by measurement)")
    ap.add_argument("--done", type=Path, help="an earlier bench_search.json: the (run, program) searches it "
                    "finished at the same budget are taken from it, not run again (a long benchmark across "
                    "machines: commit its JSON, go on elsewhere)")
    ap.add_argument("--out", default="bench_search_out", help="output directory (default: bench_search_out)")
    ap.add_argument("--fresh", action="store_true", help="delete OUT first (otherwise studies resume)")
    ap.add_argument("--report", action="store_true", help="run nothing: the table of the searches in OUT that "
                    "finished (CPU seconds of all its finished passes - a pass cut short is not counted; nan where not recorded)")
    ap.add_argument("--json", action="store_true", help="print the JSON instead of the table")
    ap.add_argument("--markdown", action="store_true", help="print a Markdown table instead")
    return ap


def summarize(results: dict, names: list) -> None:
    """Adds each run's figures (per program: after each point, to reach TPE; per run: geomeans, the tests)."""
    for r in results.values():
        for b, p in r["programs"].items():
            p["at"] = {n: at(p["history"], n) for n in points(r["budget"])}
            p["to_reach_tpe"] = reach(p["history"], final(results, REFERENCE, b))
    seeds = [m for m in results if _REFERENCE_RUN.fullmatch(m)]
    for name, r in results.items():
        progs = r["programs"].values()
        r["geomean_at"] = {n: geomean([p["at"].get(n) for p in progs]) for n in points(r["budget"])}
        r["geomean_speedup"] = geomean([p["speedup"] for p in progs])
        hits = [p["to_reach_tpe"] for p in progs]
        r["reached_tpe"] = sum(h is not None for h in hits)
        r["mean_to_reach_tpe"] = (sum(h for h in hits if h) / len([h for h in hits if h])) if any(hits) else None
        r["within_third_of_tpe"], r["tpe_improved"] = third_test(r, results, REFERENCE)
        r["sum_to_reach_tpe"] = sum_to_reach(r, results, REFERENCE, r["budget"])
        r["geomean_reach_tpe"] = list(geomean_reach(r, results, REFERENCE))
        r["geomean_without_best"] = geomean(sorted(p["speedup"] for p in progs if p["speedup"])[:-1])
        if len(seeds) > 1:  # the test against every TPE seed, a run never against itself
            tests = [third_test(r, results, ref) for ref in seeds if ref != name]
            r["within_third_of_tpe_seeds"] = [sum(t[0] for t in tests), sum(t[1] for t in tests)]
        r["geomean_reach_tpe_seeds"] = {ref: list(geomean_reach(r, results, ref)) for ref in seeds if ref != name}


def table(results: dict, names: list, args) -> str:
    """The plain-text table: per program O3/best at the end (measurements to reach TPE's final best), per run
    the geomeans after each point and the tests."""
    progs = sorted({b for r in results.values() for b in r["programs"]}, key=lambda k: _order(k, names))
    shown = {b: _name(b, progs) for b in progs}
    w = max(len(x) for x in [*shown.values(), "geomean w/o top"])
    col = max(16, *(len(m) for m in results))

    def row(label: str, cells) -> str:
        return f"{label:<{w}}  " + "  ".join(f"{c:>{col}}" for c in cells)

    repeat = args.repeat or ("as listed" if args.heldout else "own")
    lines = [f"repeat={repeat}; cells: O3/best at the end (measurements to reach TPE's final best); "
             "'<=1/3 of TPE': programs, of those where TPE beat O3, whose TPE result the run reached with a third "
             "of TPE's own measurements", row("program", results), row("budget", (r["budget"] for r in results.values()))]
    for b in progs:
        cells = []
        for r in results.values():
            p = r["programs"].get(b)
            cells.append(MISSING if p is None else
                         f"{p['speedup'] or 0:.4f} ({p['to_reach_tpe'] or '-':>3})")
        lines.append(row(shown[b], cells))
    for n in CHECKPOINTS:
        lines.append(row(f"geomean @{n}", (f"{r['geomean_at'][n]:.4f}" if r["geomean_at"].get(n) else "-"
                                           for r in results.values())))
    lines.append(row("geomean", (f"{r['geomean_speedup'] or 0:.4f}" for r in results.values())))
    lines.append(row("geomean w/o top", (f"{r['geomean_without_best']:.4f}" if r["geomean_without_best"] else "-"
                                         for r in results.values())))
    lines.append(row("reached TPE", (f"{r['reached_tpe']}/{len(progs)}" for r in results.values())))
    lines.append(row("<=1/3 of TPE", (f"{r['within_third_of_tpe']}/{r['tpe_improved']}" for r in results.values())))
    if any("within_third_of_tpe_seeds" in r for r in results.values()):
        lines.append(row("<=1/3, all seeds", ("{}/{}".format(*r["within_third_of_tpe_seeds"])
                                              for r in results.values())))
    lines.append(row("sum to reach", (str(r["sum_to_reach_tpe"]) if r["sum_to_reach_tpe"] is not None else "-"
                                      for r in results.values())))
    refs = [m for m in results if _REFERENCE_RUN.fullmatch(m)]
    for ref in sorted(refs, key=lambda m: m != REFERENCE):
        cells = [geomean_reach(r, results, ref) for r in results.values()]  # the reference's own: its own count
        lines.append(row(f"geomean to {ref}", ((f"{a} of {b}" if b else "-") if a else "-" for a, b in cells)))
    lines.append(row("mean to reach", (f"{r['mean_to_reach_tpe']:.1f}" if r["mean_to_reach_tpe"] else "-"
                                       for r in results.values())))
    lines.append(row("cpu seconds", (f"{r['seconds']:.0f}" for r in results.values())))
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = parser()
    args = ap.parse_args(argv)
    out = args.out = Path(args.out)
    try:
        runs = parse_runs(args.strategies, args.budget)
        programs = read_programs(HELDOUT) if args.heldout else [(b, None) for b in args.benchmarks or
                                                                  ["bitcount", "sorting", "sha256"]]
    except ValueError as e:
        ap.error(str(e))
    if any(r.warm for r in runs) and not args.warm_runs and not args.report:
        ap.error("the +warm runs need --warm-runs")
    names = [b for b, _ in programs]
    earlier = load_done(args.done, runs, names, args.repeat) if args.done else {}  # before --fresh deletes OUT
    if args.fresh and out.exists():
        shutil.rmtree(out)
    t0 = time.perf_counter()
    if args.report:
        done = [earlier.get((r.label, b)) or _finished(out, r.label, b) for r in runs for b in names]
    else:
        try:  # every strategy file and program setting is checked before the first search starts
            jobs = schedule(runs, programs, args, skip=set(earlier))
        except CostTuneError as e:
            print(f"bench_search: error: {e}", file=sys.stderr)
            return 2
        if args.jobs == 1:
            done = list(earlier.values()) + [_run_one(label, cfg) for label, cfg in jobs]
        else:
            import multiprocessing as mp

            with mp.get_context("spawn").Pool(args.jobs, maxtasksperchild=1, initializer=_die_with_parent,
                                               initargs=(os.getpid(),)) as pool:
                done = list(earlier.values()) + pool.starmap(_run_one, jobs, chunksize=1)
    results = {r.label: {"strategy": r.strategy, "budget": r.budget, "seed": r.seed, "warm": r.warm,
                         "strategy_fields": _fields(r.strategy), "seconds": 0.0, "programs": {}} for r in runs}
    for label, prog, seconds in done:  # CPU seconds, the searches' own and their tools'
        results[label]["seconds"] = round(results[label]["seconds"] + seconds, 1)
        for p in prog.values():
            p["cpu_seconds"] = round(seconds, 1)
        results[label]["programs"].update(prog)
    for r in results.values():  # the order of the programs given
        r["programs"] = {k: r["programs"][k] for k in sorted(r["programs"], key=lambda k: _order(k, names))}
    wall = round(time.perf_counter() - t0, 1)
    if args.references:
        results = {**load_references(args.references, names, exclude=results), **results}
    summarize(results, names)
    report = {"suite": args.suite, "benchmarks": names, "heldout": args.heldout, "budget": args.budget,
              "strategies": args.strategies, "model": args.model or "each strategy's own", "repeat": args.repeat,
              "jobs": args.jobs, "wall_seconds": wall, "methods": results}
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench_search.json").write_text(json.dumps(report, indent=2))
    if args.json:
        print(json.dumps(report, indent=2))
    elif args.markdown:
        print(markdown(results, names))
    else:
        print(table(results, names, args))
        print(f"JSON: {out / 'bench_search.json'}")
    return 0


def _fields(strategy: str) -> dict | None:
    """What the strategy file says (the file may change later; the JSON keeps what was run)."""
    try:
        from costtune.resources import tuner_config

        path = Path(strategy) if Path(strategy).exists() else tuner_config(strategy)
        return yaml.safe_load(path.read_text())
    except (CostTuneError, OSError, yaml.YAMLError):
        return None


if __name__ == "__main__":
    sys.exit(main())
