"""Benchmark of ``costtune collect``: kill -9 midway, resume, compare (prints a table and JSON).

About ``--candidates`` jobs (O0-O3 references plus random pipelines) over the
builtin suite are collected into a fresh SQLite database by ``costtune collect
--jobs J``; the whole process group is killed with SIGKILL once ``--kill-at``
records exist, and the same command is run again to finish. Then the same job
set is collected without interruption into a second database, and the two
record sets must be identical in (job_key, pipeline, value, status).

Reported: candidates per minute per worker of the killed+resumed run (cold
compile cache: a fresh ``COSTTUNE_CACHE``) and of the uninterrupted run (warm
compile cache, so it is mostly measurement), the share of jobs the binary-hash
dedupe saved (records written from an identical binary's earlier measurement),
and whether the sets matched.

    .venv/bin/python benchmarks/bench_collect.py [--candidates 200] [--jobs 2] [--repeat 1]
        [--programs a b ...] [--seed 0] [--kill-at N] [--json-out FILE] [--keep DIR]

``--repeat 1`` (the default) runs each program once per measurement, which keeps
the benchmark to minutes on a 2-core machine; ``--program-repeat`` uses each
program's own repeat knob instead (seconds per candidate under qemu).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from costtune.benchmarks import get_suite  # noqa: E402
from costtune.records import RecordStore  # noqa: E402
from costtune.errors import RecordStoreError  # noqa: E402


def collect_cmd(args, db: str, samples: int, programs: list[str]) -> list[str]:
    cmd = [sys.executable, "-m", "costtune", "collect", "--suite", "builtin", "--benchmarks", *programs,
           "--samples", str(samples), "--db", db, "--seed", str(args.seed), "--jobs", str(args.jobs),
           "--min-len", str(args.min_len), "--max-len", str(args.max_len), "--no-progress", "--json"]
    if not args.program_repeat:
        cmd += ["--repeat", str(args.repeat)]
    return cmd


def count(db: str) -> int:
    if not Path(db).exists():
        return 0
    try:
        with RecordStore(db, create=False) as s:
            return s.count()
    except RecordStoreError:
        return 0


def run_killed(cmd: list[str], db: str, kill_at: int, env: dict) -> tuple[int, float]:
    """Run ``cmd``, SIGKILL its process group once ``kill_at`` records exist; (records, seconds)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                            start_new_session=True)
    try:
        while proc.poll() is None and count(db) < kill_at:
            time.sleep(0.2)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    return count(db), time.perf_counter() - t0


def run_full(cmd: list[str], env: dict) -> tuple[dict, float]:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode not in (0, 1):
        sys.exit(f"collect failed: {proc.stderr.strip()[-2000:]}")
    return json.loads(proc.stdout), time.perf_counter() - t0


def identity(db: str) -> set[tuple]:
    with RecordStore(db, create=False) as s:
        return {(r.job_key, r.pipeline, r.value, r.status) for r in s.records()}


