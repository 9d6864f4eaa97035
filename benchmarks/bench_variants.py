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

``--within``: the split of ``benchmarks/xval_cbench.sh prepare-within`` instead - each search's
first half of measurements (by start time) is profiled into the table, the second half is only
scored (``predict``, else the ``--model profile`` estimate) - and the pair accuracy over the
later candidates' pairs with a gap over ``--eps`` (pooled over programs, one candidate per
binary) sits beside the static count's: the search's own screen on the pairs that
``costtune eval`` scores the retrained models on.
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


def _functions(bench, r):
    """The artifact of a measured record and its functions ((None, None) if it does not compile)."""
    cr = compile_benchmark(bench, "O3" if r.label.endswith(":O3") else r.pipeline)
    return (cr.artifact, program_functions(cr.artifact)) if cr.ok else (None, None)


def _observe(table, bench, art, fns, repeat) -> bool:
    """Block-profile the artifact into the table, as the search does after a measurement."""
    prof = block_profile(art, bench, repeat=repeat)
    if prof.ok:
        table.observe(art.binary_hash, fns, prof.functions, prof.total,
                      block_counts(fns, prof.blocks, read_symbols(art.binary)))
    return prof.ok


def _scores(table, fns, pred) -> tuple:
    """(the prediction, else the profile estimate; the static count) of a candidate."""
    return table.estimate(fns) if pred is None else pred, sum(StaticCount.count(t) for t in fns.values())


def replay(bench, records, repeat) -> dict:
    table = VariantTable()
    seen_keys: set[str] = set()
    rows = {"known": [], "shape": [], "new": []}  # (predicted or estimated, static, measured)
    counts = {"known": 0, "shape": 0, "new": 0}
    for r in records:
        art, fns = _functions(bench, r)
        if art is None:
            continue
        if table.library:
            pred = table.predict(fns)
            kind = "new" if pred is None else "known" if all(k[0] in seen_keys for k in variant_keys(fns).values()) else "shape"
            counts[kind] += 1
            rows[kind].append((*_scores(table, fns, pred), r.value))
        if not _observe(table, bench, art, fns, repeat):
            continue
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


def within(bench, records, repeat, eps: float) -> dict:
    """Profile the first half of ``records`` (by start time) into a table; score the second half."""
    records = sorted(records, key=lambda r: r.started_at)
    half = len(records) // 2
    table = VariantTable()
    for r in records[:half]:
        art, fns = _functions(bench, r)
        if art is not None:
            _observe(table, bench, art, fns, repeat)
    late = {}  # binary hash -> (profile estimate, static count, measured)
    for r in records[half:]:
        art, fns = _functions(bench, r)
        if art is not None and art.binary_hash not in late:
            late[art.binary_hash] = (*_scores(table, fns, table.predict(fns)), r.value)
    true = [v for _, _, v in late.values()]
    c, t = pairwise_counts(true, [p for p, _, _ in late.values()], eps)
    cs, _ = pairwise_counts(true, [s for _, s, _ in late.values()], eps)
    return {"early": half, "late": len(late), "pairs": t, "profile_correct": c, "static_correct": cs,
            "profile_pair_acc": c / t if t else None, "static_pair_acc": cs / t if t else None}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", default="builtin")
    ap.add_argument("--runs", nargs="+", type=Path, required=True, help="search output dirs, one program each")
    ap.add_argument("--out", type=Path, default=Path("bench_variants_out"))
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--within", action="store_true", help="score each search's second half with a table of its first")
    ap.add_argument("--eps", type=float, default=0.02, help="--within: pairs count when (slow - fast) / slow > eps")
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
        key = bench.id if bench.id not in report else f"{bench.id} ({run})"  # two searches of one program
        report[key] = (within(bench, recs, recs[0].repeat, args.eps) if args.within
                       else replay(bench, recs, recs[0].repeat))
        print(f"{key}: {report[key]}", file=sys.stderr, flush=True)
    if args.within:
        pairs = sum(r["pairs"] for r in report.values())
        report["pooled"] = {k: sum(r[k] for r in report.values()) / pairs if pairs else None
                            for k in ("profile_correct", "static_correct")} | {"pairs": pairs}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench_variants.json").write_text(json.dumps(report, indent=2))
    if args.json:
        print(json.dumps(report, indent=2))
        return 0

    def f(x, fmt):
        return "-" if x is None else format(x, fmt)

    if args.within:
        print(f"later half of each search scored with a table of its first half; pairs with a gap over {args.eps}")
        print(f"{'program':<32} {'early':>5} {'late':>5} {'pairs':>6} {'profile':>8} {'static':>8}")
        for b, r in report.items():
            if b != "pooled":
                print(f"{b:<32} {r['early']:>5} {r['late']:>5} {r['pairs']:>6} {f(r['profile_pair_acc'], '.3f'):>8} "
                      f"{f(r['static_pair_acc'], '.3f'):>8}")
        p = report["pooled"]
        print(f"{'pooled':<32} {'':>5} {'':>5} {p['pairs']:>6} {f(p['profile_correct'], '.3f'):>8} "
              f"{f(p['static_correct'], '.3f'):>8}")
        print(f"JSON: {args.out / 'bench_variants.json'}")
        return 0

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
