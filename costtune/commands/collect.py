"""costtune collect: build and measure reference and sampled pipelines into the records DB.

Example: ``costtune collect --suite builtin --space o3-edits --samples 60 --db runs/corpus.db --jobs 2``
"""

from __future__ import annotations

import argparse
import json

from costtune.collect import REFERENCES, CollectConfig, collect
from costtune.records import DEFAULT_CLAIM_TTL
from costtune.table import format_table


def register(sub):
    p = sub.add_parser("collect", help="measure O0-O3 and random pipelines of programs into a records database",
                       description=("Measure the reference builds (O0-O3) and --samples candidates per program into a records\n"
                                    "database: random safe pass sequences (--space flat) or O3 with 1-8 edits (--space o3-edits).\n"
                                    "Resumable after a kill; several workers may share one PostgreSQL database."),
                       epilog=("examples:\n"
                               "  costtune collect --suite builtin --samples 20 --db runs/builtin.db --jobs 2\n"
                               "  costtune collect --suite cbench --cbench-root ~/ck --space o3-edits --samples 64 \\\n"
                               "      --references O0,O3 --db runs/cbench.db"),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--suite", default="builtin", help="builtin | cbench | csmith | DIR (default: builtin)")
    p.add_argument("--benchmarks", nargs="+", default=[], metavar="B",
                   help="program names in the suite (default: every supported program)")
    p.add_argument("--samples", type=int, default=10, help="candidates per program besides the references (default: 10)")
    p.add_argument("--space", default="flat", choices=["flat", "o3-edits"],
                   help="flat: random safe pass sequences; o3-edits: O3 with 1-8 edits, the candidates "
                        "costtune search scores (default: flat)")
    p.add_argument("--max-edits", type=int, default=8, help="o3-edits: most edits per candidate (default: 8)")
    p.add_argument("--no-profile", action="store_true",
                   help="do not keep per-function instruction counts (kept by default for insns on aarch64)")
    p.add_argument("--db", default="records.db",
                   help="records database: a path, sqlite:///PATH or postgresql://USER@HOST/DB (default: records.db)")
    p.add_argument("--seed", type=int, default=0, help="random seed; a seed always gives the same jobs")
    p.add_argument("--jobs", "-j", type=int, default=1, help="worker processes (default: 1)")
    p.add_argument("--target", default="aarch64", choices=["aarch64", "host"])
    p.add_argument("--metric", default="insns", choices=["insns", "wall", "cycles"],
                   help="insns | wall | cycles: estimated cycles on --cpu, recorded as cycles:CORE")
    p.add_argument("--cpu", help="cycles: the core llvm-mca models (default cortex-a57)")
    p.add_argument("--runner", help="qemu | local | ssh://user@host[:port] (default: by target and metric)")
    p.add_argument("--repeat", type=int, help="the programs' repeat knob (default: each program's own)")
    p.add_argument("--min-len", type=int, default=20, help="shortest random pipeline, in passes (default: 20)")
    p.add_argument("--max-len", type=int, default=60, help="longest random pipeline, in passes (default: 60)")
    p.add_argument("--references", default=",".join(REFERENCES),
                   help="comma list of reference presets (default: O0,O1,O2,O3; '' for none)")
    p.add_argument("--llvm", type=int, help="LLVM major version (default: newest installed)")
    p.add_argument("--cbench-root", help="cTuning checkout for --suite cbench")
    p.add_argument("--testsuite-root", help="llvm-test-suite checkout for --suite testsuite")
    p.add_argument("--claim-ttl", type=float, default=DEFAULT_CLAIM_TTL,
                   help="seconds before another host may take over a job a dead worker claimed")
    p.add_argument("--timeout-factor", type=float, default=10.0,
                   help="a run is a hang after this many times the O0 run's time (at least 10 s; "
                        "0: the program's own timeout)")
    p.add_argument("--no-check", action="store_true", help="do not compare outputs with the O0 reference")
    p.add_argument("--no-dedupe", action="store_true", help="measure identical binaries again")
    p.add_argument("--cache-max-gb", type=float, default=20.0,
                   help="cap of the compile cache, least recently used artifacts go first (default: 20; 0: none)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    config = CollectConfig(
        suite=args.suite, benchmarks=list(args.benchmarks), samples=args.samples, db=args.db,
        seed=args.seed, jobs=args.jobs, target=args.target, metric=args.metric, cpu=args.cpu, runner=args.runner,
        repeat=args.repeat, space=args.space, max_edits=args.max_edits, profile=False if args.no_profile else None,
        min_len=args.min_len, max_len=args.max_len,
        references=tuple(r for r in args.references.split(",") if r.strip()),
        llvm=args.llvm, cbench_root=args.cbench_root, testsuite_root=args.testsuite_root, claim_ttl=args.claim_ttl,
        timeout_factor=args.timeout_factor, check=not args.no_check, dedupe=not args.no_dedupe,
        progress=not args.no_progress, cache_max_gb=args.cache_max_gb,
    )
    s = collect(config)
    if args.json:
        print(json.dumps(s.to_dict(), indent=2))
        return 1 if s.errors else 0
    statuses = sorted({k for per in s.per_benchmark.values() for k in per})
    if s.per_benchmark:
        rows = [(bench, *(per.get(k, 0) for k in statuses)) for bench, per in sorted(s.per_benchmark.items())]
        print(format_table(rows, ("benchmark", *statuses)))
    print(f"db {s.db}: {s.jobs} jobs planned, {s.already_done} already recorded, {s.measured} measured, "
          f"{s.reused} reused (identical binary), {s.done_elsewhere + s.held_elsewhere} taken by other "
          f"workers, {s.errors} measurement errors, {s.skipped} skipped (O0 reference fails), "
          f"{s.remaining} remaining")
    print(f"{s.seconds:.1f} s with {s.workers} worker(s): {s.per_minute_per_core:.1f} candidates/min/worker")
    for msg in s.error_messages[:5]:
        print(f"error: {msg}")
    return 1 if s.errors else 0
