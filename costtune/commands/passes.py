"""costtune passes list|refresh|validate|o3-check: the pass catalog of an LLVM version."""

from pathlib import Path

from costtune.passes import LEVELS


def register(sub):
    p = sub.add_parser("passes", help="the LLVM pass catalog (list, refresh from opt)")
    cmds = p.add_subparsers(dest="passes_command", metavar="ACTION")

    ls = cmds.add_parser("list", help="show the catalog")
    ls.add_argument("--llvm", type=int, help="LLVM major version (default: the toolchain's)")
    ls.add_argument("--level", choices=LEVELS)
    ls.add_argument("--safe", action="store_true", help="only passes random search may use")
    ls.set_defaults(func=run_list)

    rf = cmds.add_parser("refresh", help="rebuild passes/llvm-N/passes.csv from opt and a crash probe")
    rf.add_argument("--llvm", type=int, required=True)
    rf.add_argument("--sequences", type=int, default=30, help="random sequences compiled and run")
    rf.add_argument("--jobs", type=int, default=2)
    rf.add_argument("--seed", type=int, default=0)
    rf.add_argument("--programs", nargs="*", help="builtin programs to probe on (default: all)")
    rf.set_defaults(func=run_refresh)

    va = cmds.add_parser("validate", help="share of random safe pipelines that build and run correctly")
    va.add_argument("--llvm", type=int, required=True)
    va.add_argument("-n", type=int, default=1000)
    va.add_argument("--per-pipeline", type=int, help="programs per pipeline (default: all)")
    va.add_argument("--jobs", type=int, default=2)
    va.add_argument("--seed", type=int, default=1)
    va.add_argument("--programs", nargs="*", help="builtin programs to run on (default: all)")
    va.add_argument("--out", type=Path, help="JSON report (default: validate-llvmN.json)")
    va.set_defaults(func=run_validate)

    o3 = cmds.add_parser("o3-check", help="default<O3> against its flattened sequence rendered back (insns)")
    o3.add_argument("--llvm", type=int, required=True)
    o3.add_argument("--programs", nargs="*", help="builtin programs to measure (default: all)")
    o3.add_argument("--out", type=Path, help="also write the rows and the flattened pipeline as JSON")
    o3.set_defaults(func=run_o3_check)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def _llvm(args) -> int:
    if args.llvm:
        return args.llvm
    from costtune import toolchain

    return toolchain.find(require_qemu=False).llvm


def run_list(args) -> int:
    from costtune.passes import load_catalog

    cat = load_catalog(_llvm(args))
    from costtune.table import format_table

    rows = [r for r in cat.rows if (not args.level or r.level == args.level) and (r.safe or not args.safe)]
    print(format_table([(r.name, r.level, "yes" if r.safe else "no", r.reason) for r in rows],
                       ("name", "level", "safe", "reason")))
    print(f"# LLVM {cat.llvm}: {len(rows)} passes shown, {len(cat.safe_names())} of {len(cat)} safe ({cat.path})")
    return 0


def run_refresh(args) -> int:
    import sys

    from costtune.passes_probe import format_probe, probe

    rep = probe(args.llvm, args.sequences, args.jobs, args.seed, args.programs,
                progress=lambda m: print(m, file=sys.stderr, flush=True))
    print(format_probe(rep))
    return 0


def run_validate(args) -> int:
    import sys

    from costtune.passes_probe import format_validation, validate

    out = args.out or Path(f"validate-llvm{args.llvm}.json")
    counter = {"n": 0, "ok": 0}

    def progress(i, ok):
        counter["n"] += 1
        counter["ok"] += ok
        if counter["n"] % 10 == 0:
            print(f"{counter['n']}/{args.n} pipelines, {counter['ok']} correct", file=sys.stderr, flush=True)

    rep = validate(args.llvm, args.n, args.seed, args.jobs, args.programs, args.per_pipeline, out, progress)
    print(format_validation(rep))
    print(f"JSON: {out}")
    return 0 if rep.pipeline_rate >= 0.99 else 1


def run_o3_check(args) -> int:
    import json
    from dataclasses import asdict

    from costtune.passes_probe import format_o3, o3_check

    text, rows = o3_check(args.llvm, args.programs)
    print(format_o3(rows))
    if args.out:
        args.out.write_text(json.dumps({"pipeline": text, "rows": [asdict(r) for r in rows]}, indent=1))
    return 0
