"""costtune demo: the whole loop on the builtin suite with the default model."""

import argparse
import sys

from costtune.demo import DEMO_PROGRAMS, DemoConfig, run_demo
from costtune.table import format_table


def register(sub):
    p = sub.add_parser("demo", help="collect, search with the default cost model, print the table (builtin suite)",
                       description=("The whole loop on the builtin suite: collect candidates, search with the default cost model\n"
                                    "(proxy-guided TPE, a few measurements per program), print the table. Resumable."),
                       epilog=("examples:\n"
                               "  costtune demo\n"
                               "  costtune demo --programs bitcount sha256 --budget 12 --out demo_out"),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="demo_out", help="where records, studies and results go (resumable)")
    p.add_argument("--programs", nargs="+", default=list(DEMO_PROGRAMS), help="builtin programs to tune")
    p.add_argument("--samples", type=int, default=DemoConfig.samples, help="random pipelines collected per program")
    p.add_argument("--budget", type=int, default=DemoConfig.budget, help="real measurements per program")
    p.add_argument("--k", type=int, default=DemoConfig.k, help="candidates screened by the model per trial")
    p.add_argument("--jobs", type=int, default=DemoConfig.jobs)
    p.add_argument("--model", default="", help="cost model directory (default: the shipped model)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run)


def run(args) -> int:
    cfg = DemoConfig(out=args.out, programs=tuple(args.programs), samples=args.samples, budget=args.budget,
                     k=args.k, jobs=args.jobs, model=args.model, progress=not args.no_progress)
    res = run_demo(cfg, say=lambda m: print(m, flush=True))
    c = res.collect
    print(f"collect: {c.written} records written, {c.already_done} already there, "
          f"{c.reused} reused by hash, statuses {dict(sorted(c.by_status.items()))}")
    s = res.search
    rows = []
    for p in s.programs:
        sp = f"{p.speedup:.3f}x" if p.speedup else "-"
        o3 = f"{p.o3_value:,.0f}" if p.o3_value else "-"
        best = f"{p.best_value:,.0f}" if p.best_value else "-"
        pipe = p.best_pipeline if len(p.best_pipeline) < 70 else p.best_pipeline[:67] + "..."
        rows.append((p.benchmark, o3, best, sp, p.measurements, pipe))
    print(format_table(rows, ("program", "O3 insns", "best insns", "vs O3", "meas.", "best pipeline"), align="<>>>><"))
    g = s.geomean_speedup
    print(f"geometric mean vs O3: {g:.3f}x" if g else "geometric mean vs O3: -")
    print(f"outputs: {s.out} (best pipelines, best-so-far plot), records: {s.db}, studies: {s.storage}")
    sys.stdout.flush()
    return 0
