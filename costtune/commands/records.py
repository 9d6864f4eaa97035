"""costtune records stats|export|import: look into and move a records database."""

from __future__ import annotations

import argparse
import json

from costtune.records import FORMATS, export_records, import_records, stats
from costtune.table import format_table


def register(sub):
    p = sub.add_parser("records", help="summarise, export or import a records database",
                       description=("Summarise a records database per program, export it (research text files, JSON lines or a\n"
                                    "corpus file) or import such files into a database."),
                       epilog=("examples:\n"
                               "  costtune records stats --db runs/builtin.db\n"
                               "  costtune records export --db runs/builtin.db --format jsonl --out runs/builtin.jsonl\n"
                               "  costtune records import --db runs/copy.db --format jsonl runs/builtin.jsonl"),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    s = p.add_subparsers(dest="action", metavar="ACTION", required=True)

    st = s.add_parser("stats", help="per program: counts by status, best value vs O3, failure rate",
                      description=("Per program: records, failures, the O0 and O3 values, the share outside the program's own\n"
                                   "functions, the best value, its ratio to O3 and its label."),
                      epilog=("examples:\n"
                              "  costtune records stats --db runs/builtin.db\n"
                              "  costtune records stats --db runs/builtin.db --benchmark builtin/sha256 --json"),
                      formatter_class=argparse.RawDescriptionHelpFormatter)
    st.add_argument("--db", required=True, help="a path, sqlite:///PATH or postgresql://USER@HOST/DB")
    st.add_argument("--metric", help="only this metric")
    st.add_argument("--benchmark", help="only this program (suite/name)")
    st.add_argument("--json", action="store_true", help="print JSON instead of a table")
    st.set_defaults(func=run_stats)

    ex = s.add_parser("export", help="write records as research text files, JSON lines or a corpus file",
                      description=("Write records as research text files (one [pass_seq, value] line per candidate), JSON lines\n"
                                   "(every column) or a corpus file (this project's measurements only, no code, gzip JSON\n"
                                   "lines with families and the fixed split)."),
                      epilog=("examples:\n"
                              "  costtune records export --db runs/builtin.db --format research --out runs/research\n"
                              "  costtune records export --db runs/corpus.db --format corpus --out benchmarks/corpus/corpus.jsonl.gz"),
                      formatter_class=argparse.RawDescriptionHelpFormatter)
    ex.add_argument("--db", required=True)
    ex.add_argument("--format", required=True, choices=(*FORMATS, "corpus"))
    ex.add_argument("--out", required=True, help="a directory (research) or a file (jsonl, corpus)")
    ex.add_argument("--metric", help="only this metric")
    ex.add_argument("--benchmark", help="only this program (suite/name)")
    ex.set_defaults(func=run_export)

    im = s.add_parser("import", help="read research text files or JSON lines into a database",
                      description=("Read research text files, JSON lines or a corpus file into a records database (created if\n"
                                   "missing); records already there (same job key) are skipped."),
                      epilog=("examples:\n"
                              "  costtune records import --db runs/copy.db --format jsonl runs/builtin.jsonl\n"
                              "  costtune records import --db runs/old.db --format research --suite cbench --metric insns notes/"),
                      formatter_class=argparse.RawDescriptionHelpFormatter)
    im.add_argument("path", help="a research .txt file or a directory of them, or a .jsonl file")
    im.add_argument("--db", required=True)
    im.add_argument("--format", required=True, choices=(*FORMATS, "corpus"))
    im.add_argument("--suite", help="research: the suite the file names belong to (e.g. cbench)")
    im.add_argument("--metric", help="research: the metric of the values (insns | wall)")
    im.add_argument("--target", default="aarch64", help="research: the target (default: aarch64)")
    im.add_argument("--repeat", type=int, help="research: the repeat knob the values were taken with")
    im.add_argument("--llvm", type=int, help="research: LLVM version whose catalog renders the sequences")
    im.set_defaults(func=run_import)


def _fmt(v) -> str:
    if v is None:
        return "-"
    return f"{v:.0f}" if float(v).is_integer() or abs(v) >= 1000 else f"{v:.4g}"


def run_stats(args) -> int:
    rows = stats(args.db, metric=args.metric, benchmark=args.benchmark)
    if args.json:
        print(json.dumps([r.to_dict() for r in rows], indent=2))
        return 0
    if not rows:
        print("no records")
        return 0
    statuses = [k for k in rows[0].by_status if any(r.by_status.get(k) for r in rows)] or ["ok"]
    table = []
    for r in rows:
        ratio = f"{r.best_vs_o3:.3f}" if r.best_vs_o3 is not None else "-"
        outside = f"{r.outside_o3 * 100:.1f}" if r.outside_o3 is not None else "-"
        table.append((r.benchmark, r.metric, r.total, *(r.by_status.get(k, 0) for k in statuses), r.reused,
                      f"{r.failure_rate * 100:.1f}%", _fmt(r.o0), _fmt(r.o3), outside, _fmt(r.best), ratio,
                      r.best_label))
    print(format_table(table, ("benchmark", "metric", "total", *(k[:13] for k in statuses), "reused", "fail%", "O0",
                               "O3", "outside%", "best", "best/O3", "best label"),
                       align="<<>" + ">" * len(statuses) + ">>>>>>><"))
    if any(r.outside_o3 is not None for r in rows):
        print("outside%: share of O3's instructions outside the program's own functions (C library: printf, "
              "memcpy...); no pipeline changes it and the model never sees it - keep it small")
    return 0


def run_export(args) -> int:
    if args.format == "corpus":
        from costtune.corpus import export_corpus

        c = export_corpus(args.db, args.out, metric=args.metric or "insns",
                          benchmarks=[args.benchmark] if args.benchmark else None)
        splits = ", ".join(f"{k} {v}" for k, v in sorted(c.by_split.items()))
        print(f"exported {c.programs} programs ({splits}), {c.candidates} candidates to {c.path}")
        return 0
    s = export_records(args.db, args.format, args.out, metric=args.metric, benchmark=args.benchmark)
    print(f"exported {s.records} records to {s.out} ({len(s.files)} file(s))")
    return 0


def run_import(args) -> int:
    if args.format == "corpus":
        from costtune.corpus import import_corpus

        c = import_corpus(args.path, args.db)
        print(f"imported {c.inserted} of {c.candidates} records ({c.programs} programs) from {c.path} "
              f"into {args.db} ({c.candidates - c.inserted} already there)")
        return 0
    kwargs = {}
    if args.format == "research":
        kwargs = dict(suite=args.suite, metric=args.metric, target=args.target, repeat=args.repeat,
                      llvm=args.llvm)
    s = import_records(args.db, args.format, args.path, **kwargs)
    print(f"imported {s.inserted} of {s.read} records from {s.files} file(s) into {args.db}"
          f" ({s.skipped} already there)")
    return 0
