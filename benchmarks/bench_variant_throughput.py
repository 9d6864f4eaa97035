#!/usr/bin/env python3
"""Function-variant models' scoring throughput on one device: variant pairs per second.

    python benchmarks/bench_variant_throughput.py --examples EX.jsonl.gz --model variant [--model DIR ...] \
        [--device cuda] [--split validation] [--json out.json]

The pairs are the (reference, new variant) token lists of ``benchmarks/variant_examples.py``'s
examples of one split - what the profile estimate asks a variant model for. Each model (a
directory, an ensemble directory, or ``variant``: the shipped one) predicts all of them ``--reps``
times after one warm-up pass, in batches of ``--batch``, as ``costtune serve --model DIR --device D``
does (fp32); the median pass is reported. A candidate needs as many predictions as it has
function variants of a new shape (``bench_costmodel.py`` prints seconds per candidate on the
candidates themselves). Prints a table and writes JSON.
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from costtune.errors import CostTuneError  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--examples", required=True, type=Path)
    ap.add_argument("--model", action="append", required=True, metavar="DIR", help="'variant' or a model directory")
    ap.add_argument("--split", default="validation")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, help="torch CPU threads")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    from costtune import resources
    from costtune.model.base import pick_device
    from costtune.model.variant_model import load

    try:
        with gzip.open(args.examples, "rt") as f:
            pairs = [(e["ref"], e["new"]) for e in map(json.loads, f) if e.get("split") == args.split]
    except (OSError, ValueError, KeyError) as e:
        sys.exit(f"bench_variant_throughput: error: {args.examples}: {type(e).__name__}: {e}")
    if not pairs:
        sys.exit(f"bench_variant_throughput: error: {args.examples} has no examples of the {args.split} split")
    tokens = statistics.median(len(r) + len(n) for r, n in pairs)
    rows = []
    try:
        device = pick_device(args.device)
        for name in args.model:
            model = load(resources.variant_model_dir() if name == "variant" else name, device, args.threads)
            model.predict(pairs[: args.batch * 2], args.batch)  # warm-up: kernels, allocator
            times = []
            for _ in range(args.reps):
                if device.startswith("cuda"):
                    import torch

                    torch.cuda.synchronize()
                t0 = time.perf_counter()
                model.predict(pairs, args.batch)
                times.append(time.perf_counter() - t0)
            t = statistics.median(times)
            members = len(getattr(model, "members", [model]))
            rows.append({"model": name, "members": members, "device": device, "pairs": len(pairs),
                         "median_tokens_per_pair": tokens, "seconds": round(t, 3), "pairs_per_second": round(len(pairs) / t, 1)})
    except CostTuneError as e:
        sys.exit(f"bench_variant_throughput: error: {e}")
    print(f"{'model':<40}{'members':>8}{'device':>8}{'pairs':>8}{'seconds':>10}{'pairs/s':>10}")
    for r in rows:
        print(f"{r['model'][-40:]:<40}{r['members']:>8}{r['device']:>8}{r['pairs']:>8}{r['seconds']:>10.3f}"
              f"{r['pairs_per_second']:>10.1f}")
    if args.json:
        args.json.write_text(json.dumps({"split": args.split, "batch": args.batch, "reps": args.reps, "rows": rows},
                                        indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