def db_facts(db: str) -> dict:
    with RecordStore(db, create=False) as s:
        recs = list(s.records())
        claims = len(s.claims())
    built = [r for r in recs if r.binary_hash]
    by_status: dict[str, int] = {}
    for r in recs:
        by_status[r.status] = by_status.get(r.status, 0) + 1
    reused = sum(r.reused_from is not None for r in recs)
    return {"records": len(recs), "by_status": by_status, "reused": reused,
            "dedupe_share": reused / len(built) if built else 0.0,
            "distinct_binaries": len({r.binary_hash for r in built}), "claims_left": claims}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--candidates", type=int, default=200, help="about this many jobs in all")
    ap.add_argument("--programs", nargs="+", help="builtin programs (default: all supported)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--program-repeat", action="store_true", help="use each program's own repeat")
    ap.add_argument("--min-len", type=int, default=20)
    ap.add_argument("--max-len", type=int, default=60)
    ap.add_argument("--kill-at", type=int, help="records before the kill (default: a third of the jobs)")
    ap.add_argument("--json-out", help="also write the JSON here")
    ap.add_argument("--keep", help="keep the databases and the compile cache in this directory")
    args = ap.parse_args()

    programs = args.programs or [b.name for b in get_suite("builtin").list() if b.status == "ok"]
    samples = max(1, round((args.candidates - 4 * len(programs)) / len(programs)))
    total = len(programs) * (4 + samples)
    kill_at = args.kill_at or max(1, total // 3)
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-collect-"))
    work.mkdir(parents=True, exist_ok=True)
    # a snapshot of the pass catalog: the same seed must plan the same jobs in all three runs
    from costtune.passes import catalog_root

    shutil.copytree(catalog_root(), work / "passes", dirs_exist_ok=True)
    env = dict(os.environ, COSTTUNE_CACHE=str(work / "cache"), COSTTUNE_PASSES_DIR=str(work / "passes"),
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    killed_db, fresh_db = str(work / "killed.db"), str(work / "fresh.db")
    for p in (killed_db, fresh_db):
        for suffix in ("", "-wal", "-shm"):
            Path(p + suffix).unlink(missing_ok=True)
    print(f"{len(programs)} programs x (4 references + {samples} samples) = {total} jobs, "
          f"{args.jobs} workers, kill at {kill_at} records; work dir {work}", file=sys.stderr)

    at_kill, killed_s = run_killed(collect_cmd(args, killed_db, samples, programs), killed_db, kill_at, env)
    resumed, resumed_s = run_full(collect_cmd(args, killed_db, samples, programs), env)
    fresh, fresh_s = run_full(collect_cmd(args, fresh_db, samples, programs), env)

    a, b = identity(killed_db), identity(fresh_db)
    facts = db_facts(killed_db)
    cold_rate = facts["records"] / (killed_s + resumed_s) * 60 / args.jobs
    warm_rate = fresh["written"] / fresh_s * 60 / args.jobs
    result = {
        "programs": len(programs), "samples_per_program": samples, "jobs_planned": total,
        "workers": args.jobs, "repeat": None if args.program_repeat else args.repeat,
        "records_at_kill": at_kill, "killed_run_s": round(killed_s, 1),
        "resumed_already_done": resumed["already_done"], "resumed_written": resumed["written"],
        "resumed_run_s": round(resumed_s, 1), "uninterrupted_run_s": round(fresh_s, 1),
        "records": facts["records"], "by_status": facts["by_status"], "claims_left": facts["claims_left"],
        "identical_record_sets": a == b, "records_uninterrupted": len(b),
        "only_in_resumed": len(a - b), "only_in_uninterrupted": len(b - a),
        "resumed_unplanned": resumed.get("unplanned"),
        "cands_per_min_per_worker_cold": round(cold_rate, 2),
        "cands_per_min_per_worker_warm_compile_cache": round(warm_rate, 2),
        "dedupe_reused": facts["reused"], "dedupe_share": round(facts["dedupe_share"], 4),
        "distinct_binaries": facts["distinct_binaries"],
    }
    rows = [
        ("jobs planned", total), ("records when killed", at_kill),
        ("resumed: already recorded / written", f"{resumed['already_done']} / {resumed['written']}"),
        ("records after resume", facts["records"]), ("claims left", facts["claims_left"]),
        ("same set as uninterrupted run", a == b),
        ("statuses", ", ".join(f"{k} {v}" for k, v in sorted(facts["by_status"].items()))),
        ("cand/min/worker, cold (kill+resume)", f"{cold_rate:.1f}"),
        ("cand/min/worker, warm compile cache", f"{warm_rate:.1f}"),
        ("dedupe: reused / built records", f"{facts['reused']} ({facts['dedupe_share'] * 100:.1f}%)"),
        ("distinct binaries", facts["distinct_binaries"]),
        ("wall s: killed / resumed / uninterrupted", f"{killed_s:.0f} / {resumed_s:.0f} / {fresh_s:.0f}"),
    ]
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    print(json.dumps(result, indent=2))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(result, indent=2))
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if a == b and facts["records"] == total else 1


if __name__ == "__main__":
    sys.exit(main())
