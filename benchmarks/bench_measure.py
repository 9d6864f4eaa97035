"""Benchmark of the measurement layer on the builtin suite (prints a table and JSON).

For every builtin program at its default repeat:
  * AArch64 instruction counts of the O3 build, 5 times (they must be identical),
    and of the O0 build once;
  * the counting plugin's overhead: median wall time of plain qemu-aarch64 vs
    qemu-aarch64 with the plugin, over the same runs;
  * wall time (median, 95% CI half-width, n) of the O3 build natively (host
    build, local runner, pinned) and under qemu.

    .venv/bin/python benchmarks/bench_measure.py [--programs a b ...] [--json-out FILE]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

from costtune.benchmarks import get_suite
from costtune.compile import compile_benchmark
from costtune.measure import QemuRunner, WallConfig, measure
from costtune.measure.reference import job_for


def plugin_overhead(binary, bench, runs: int) -> tuple[float, float]:
    """Median seconds of plain qemu and of qemu + plugin, interleaved."""
    plain, counted = [], []
    with QemuRunner() as q:
        job = job_for(bench, binary, "aarch64", None, bench.timeout * q.timeout_factor)
        q.run(job, 1)  # warm the page cache
        for _ in range(runs):
            plain.append(q.run(job, 1)[0].seconds)
            counted.append(q.run(job, 1, count_insns=True)[0].seconds)
    return statistics.median(plain), statistics.median(counted)


def bench_program(bench, args) -> dict:
    row: dict = {"bench": bench.id, "repeat": bench.repeat}
    arts = {}
    for key, passes, target in (("O0", "O0", "aarch64"), ("O3", "O3", "aarch64"), ("O3host", "O3", "host")):
        res = compile_benchmark(bench, passes, target)
        if not res.ok:
            row["error"] = f"{key}: {res.describe()}"
            return row
        arts[key] = res.artifact
    counts = [measure(arts["O3"], bench, "insns") for _ in range(args.count_runs)]
    row["status"] = counts[0].status
    if not counts[0].ok:
        row["error"] = counts[0].detail
        return row
    row["insns_O3"] = [int(m.value) for m in counts]
    row["identical"] = len(set(row["insns_O3"])) == 1
    row["insns_seconds"] = round(statistics.median(m.seconds for m in counts), 4)
    o0 = measure(arts["O0"], bench, "insns")
    row["insns_O0"] = int(o0.value) if o0.ok else None
    plain, counted = plugin_overhead(arts["O3"].binary, bench, args.overhead_runs)
    row["qemu_plain_s"], row["qemu_plugin_s"] = round(plain, 4), round(counted, 4)
    row["plugin_overhead"] = round(counted / plain - 1, 4)
    cfg = WallConfig(min_runs=3, max_runs=args.max_runs, rel_ci=0.01, budget_s=args.budget)
    for key, art, runner in (("host", arts["O3host"], "local"), ("qemu", arts["O3"], "qemu")):
        m = measure(art, bench, "wall", runner=runner, wall=cfg)
        row[f"wall_{key}"] = {"status": m.status, "median": m.value, "ci": m.ci_halfwidth, "n": m.n,
                              "rel_ci": (m.ci_halfwidth / m.mean) if m.ok and m.ci_halfwidth else None}
    return row


def print_table(rows: list[dict]) -> None:
    head = (f"{'program':<20} {'rep':>4} {'insns O0':>12} {'insns O3':>12} {'5x same':>7} {'O0/O3':>6} "
            f"{'qemu s':>7} {'+plugin':>8} {'host wall s':>11} {'ci%':>5} {'n':>3} {'qemu wall s':>11} {'ci%':>5} {'n':>3}")
    print(head)
    print("-" * len(head))
    for r in rows:
        if "error" in r:
            print(f"{r['bench']:<20} {r['repeat']:>4}  ERROR {r['error'][:90]}")
            continue
        h, q = r["wall_host"], r["wall_qemu"]

        def wall(w):
            if w["status"] != "ok":
                return f"{w['status']:>11} {'':>5} {'':>3}"
            return f"{w['median']:>11.4f} {100 * (w['rel_ci'] or 0):>5.1f} {w['n']:>3}"
        ratio = r["insns_O0"] / r["insns_O3"][0] if r["insns_O0"] else float("nan")
        print(f"{r['bench']:<20} {r['repeat']:>4} {r['insns_O0'] or 0:>12} {r['insns_O3'][0]:>12} "
              f"{'yes' if r['identical'] else 'NO':>7} {ratio:>6.2f} {r['qemu_plain_s']:>7.3f} "
              f"{100 * r['plugin_overhead']:>7.1f}% {wall(h)} {wall(q)}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--programs", nargs="*", help="builtin program names (default: all)")
    p.add_argument("--count-runs", type=int, default=5)
    p.add_argument("--overhead-runs", type=int, default=5)
    p.add_argument("--max-runs", type=int, default=15)
    p.add_argument("--budget", type=float, default=10.0, help="seconds of timed runs per wall measurement")
    p.add_argument("--json-out", help="also write the JSON here")
    args = p.parse_args(argv)
    suite = get_suite("builtin")
    benches = [b for b in suite.list() if not args.programs or b.name in args.programs]
    rows = []
    t0 = time.time()
    for b in benches:
        print(f"... {b.id}", file=sys.stderr, flush=True)
        rows.append(bench_program(b, args))
        if args.json_out:  # keep what is done if a long run is cut short
            with open(args.json_out, "w") as f:
                json.dump({"rows": rows, "partial": True}, f, indent=1)
    print_table(rows)
    doc = {"rows": rows, "seconds": round(time.time() - t0, 1)}
    text = json.dumps(doc, indent=1)
    print(text)
    if args.json_out:
        with open(args.json_out, "w") as f:
            f.write(text)
    return 0 if all(r.get("identical") for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
