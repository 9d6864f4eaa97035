"""costtune search: autotune programs' pass pipelines with an Optuna study per program."""

from __future__ import annotations

import argparse
import json

from costtune.resources import shipped_strategies
from costtune.search import NEIGHBOUR_MOVES, SAMPLERS, SPACES, WARM_MODES, SearchConfig, run_search
from costtune.table import format_table

#: what a search runs without --strategy: the best method measured (the screen ranked by the
#: profile estimate). Naming a model, a server, a sampler or another metric starts from the
#: SearchConfig defaults (search_default) instead, since those choose another method.
DEFAULT_STRATEGY = "screen_profile"


def register(sub):
    strategies = "\n".join(f"  {name:<22}{what}" for name, what in shipped_strategies().items())
    p = sub.add_parser("search", help="autotune pass pipelines: Optuna + cost-model screening + real measurements",
                       description=("Autotune pass pipelines: one Optuna study per program; in each trial the cost model screens\n"
                                    "k proposals and only the best is measured. A strategy (--strategy: a YAML file in\n"
                                    "tuner_configs/, by name, or your own) says how to search; flags override its fields."),
                       epilog=("strategies shipped in tuner_configs/ (each file's header says more):\n"
                               f"{strategies}\n\n"
                               "examples:\n"
                               "  costtune search --strategy search_quick --benchmarks sha256 --repeat 1\n"
                               "  costtune search --suite builtin --benchmarks sha256 stencil --budget 100 --model runs/model\n"
                               "  costtune search --strategy screen_profile --suite cbench --cbench-root ~/ck \\\n"
                               "      --benchmarks security-sha --budget 40 --repeat 1\n"
                               "  costtune search --strategy my_strategy.yaml --suite ~/mine --benchmarks heat2d"),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--strategy", metavar="NAME|FILE",
                   help="how to search: a shipped strategy by name (tpe, random, screen_profile, screen_model, "
                        "screen_model_retrain, search_quick, ...: listed below) or a SearchConfig YAML file; "
                        f"flags override its fields (default: {DEFAULT_STRATEGY}, the best method measured; with "
                        "--model, --server, --sampler or --metric other than insns: the SearchConfig defaults, "
                        "search_default)")
    p.add_argument("--suite", help="builtin | cbench | codelets | polybench | testsuite | csmith | DIR "
                                    "(default: builtin)")
    p.add_argument("--benchmarks", nargs="+", metavar="B",
                   help="programs of the suite to search (a folder --suite DIR: all of its programs when left out)")
    p.add_argument("--budget", type=int, help="real measurements per program, O3 baseline included (default: 50)")
    p.add_argument("--model", help="cost-model directory, or 'default' (the default): the best shipped model the search can use - 'variant' with the proxy sampler on insns, else 'llm', the shipped LLM cost model; 'static': rank by static instruction count, no model; 'profile': by the instruction count estimated from the measured candidates' block profiles (turns on --variants); 'variant' (or a variant model's directory): that estimate with function variants of new shape predicted by the shipped function-variant model")
    p.add_argument("--server", help="HOST:PORT of a costtune scoring server, instead of --model")
    p.add_argument("--storage", help="Optuna storage: a SQLite path or URL (default: sqlite:///OUT/search.db), "
                                      "postgresql://... to share")
    p.add_argument("--db", help="records database URL or path (default: OUT/records.db)")
    p.add_argument("--k", type=int, help="proposals the model screens per trial (default: 16)")
    p.add_argument("--sampler", choices=SAMPLERS, help="proxy (TPE + model screening, default) | tpe | random")
    p.add_argument("--space", choices=SPACES, help="o3-edits (default) | flat")
    p.add_argument("--retrain-every", type=int, help="retrain the model after this many new measurements")
    p.add_argument("--variants", action="store_true", default=None,
                   help="profile each measured candidate and predict candidates made of known function variants")
    p.add_argument("--tell-predicted", action="store_true", default=None,
                   help="with --variants: tell the sampler every screened proposal predicted not to beat the "
                        "best, not only the one it picks (free observations for TPE)")
    p.add_argument("--neighbours", type=int, metavar="N",
                   help="proxy: every trial's screen also gets N copies of the best trial so far with one or two "
                        "parameters redrawn (local moves; default: 0)")
    p.add_argument("--neighbour-moves", choices=NEIGHBOUR_MOVES,
                   help="redraw: one or two parameters redrawn uniformly (default) | repeat (o3-edits): half of "
                        "the neighbours insert one of the best pipeline's added passes once more, elsewhere | "
                        "edits: a third that, a third a new pass inserted at a uniform position")
    p.add_argument("--crossovers", type=int, metavar="N",
                   help="proxy: every trial's screen also gets N two-point crossovers of two of the 8 best trials "
                        "so far (recombinations; default: 0)")
    p.add_argument("--warm-start", nargs="+", metavar="URL",
                   help="Optuna storages of earlier searches: their best pipelines for other programs go first")
    p.add_argument("--warm-start-n", type=int, help="most warm-start pipelines per program (default: 32)")
    p.add_argument("--warm-start-mode", choices=WARM_MODES,
                   help="enqueue: measure them first (default) | screen: the proxy screens them with every "
                        "trial's proposals and measures one only when it ranks best")
    p.add_argument("--cache-max-gb", type=float,
                   help="cap of the compile cache, least recently used artifacts go first (default: 20; 0: none)")
    p.add_argument("--metric", choices=["insns", "wall", "cycles"],
                   help="what a measurement is (default insns): cycles = estimated cycles on --cpu")
    p.add_argument("--cpu", help="cycles: the core llvm-mca models (default cortex-a57)")
    p.add_argument("--seed", type=int)
    p.add_argument("--repeat", type=int, help="the programs' repeat knob (default: each program's own)")
    p.add_argument("--out", help="output directory (default: search_out)")
    p.add_argument("--study-prefix", help="study names are PREFIX:suite/name:space (default: costtune)")
    p.add_argument("--llvm", type=int)
    p.add_argument("--cbench-root")
    p.add_argument("--testsuite-root")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    if args.strategy:
        config = SearchConfig.load(args.strategy)
    elif args.model or args.server or args.sampler or args.metric not in (None, "insns"):
        config = SearchConfig()
    else:
        config = SearchConfig.load(DEFAULT_STRATEGY)
    config = config.override(
        suite=args.suite, benchmarks=args.benchmarks, budget=args.budget, model=args.model, server=args.server,
        storage=args.storage, db=args.db, k=args.k, sampler=args.sampler, space=args.space,
        retrain_every=args.retrain_every, warm_start=args.warm_start, warm_start_n=args.warm_start_n,
        warm_start_mode=args.warm_start_mode,
        variants=args.variants, tell_predicted=args.tell_predicted, neighbours=args.neighbours,
        crossovers=args.crossovers, neighbour_moves=args.neighbour_moves,
        cache_max_gb=args.cache_max_gb, seed=args.seed, metric=args.metric, cpu=args.cpu,
        repeat=args.repeat, out=args.out,
        study_prefix=args.study_prefix, llvm=args.llvm, cbench_root=args.cbench_root,
        testsuite_root=args.testsuite_root, progress=False if args.no_progress else None)
    res = run_search(config)
    if args.json:
        print(json.dumps(res.to_dict(), indent=2))
        return 0
    unit = config.metric.partition(":")[0]  # insns | cycles | wall
    rows = [(p.benchmark, f"{p.o3_value or 0:.0f}", f"{p.best_value or 0:.0f}",
             f"{p.speedup:.4f}" if p.speedup else "-", p.measurements, p.trials) for p in res.programs]
    g = res.geomean_speedup
    rows.append(("geomean", "", "", f"{g:.4f}" if g else "-", "", ""))
    print(format_table(rows, ("program", f"O3 {unit}", f"best {unit}", "O3/best", "meas", "trials"), align="<>>>>>"))
    print(f"sampler {res.sampler}, space {res.space}{', ' + res.model if res.model else ''}"
          f"{f', {res.retrains} retraining round(s)' if res.retrains else ''}; {res.seconds:.0f} s")
    print(f"best pipelines, summary.json and progress.png in {res.out}; study {res.storage}; records {res.db}")
    return 0
