"""Do estimated cycles rank candidates like real time, better than instruction counts?

Where real time can be measured - natively on this x86-64 host - the same estimate
``--metric cycles`` makes for an AArch64 core is built for the host's core:
block counts from qemu-x86_64 with costtune's plugin, each block costed by
llvm-mca with the host CPU model (``llvm-mca --version``'s "Host CPU"). Over each
program's candidates (O0..O3 and o3-edits samples, the ones ``costtune collect
--space o3-edits`` measures), the rank agreement with native wall time (pinned,
repeated to a tight CI) is compared for: instruction count, cycles (rthru) and
cycles (latency). Host builds are relinked static (``-static``, no PIE) so that
qemu's block addresses are the binary's; the timed binary is that same one.

It also measures the overhead of ``cycles`` over ``insns`` per AArch64 candidate
(cortex-a57): cold (an empty block-cost cache per candidate), sequential (one
cache for a program's candidates in turn, as collect sees it) and warm (the
candidate again).

    .venv/bin/python benchmarks/bench_cycles.py --programs bitcount sorting polybench/gemm ... --samples 16 \
        --json-out benchmarks/results/bench_cycles.json
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from costtune import process
from costtune.benchmarks import get_benchmark
from costtune.collect import CollectConfig, plan_jobs
from costtune.compile import compile_benchmark
from costtune.measure import QemuRunner, WallConfig, measure
from costtune.measure.cycles import MODES, CostCache, _mca_info, estimate, mca_path
from costtune.measure.reference import job_for
from costtune.model.metrics import pairwise_counts
from costtune.toolchain import find, get_target

EPS = (0.0, 0.02)  #: pairwise accuracy over pairs whose wall times differ by more than this (relative)


def ranks(xs: list[float]) -> list[float]:
    order = sorted(range(len(xs)), key=lambda i: xs[i])
    r = [0.0] * len(xs)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and xs[order[j + 1]] == xs[order[i]]:
            j += 1
        for k in range(i, j + 1):
            r[order[k]] = (i + j) / 2
        i = j + 1
    return r


def spearman(a: list[float], b: list[float]) -> float:
    ra, rb = ranks(a), ranks(b)
    ma, mb = statistics.fmean(ra), statistics.fmean(rb)
    num = sum((x - ma) * (y - mb) for x, y in zip(ra, rb))
    den = math.sqrt(sum((x - ma) ** 2 for x in ra) * sum((y - mb) ** 2 for y in rb))
    return num / den if den else float("nan")


def static_host_binary(art, bench, tc, out_dir: Path) -> Path | None:
    """The host candidate's object linked static (fixed addresses: qemu's blocks are the file's)."""
    tgt = get_target("host")
    out = out_dir / f"{art.binary_hash[:16]}.static"
    if not out.exists():
        res = process.run([tc.clang, *tgt.link_flags, "-static", art.obj, "-o", out, *bench.ldflags], timeout=120)
        if not res.ok:
            return None
    return out


def candidate(bench, spec, tc, out_dir, wall_cfg, cpu, cache) -> dict:
    row = {"spec": spec[:200]}
    cr = compile_benchmark(bench, spec, "host", tc)
    if not cr.ok:
        return {**row, "status": "compile_error"}
    binary = static_host_binary(cr.artifact, bench, tc, out_dir)
    if binary is None:
        return {**row, "status": "link_error"}
    w = measure(binary, bench, "wall", runner="local", target="host", wall=wall_cfg, toolchain=tc)
    row.update(status=w.status, wall=w.value, wall_min=min(w.values) if w.values else None, wall_ci=w.ci_halfwidth,
               wall_n=w.n)
    if not w.ok:
        return row
    with QemuRunner() as q:
        (r,) = q.run(job_for(bench, binary, "host", None, bench.timeout * q.timeout_factor), 1,
                     count_insns=True, blocks=True)
    if not r.ok or r.blocks is None:
        return {**row, "status": "profile_failed"}
    est = estimate(binary, r.blocks, target="host", cpu=cpu, toolchain=tc, cache=cache)
    row.update(insns=r.insns, fallback_insns=est.fallback_insns, binary=binary.name,
               **{f"cycles_{m}": est.by_mode[m] for m in MODES})
    return row


def agreement(rows: list[dict], truth: str = "wall") -> dict:
    ok = [r for r in rows if r.get("status") == "ok" and "insns" in r]
    # one value per distinct binary: equal binaries are one candidate
    seen, uniq = set(), []
    for r in ok:
        if r["binary"] not in seen:
            seen.add(r["binary"])
            uniq.append(r)
    wall = [r[truth] for r in uniq]
    out = {"candidates": len(uniq)}
    for key in ("insns", *(f"cycles_{m}" for m in MODES)):
        pred = [r[key] for r in uniq]
        out[key] = {"spearman": round(spearman(wall, pred), 4) if len(uniq) > 2 else None}
        for eps in EPS:
            c, t = pairwise_counts(wall, pred, eps)
            out[key][f"pair_acc_{eps}"] = round(c / t, 4) if t else None
            out[key][f"pairs_{eps}"] = t
            out[key][f"correct_{eps}"] = c
    return out


