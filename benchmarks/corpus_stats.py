#!/usr/bin/env python3
"""The corpus in figures: programs, families, candidates, pairs and function variants per suite
and per split, and the collection's throughput.

    python benchmarks/corpus_stats.py benchmarks/corpus/corpus.jsonl.gz --out benchmarks/results/corpus_stats.json

Pairs: two candidates of one program with distinct binaries whose relative gap
(slow - fast) / slow exceeds 1% (and 0.2%). Function variants: distinct
(program, function, hash of its normalised assembly) among the program's own
functions. Throughput: candidates per minute per worker, from each candidate's
worker time (compile, plus the qemu run unless an identical binary's
measurement was reused).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from costtune.corpus import read_corpus  # noqa: E402
from costtune.dataset import gap_pairs  # noqa: E402


def program_figures(prog: dict, cands: list[dict]) -> dict:
    ok = [c for c in cands if c["status"] == "ok" and c.get("value")]
    edits = [c for c in cands if (c.get("label") or "").startswith("edit")]
    by_binary = {}
    for c in ok:
        by_binary.setdefault(c["binary_hash"], c["value"])
    values = sorted(by_binary.values())
    pairs1, pairs02 = len(gap_pairs(values, 0.01)), len(gap_pairs(values, 0.002))
    variants = set()
    for c in ok:
        for fn, h in zip(prog.get("own_functions") or [], c.get("variants") or []):
            if h:
                variants.add((fn, h))
    o3 = next((c["value"] for c in ok if c["label"] == "O3"), None)
    best = min(values) if values else None
    return {"benchmark": prog["benchmark"], "suite": prog["suite"], "family": prog["family"],
            "split": prog["split"], "candidates": len(cands), "ok": len(ok), "o3_edits": len(edits),
            "o3_edits_ok": sum(c["status"] == "ok" for c in edits), "distinct_binaries": len(by_binary),
            "pairs_1pct": pairs1, "pairs_02pct": pairs02, "function_variants": len(variants),
            "best_vs_o3": round(o3 / best, 4) if o3 and best else None,
            "seconds": sum(c.get("seconds") or 0 for c in cands)}


def table(rows: list[dict], key: str) -> list[dict]:
    groups = defaultdict(list)
    for r in rows:
        groups[r[key]].append(r)
    out = []
    for name in sorted(groups) + ["all"]:
        g = rows if name == "all" else groups[name]
        secs = sum(r["seconds"] for r in g)
        out.append({key: name, "programs": len(g), "families": len({r["family"] for r in g}),
                    "candidates": sum(r["candidates"] for r in g), "ok": sum(r["ok"] for r in g),
                    "o3_edits_ok": sum(r["o3_edits_ok"] for r in g),
                    "min_o3_edits_ok": min(r["o3_edits_ok"] for r in g),
                    "distinct_binaries": sum(r["distinct_binaries"] for r in g),
                    "pairs_1pct": sum(r["pairs_1pct"] for r in g), "pairs_02pct": sum(r["pairs_02pct"] for r in g),
                    "function_variants": sum(r["function_variants"] for r in g),
                    "median_best_vs_o3": statistics.median([r["best_vs_o3"] for r in g if r["best_vs_o3"]] or [0]),
                    "per_min_per_core": round(sum(r["candidates"] for r in g) / secs * 60, 1) if secs else None})
    return out


def show(rows: list[dict], key: str) -> None:
    cols = [key, "programs", "families", "candidates", "o3_edits_ok", "min_o3_edits_ok", "distinct_binaries",
            "pairs_1pct", "pairs_02pct", "function_variants", "median_best_vs_o3", "per_min_per_core"]
    print(" | ".join(cols))
    print(" | ".join("---" for _ in cols))
    for r in rows:
        print(" | ".join(str(r[c]) for c in cols))
    print()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("corpus", help="a corpus file (costtune records export --format corpus)")
    ap.add_argument("--out", help="write the figures as JSON here")
    args = ap.parse_args()
    header, programs = read_corpus(args.corpus)
    rows = [program_figures(p, c) for p, c in programs]
    by_suite, by_split = table(rows, "suite"), table(rows, "split")
    show(by_suite, "suite")
    show(by_split, "split")
    if args.out:
        Path(args.out).write_text(json.dumps({"corpus": args.corpus, "header": header, "by_suite": by_suite,
                                              "by_split": by_split, "programs": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
