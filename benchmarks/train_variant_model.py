#!/usr/bin/env python3
"""Train the function-variant model (:mod:`costtune.model.variant_model`) on examples written by
``benchmarks/variant_examples.py``; the validation split's examples choose the epoch.

    python benchmarks/train_variant_model.py --examples EX.jsonl.gz --out MODEL [--device cuda] [--seed 0]
        [--base reference|scaled]

``--base scaled`` trains the residual of the profile estimate's length scaling (the model starts
at the scaling and learns where it is wrong) instead of the log ratio to the reference's count.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from costtune.model.variant_model import BASES, targets, train  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--examples", required=True, type=Path, nargs="+")
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--dim", type=int, default=256)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--heads", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--base", default="reference", choices=BASES,
                    help="what the predicted log ratio is relative to (default reference)")
    ap.add_argument("--limit", type=int, help="first N training examples only (a smoke test)")
    args = ap.parse_args()
    rows = [json.loads(line) for f in args.examples for line in gzip.open(f, "rt")]
    rows = targets(rows, args.base)
    tr = [r for r in rows if r["split"] == "train"][:args.limit]
    va = [r for r in rows if r["split"] == "validation"]
    print(f"{len(tr)} training and {len(va)} validation examples", flush=True)
    t0 = time.time()
    train(tr, args.out, validation=va, epochs=args.epochs, lr=args.lr, batch=args.batch, dim=args.dim,
          layers=args.layers, heads=args.heads, seed=args.seed, device=args.device, base=args.base,
          log=lambda m: print(f"[{time.time() - t0:.0f}s] {m}", flush=True))
    (args.out / "train.json").write_text(json.dumps({**vars(args), "train_examples": len(tr),
                                                     "validation_examples": len(va),
                                                     "seconds": round(time.time() - t0, 1)},
                                                    indent=1, default=str) + "\n")  # paths as text
    return 0


if __name__ == "__main__":
    sys.exit(main())
