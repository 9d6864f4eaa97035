"""Scoring speed of a cost model: candidates/s cold (empty cache) and warm, and how much
of a program's function texts the content-hash cache saves across candidates.

    python benchmarks/bench_model.py --model DIR --data DATASET_DIR [--programs N] [--threads 1]

Prints a table and a JSON line.
"""

from __future__ import annotations

import argparse
import json
import time

from costtune.model import CostModel
from costtune.dataset import group_by_program, load_ranking


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--programs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    a = ap.parse_args()
    m = CostModel.from_pretrained(a.model, device=a.device, threads=a.threads)
    groups = group_by_program(load_ranking(a.data, m.config.repr))
    rows = []
    for prog in sorted(groups)[: a.programs]:
        cands = [c.functions for c in groups[prog]]
        m.clear_cache()
        m.cache_hits = m.cache_misses = 0
        t0 = time.time()
        m.score(cands)
        cold = time.time() - t0
        t0 = time.time()
        m.score(cands)
        warm = time.time() - t0
        total = sum(len(c) for c in cands)
        rows.append({"program": prog, "candidates": len(cands), "functions": total,
                     "distinct_functions": m.cache_misses, "cold_cand_per_s": len(cands) / cold,
                     "warm_cand_per_s": len(cands) / max(warm, 1e-9)})
    print(f"{'program':<24}{'cands':>6}{'fns':>6}{'distinct':>9}{'cold c/s':>10}{'warm c/s':>10}")
    for r in rows:
        print(f"{r['program']:<24}{r['candidates']:>6}{r['functions']:>6}{r['distinct_functions']:>9}"
              f"{r['cold_cand_per_s']:>10.2f}{r['warm_cand_per_s']:>10.0f}")
    print(json.dumps({"model": a.model, "rows": rows}))


if __name__ == "__main__":
    main()
