"""Per-step compile times for every builtin program, and the time of a fully cached compile.

    python benchmarks/bench_compile.py [--passes O3] [--target aarch64] [--json-out FILE]

Each program is compiled into a fresh, empty cache (frontend per source file, llvm-link,
opt, llc to .s and .o, link, text-section hash), then compiled again: the second compile
finds everything in the cache. Prints a table and JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--passes", default="O3")
    ap.add_argument("--target", default="aarch64")
    ap.add_argument("--programs", nargs="*")
    ap.add_argument("--json-out")
    args = ap.parse_args()
    os.environ["COSTTUNE_CACHE"] = tempfile.mkdtemp(prefix="costtune-bench-compile-")
    from costtune.benchmarks import get_suite
    from costtune.compile import compile_benchmark
    from costtune.toolchain import find

    tc = find()
    steps = ["frontend", "link-ir", "opt", "llc", "link", "hash"]
    rows = []
    for bench in get_suite("builtin").list():
        if args.programs and bench.name not in args.programs:
            continue
        t0 = time.perf_counter()
        cold = compile_benchmark(bench, args.passes, args.target, tc)
        cold_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        warm = compile_benchmark(bench, args.passes, args.target, tc)
        warm_s = time.perf_counter() - t0
        if not (cold.ok and warm.ok and warm.artifact.cached):
            print(f"{bench.id}: {cold.describe()}", file=sys.stderr)
            return 1
        rows.append({"program": bench.id, "sources": len(bench.sources), "cold_s": round(cold_s, 3),
                     "cached_s": round(warm_s, 4), **{s: cold.seconds.get(s, 0.0) for s in steps}})
    head = f"{'program':<20} {'src':>3} " + " ".join(f"{s:>8}" for s in steps) + f" {'total':>7} {'cached':>8}"
    print(f"LLVM {tc.llvm}, {args.passes}, target {args.target} (seconds)")
    print(head)
    for r in rows:
        print(f"{r['program']:<20} {r['sources']:>3} " + " ".join(f"{r[s]:>8.3f}" for s in steps)
              + f" {r['cold_s']:>7.3f} {r['cached_s']:>8.4f}")
    tot = {s: sum(r[s] for r in rows) for s in steps}
    print(f"{'sum':<20} {'':>3} " + " ".join(f"{tot[s]:>8.3f}" for s in steps)
          + f" {sum(r['cold_s'] for r in rows):>7.3f} {sum(r['cached_s'] for r in rows):>8.4f}")
    out = {"llvm": tc.llvm, "passes": args.passes, "target": args.target, "rows": rows}
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(out, f, indent=1)
    else:
        print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