def pooled(per_program: dict[str, list[dict]], truth: str = "wall") -> dict:
    """Spearman over every program's candidates as ratios to its O3; pairs within programs summed."""
    out: dict = {}
    keys = ("insns", *(f"cycles_{m}" for m in MODES))
    ratios = {k: [] for k in (truth, *keys)}
    for rows in per_program.values():
        o3 = next((r for r in rows if r.get("label") == "O3" and r.get("status") == "ok" and "insns" in r), None)
        if o3 is None:
            continue
        for r in rows:
            if r.get("status") == "ok" and "insns" in r:
                for k in ratios:
                    ratios[k].append(r[k] / o3[k])
    for k in keys:
        out[k] = {"spearman_ratio_to_O3": round(spearman(ratios[truth], ratios[k]), 4) if ratios[truth] else None}
    return out


def overhead(benches, tc, n: int) -> dict:
    """Seconds of insns vs cycles (cortex-a57) per AArch64 candidate: cold, sequential, warm."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-cycles-") as tmp:
        for bench in benches:
            cfg = CollectConfig(suite=bench.suite, benchmarks=[bench.name], samples=3 * n, space="o3-edits",
                                references=("O3",), seed=1)
            shared = CostCache(Path(tmp) / f"{bench.name}-seq.sqlite")
            seen = set()
            for job in plan_jobs(cfg, [bench], tc.llvm, tc.opt):
                cr = compile_benchmark(bench, job.spec, "aarch64", tc)
                if not cr.ok or cr.artifact.binary_hash in seen:  # a collect reuses an identical binary
                    continue
                if len(seen) > n:
                    break
                art = cr.artifact
                seen.add(art.binary_hash)
                m0 = measure(art, bench, "insns", toolchain=tc, check=False)
                if not m0.ok:
                    continue
                t0 = time.perf_counter()
                with QemuRunner() as q:
                    (r,) = q.run(job_for(bench, art.binary, "aarch64", None, bench.timeout * q.timeout_factor), 1,
                                 count_insns=True, blocks=True)
                run_s = time.perf_counter() - t0
                cold_cache = CostCache(Path(tmp) / f"cold-{len(rows)}.sqlite")  # empty: nothing known
                cold = estimate(art.binary, r.blocks, cpu="cortex-a57", toolchain=tc, cache=cold_cache)
                warm = estimate(art.binary, r.blocks, cpu="cortex-a57", toolchain=tc, cache=cold_cache)
                seq = estimate(art.binary, r.blocks, cpu="cortex-a57", toolchain=tc, cache=shared)
                cold_cache.close()
                rows.append({"bench": bench.id, "label": job.label, "insns_s": m0.seconds,
                             "blocks_run_s": round(run_s, 4), "estimate_cold_s": cold.seconds,
                             "estimate_seq_s": seq.seconds, "estimate_warm_s": warm.seconds,
                             "blocks": cold.blocks, "analysed_cold": cold.analysed, "analysed_seq": seq.analysed,
                             "same": cold.cycles == warm.cycles == seq.cycles})
            shared.close()

    def ratio(key):
        return round(statistics.median((r["blocks_run_s"] + r[key]) / r["insns_s"] - 1 for r in rows), 4)

    return {"rows": rows, "median_overhead_cold": ratio("estimate_cold_s"),
            "median_overhead_sequential": ratio("estimate_seq_s"), "median_overhead_warm": ratio("estimate_warm_s")}


KEYS = ("insns", *(f"cycles_{m}" for m in MODES))
TRUTHS = {"agreement": "wall (median of the timed runs)", "agreement_min": "wall (fastest timed run)"}


def summarise(result: dict) -> None:
    """Per-program agreement (again, from the candidates) and the pooled figures, for both truths."""
    per_program = {bid: p["candidates"] for bid, p in result["programs"].items()}
    for bid, rows in per_program.items():
        result["programs"][bid]["agreement"] = agreement(rows, "wall")
        result["programs"][bid]["agreement_min"] = agreement(rows, "wall_min")
    result["pooled"] = {}
    for name, truth in (("agreement", "wall"), ("agreement_min", "wall_min")):
        pooled_: dict = {}
        for key in KEYS:
            pooled_[key] = {}
            for eps in EPS:
                c = sum(p[name][key][f"correct_{eps}"] for p in result["programs"].values())
                t = sum(p[name][key][f"pairs_{eps}"] for p in result["programs"].values())
                pooled_[key][f"pair_acc_{eps}"] = round(c / t, 4) if t else None
                pooled_[key][f"pairs_{eps}"] = t
            sp = [p[name][key]["spearman"] for p in result["programs"].values() if p[name][key]["spearman"] is not None]
            pooled_[key]["mean_spearman"] = round(statistics.fmean(sp), 4) if sp else None
            pooled_[key]["spearman_ratio_to_O3"] = pooled(per_program, truth)[key]["spearman_ratio_to_O3"]
        result["pooled"][name] = pooled_


def _cell(a: dict) -> str:
    sp = a["spearman"] if a["spearman"] is not None else float("nan")
    acc = a["pair_acc_0.02"] if a["pair_acc_0.02"] is not None else float("nan")
    return f"{sp:>6.3f} / {acc:.3f} ({a['pairs_0.02']:>3})"


def report(result: dict) -> None:
    print(f"host core {result['host_cpu']} (llvm-mca {result['llvm_mca']}); Spearman / pair accuracy over pairs "
          "whose wall times differ by >2% (pairs)")
    for name, title in TRUTHS.items():
        if not result["programs"]:
            break
        print(f"\nagainst {title}")
        print(f"{'program':<20} {'n':>3}  " + "  ".join(f"{k:>22}" for k in KEYS))
        for bid, p in result["programs"].items():
            a = p[name]
            print(f"{bid:<20} {a['candidates']:>3}  " + "  ".join(f"{_cell(a[k]):>22}" for k in KEYS))
        ps = result["pooled"][name]
        print(f"{'pooled (mean rho)':<20} {'':>3}  " + "  ".join(
            f"{_cell({'spearman': ps[k]['mean_spearman'], 'pair_acc_0.02': ps[k]['pair_acc_0.02'], 'pairs_0.02': ps[k]['pairs_0.02']}):>22}"
            for k in KEYS))
        print("pooled Spearman of ratios to O3: " + ", ".join(f"{k} {ps[k]['spearman_ratio_to_O3']}" for k in KEYS))
    if "overhead" in result:
        o = result["overhead"]
        print(f"\ncycles over insns per aarch64 candidate (median of {len(o['rows'])}): cold "
              f"{o['median_overhead_cold']:+.1%}, sequential {o['median_overhead_sequential']:+.1%}, "
              f"warm {o['median_overhead_warm']:+.1%}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--programs", nargs="+", help="builtin names, or suite/name of any suite (e.g. "
                    "polybench/gemm, cbench/bzip2-decode with COSTTUNE_CBENCH_ROOT)", default=["bitcount", "sorting", "strsearch", "dijkstra", "stencil",
                                                      "huffman", "fixdsp", "sha256"])
    ap.add_argument("--samples", type=int, default=16, help="o3-edits candidates per program besides O0..O3")
    ap.add_argument("--overhead-programs", type=int, default=3, help="programs in the overhead measurement")
    ap.add_argument("--overhead-samples", type=int, default=4)
    ap.add_argument("--max-runs", type=int, default=20)
    ap.add_argument("--rel-ci", type=float, default=0.005)
    ap.add_argument("--budget", type=float, default=8.0, help="seconds of timed runs per candidate at most")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--overhead-only", action="store_true", help="only the overhead measurement")
    ap.add_argument("--report", type=Path, help="print the tables of an earlier JSON (with --overhead-only: "
                                                  "add the overhead measurement to it)")
    ap.add_argument("--json-out", type=Path)
    args = ap.parse_args(argv)

    tc = find()
    if args.report and not args.overhead_only:
        result = json.loads(args.report.read_text())
        summarise(result)
        report(result)
        return 0
    cpu = _mca_info(str(mca_path(tc)))[1]
    benches = [get_benchmark(p if "/" in p else f"builtin/{p}") for p in args.programs]
    wall_cfg = WallConfig(min_runs=5, max_runs=args.max_runs, rel_ci=args.rel_ci, budget_s=args.budget)
    t0 = time.perf_counter()
    result: dict = {"host_cpu": cpu, "llvm_mca": _mca_info(str(mca_path(tc)))[0], "samples": args.samples,
                    "wall": asdict(wall_cfg), "programs": {}}
    per_program: dict[str, list[dict]] = {}
    cache = CostCache()
    with tempfile.TemporaryDirectory(prefix="bench-cycles-host-") as tmp:
        for bench in ([] if args.overhead_only else benches):
            cfg = CollectConfig(suite=bench.suite, benchmarks=[bench.name], samples=args.samples, space="o3-edits",
                                seed=args.seed, target="host")
            rows = []
            for job in plan_jobs(cfg, [bench], tc.llvm, tc.opt):
                row = candidate(bench, job.spec, tc, Path(tmp), wall_cfg, cpu, cache)
                row["label"] = job.label
                rows.append(row)
                print(f"{bench.id:<20} {job.label:<8} {row.get('status'):<13} wall {row.get('wall') or 0:.4f} "
                      f"insns {row.get('insns') or 0:.0f} cyc {row.get('cycles_rthru') or 0:.0f}", file=sys.stderr,
                      flush=True)
            per_program[bench.id] = rows
            result["programs"][bench.id] = {"agreement": agreement(rows), "agreement_min": agreement(rows, "wall_min"),
                                            "candidates": rows}
    cache.close()
    result["validation_seconds"] = round(time.perf_counter() - t0, 1)
    if args.report:  # --overhead-only into an earlier run's JSON
        result = {**json.loads(args.report.read_text()), "overhead": None}
    if args.overhead_programs:
        result["overhead"] = overhead(benches[:args.overhead_programs], tc, args.overhead_samples)
    if result.get("overhead") is None:
        result.pop("overhead", None)
    summarise(result)
    report(result)
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
