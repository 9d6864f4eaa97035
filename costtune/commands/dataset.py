"""costtune dataset --db URL --out DIR [--n 100] [--eps 0.3] [--repr asm|ir] ..."""

import argparse
import sys
from pathlib import Path

from costtune.dataset import (DEFAULT_SPLIT, REPRS, DatasetConfig, build_dataset, build_dataset_from_corpus,
                              parse_split)
from costtune.errors import DatasetError
from costtune.measure.cycles import metric_name
from costtune.table import format_table


def _split(text: str):
    try:
        return parse_split(text)
    except DatasetError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def register(sub):
    p = sub.add_parser("dataset", help="build pairwise and ranking training data from a records database",
                       description=("Step-sample each program's measured candidates, recompile them, pair those whose relative gap\n"
                                    "exceeds eps, and split by program (a corpus keeps its family split)."),
                       epilog=("examples:\n"
                               "  costtune dataset --db runs/builtin.db --out runs/ds --n 100 --eps 0.3\n"
                               "  costtune dataset --from-corpus benchmarks/corpus/corpus.jsonl.gz --out runs/corpus_ds --jobs 2"),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--db", help="records database: file path, sqlite:///PATH or postgresql://...")
    src.add_argument("--from-corpus", metavar="FILE",
                     help="a corpus file (costtune records export --format corpus): its candidates are "
                          "recompiled from your checkouts, hash-checked, and keep the corpus's family split; "
                          "e.g. --from-corpus benchmarks/corpus/corpus.jsonl.gz")
    p.add_argument("--out", required=True, type=Path, help="output directory")
    p.add_argument("--benchmarks", nargs="+", metavar="B", help="programs to use (suite/name; default: all in the DB)")
    p.add_argument("--n", type=int, default=100, help="candidates step-sampled per program (default 100)")
    p.add_argument("--eps", type=float, default=0.3,
                   help="a training pair needs the relative gap (slow - fast) / slow > eps (default 0.3, as in the "
                        "research: clearly different candidates teach the model which code is faster; eval "
                        "counts pairs the same way at 0.02)")
    p.add_argument("--repr", default="asm", choices=REPRS, help="asm: normalised AArch64 objdump; ir: LLVM IR")
    p.add_argument("--metric", default="insns", help="the records' metric: insns | wall | cycles[:CORE] (default insns)")
    p.add_argument("--cpu", help="with --metric cycles: the core of the records (default cortex-a57)")
    p.add_argument("--target", default="aarch64", help="the records' target (default aarch64)")
    p.add_argument("--split", type=_split, metavar="TR,VA,TE",
                   help="fractions of programs for train,validation,test (default "
                        f"{','.join(map(str, DEFAULT_SPLIT))}, which needs >= 3 programs; given "
                        "explicitly, splits may come out empty, e.g. 1,0,0 = all train)")
    p.add_argument("--seed", type=int, default=0, help="seed of the split, pair sampling and label order")
    p.add_argument("--max-pairs-per-program", type=int, metavar="M",
                   help="a seeded sample of at most M pairs per program (default: all)")
    p.add_argument("--jobs", type=int, default=1, help="parallel recompiles (default 1)")
    p.add_argument("--no-verify-hash", action="store_true",
                   help="keep candidates whose recompiled binary differs from the measured one")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG latency plots")
    p.add_argument("--cbench-root", help="cBench checkout (for cbench/... programs)")
    p.add_argument("--testsuite-root", help="llvm-test-suite checkout (for testsuite/... programs)")
    p.set_defaults(func=run)


def run(args) -> int:
    cfg = DatasetConfig(
        db=args.db or "", out=args.out, benchmarks=args.benchmarks, n=args.n, eps=args.eps, repr=args.repr,
        metric=metric_name(args.metric, args.cpu), target=args.target, split=args.split or DEFAULT_SPLIT,
        split_explicit=args.split is not None, seed=args.seed,
        max_pairs_per_program=args.max_pairs_per_program, verify_hash=not args.no_verify_hash,
        jobs=args.jobs, plots=not args.no_plots, cbench_root=args.cbench_root,
        testsuite_root=args.testsuite_root)
    if args.from_corpus:
        s = build_dataset_from_corpus(args.from_corpus, cfg, progress=sys.stderr.isatty())
    else:
        s = build_dataset(cfg, progress=sys.stderr.isatty())
    rows = []
    for p in s.programs:
        notes = [p.skipped] if p.skipped else [f"dropped {v} {k}" for k, v in sorted(p.dropped.items())]
        if p.other_groups:
            notes.append(f"{p.other_groups} records of another repeat/runner/toolchain/source left out")
        rows.append((p.program, p.records, p.unique, p.sampled, p.pairs, p.split or "-", "; ".join(notes)))
    print(format_table(rows, ("program", "records", "unique", "sampled", "pairs", "split", "note"), align="<>>>><<"))
    print()
    print(format_table([(name, c["programs"], c["candidates"], c["pairs"], c["faster"], c["slower"])
                        for name, c in s.split_counts.items()],
                       ("split", "programs", "candidates", "pairs", "faster", "slower")))
    if args.from_corpus:
        checked = sum(p.sampled + sum(p.dropped.values()) for p in s.programs)
        bad = sum(p.dropped.get("hash_mismatch", 0) for p in s.programs)
        failed = sum(p.dropped.get("recompile_failed", 0) for p in s.programs)
        print(f"\nhash check: {checked - bad - failed} of {checked} recompiled candidates matched the measured "
              f"binary ({bad} differ, {failed} failed to recompile: left out)")
    print(f"\n{len(s.used)} programs, {s.total_candidates} candidates, {s.total_pairs} pairs "
          f"(eps {cfg.eps}, n {cfg.n}, repr {cfg.repr}) in {s.out} ({s.seconds:.1f} s)")
    return 0
