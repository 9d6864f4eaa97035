"""How well ``--variants`` predicts candidates, replayed on the measurements of finished searches.

    .venv/bin/python benchmarks/bench_variants.py --suite cbench \
        --runs RUN/tpe/automotive-qsort1 RUN/tpe/network-patricia [--json]

For each search directory (``records.db`` of one program, as ``costtune search`` or
bench_search leave it) the measured candidates are replayed in the order they were
measured: each one is first predicted from what the :class:`~costtune.search.variants.VariantTable`
holds at that point, then block-profiled and observed, as in a search. A candidate is
*known* when all its function variants were measured before, *shape* when some are new
but of a measured control-flow shape, *new* otherwise. Per program: how many of each,
how many predictions are exact, the median and largest relative error, and how often the
prediction orders two predicted candidates right, beside the static instruction count on
the same pairs; for the *new* ones, how often the estimate of ``--model profile``
(:meth:`~costtune.search.variants.VariantTable.estimate`) orders them right, beside the
static count. Prints a table and writes OUT/bench_variants.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from costtune.asm import program_functions  # noqa: E402
from costtune.benchmarks import get_suite  # noqa: E402
from costtune.compile import compile_benchmark  # noqa: E402
from costtune.measure import block_profile  # noqa: E402
from costtune.measure.profile import read_symbols  # noqa: E402
from costtune.model.baselines import StaticCount  # noqa: E402
from costtune.model.metrics import pairwise_counts  # noqa: E402
from costtune.records import RecordStore  # noqa: E402
from costtune.search.variants import VariantTable, block_counts, variant_keys  # noqa: E402


def replay(bench, records, repeat) -> dict:
    table = VariantTable()
    seen_keys: set[str] = set()
    rows = {"known": [], "shape": [], "new": []}  # (predicted or estimated, static, measured)
    counts = {"known": 0, "shape": 0, "new": 0}
    for r in records:
        cr = compile_benchmark(bench, "O3" if r.label.endswith(":O3") else r.pipeline)
        if not cr.ok:
            continue
        fns = program_functions(cr.artifact)
        if table.library:
            pred = table.predict(fns)
            kind = "new" if pred is None else "known" if all(k[0] in seen_keys for k in variant_keys(fns).values()) else "shape"
            counts[kind] += 1
            rows[kind].append((table.estimate(fns) if pred is None else pred,
                               sum(StaticCount.count(t) for t in fns.values()), r.value))
        prof = block_profile(cr.artifact, bench, repeat=repeat)
        if not prof.ok:
            continue
        table.observe(cr.artifact.binary_hash, fns, prof.functions, prof.total,
                      block_counts(fns, prof.blocks, read_symbols(cr.artifact.binary)))
        seen_keys.update(k[0] for k in variant_keys(fns).values())
    out = {"candidates": sum(counts.values()) + 1, **counts}
    for kind, rs in rows.items():
        errs = sorted(abs(p - v) / v for p, _, v in rs)
        true = [v for _, _, v in rs]
        c, t = pairwise_counts(true, [p for p, _, _ in rs], 0.0)
        cs, _ = pairwise_counts(true, [s for _, s, _ in rs], 0.0)
        out[kind + "_exact"] = sum(p == v for p, _, v in rs)
        out[kind + "_median_err"] = statistics.median(errs) if errs else None
        out[kind + "_max_err"] = errs[-1] if errs else None
        out[kind + "_pair_acc"] = c / t if t else None
        out[kind + "_static_pair_acc"] = cs / t if t else None
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", default="builtin")
    ap.add_argument("--runs", nargs="+", type=Path, required=True, help="search output dirs, one program each")
    ap.add_argument("--out", type=Path, default=Path("bench_variants_out"))
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    suite = get_suite(args.suite)
    report = {}
    for run in args.runs:
        with RecordStore(str(run / "records.db"), create=False) as store:
            recs = [r for r in store.records(metric="insns") if r.status == "ok" and r.reused_from is None]
        if not recs:
            print(f"{run}: no measured candidates", file=sys.stderr)
            continue
        bench = suite.get(recs[0].benchmark.split("/", 1)[-1])
        report[bench.id] = replay(bench, recs, recs[0].repeat)
        print(f"{bench.id}: {report[bench.id]}", file=sys.stderr, flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench_variants.json").write_text(json.dumps(report, indent=2))
    if args.json:
        print(json.dumps(report, indent=2))
        return 0

    def f(x, fmt):
        return "-" if x is None else format(x, fmt)

    print("candidates replayed in measurement order; known: all function variants measured before; shape: some "
          "new, of a measured control-flow shape; new: the rest; pair acc: prediction (static count) on pairs of "
          "predicted ones; for new: the profile estimate (static count)")
    print(f"{'program':<32} {'cands':>5} {'known':>5} {'exact':>5} {'shape':>5} {'exact':>5} {'med err':>8} "
          f"{'max err':>8} {'pair acc known':>15} {'pair acc shape':>15} {'new':>4} {'pair acc new':>15}")
    for b, r in report.items():
        print(f"{b:<32} {r['candidates']:>5} {r['known']:>5} {r['known_exact']:>5} {r['shape']:>5} {r['shape_exact']:>5} "
              f"{f(r['shape_median_err'], '.2e'):>8} {f(r['shape_max_err'], '.2e'):>8} "
              f"{f(r['known_pair_acc'], '.3f'):>7} ({f(r['known_static_pair_acc'], '.3f')}) "
              f"{f(r['shape_pair_acc'], '.3f'):>7} ({f(r['shape_static_pair_acc'], '.3f')}) {r['new']:>4} "
              f"{f(r['new_pair_acc'], '.3f'):>7} ({f(r['new_static_pair_acc'], '.3f')})")
    print(f"JSON: {args.out / 'bench_variants.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
