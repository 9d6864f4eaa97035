"""Fuzz benchmark of the gRPC scoring server: malformed and hostile requests against a real server.

    .venv/bin/python benchmarks/bench_fuzz_serve.py [--model default] [--n 5000] [--out results.json]

Starts ``costtune serve --no-cache --allow-load --threads 1`` (a subprocess on loopback; no cache, so every
good request costs real model time), then:

1. idle: one client sends ``--good`` small good requests (one real builtin program's listings, made
   distinct per request) one after another: its p50/p99 latency;
2. attack: ``--attackers`` processes (default 1: one hostile client beside the good one) send ``--n``
   bad requests of every kind below, round robin, while the good client runs again: per kind, how many
   got the status the kind must get, and the good client's p50/p99 under attack (target: p99 within
   2x of idle). On a host with few cores, more attackers measure the share of the CPU each process
   gets rather than the server: on 2 cores, 2 attackers, the server and the good client are 4 busy
   processes, and the good client's p50 rises as much as its p99;
3. the server's RSS (VmRSS of its process) before and after, and whether it still answers the good
   request with the same costs.

Kinds (expected status): malformed bytes, empty request, two kinds of code in one candidate, duplicate
function names (INVALID_ARGUMENT); too many candidates, a 100 KB pipeline, 20,000 passes, a 5 MB listing,
a 100 KB candidate id (RESOURCE_EXHAUSTED); a pipeline nested 1,000 deep, a 300-character benchmark name,
target x86_64 and ../../../etc, an unknown repr, a deeply nested JSON Compare prompt, LoadModel of a model
directory whose costtune_model.json is a list (INVALID_ARGUMENT); /proc/self/cwd, /proc/self, a directory
with a bench.yaml on the server's disk, csmith/csmith-999999999, builtin/../../etc, an unknown model name
(NOT_FOUND); a 1,000-candidate request with a 0.3 s deadline (DEADLINE_EXCEEDED: its work is dropped).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import costtune.serve  # noqa: F401 - configures grpc before grpc is imported
import grpc

from costtune.serve import costtune_pb2 as pb
from costtune.serve import costtune_pb2_grpc as pb_grpc
from costtune.serve.client import Client
from costtune.serve.server import SERVICE

S = grpc.StatusCode


def _cands(p):
    return [pb.Candidate(pipeline=p)]


def kinds(scratch: Path) -> dict:
    """name -> (method, request or raw bytes, timeout, {acceptable status codes})."""
    own = scratch / "own"
    own.mkdir(exist_ok=True)
    (own / "bench.yaml").write_text("name: own\nsources: [m.c]\n")
    (own / "m.c").write_text("int main(void){return 0;}\n")
    listy = scratch / "listmodel"
    listy.mkdir(exist_ok=True)
    (listy / "costtune_model.json").write_text("[1, 2]")
    b = "builtin/bitcount"
    txt = "f:\n ret\n"
    return {
        "malformed bytes": ("Score", b"\x0a\xff\xff\xff\xff\x0f", 30, {S.INVALID_ARGUMENT}),
        "empty request": ("Score", pb.ScoreRequest(), 30, {S.INVALID_ARGUMENT}),
        "two kinds": ("Score", pb.ScoreRequest(candidates=[pb.Candidate(text=txt, pipeline="O3")]), 30,
                      {S.INVALID_ARGUMENT}),
        "duplicate functions": ("Score", pb.ScoreRequest(candidates=[pb.Candidate(functions=[
            pb.Function(name="f", text=txt), pb.Function(name="f", text=txt)])]), 30, {S.INVALID_ARGUMENT}),
        "1025 candidates": ("Score", pb.ScoreRequest(candidates=[pb.Candidate(text=txt)] * 1025), 30,
                            {S.RESOURCE_EXHAUSTED}),
        "100 KB pipeline": ("Score", pb.ScoreRequest(benchmark=b, candidates=_cands(
            "function(" + ",".join(["sroa"] * 20000) + ")")), 30, {S.RESOURCE_EXHAUSTED}),
        "20000 passes": ("Score", pb.ScoreRequest(benchmark=b, candidates=_cands(",".join(["gvn"] * 20000))), 30,
                         {S.RESOURCE_EXHAUSTED}),
        "5 MB listing": ("Score", pb.ScoreRequest(candidates=[pb.Candidate(text="f:\n" + " ret\n" * 1_250_000)]),
                         30, {S.RESOURCE_EXHAUSTED}),
        "100 KB id": ("Score", pb.ScoreRequest(candidates=[pb.Candidate(id="i" * 100_000, text=txt)]), 30,
                      {S.RESOURCE_EXHAUSTED}),
        "nested 1000": ("Score", pb.ScoreRequest(benchmark=b, candidates=_cands(
            "function(" * 1000 + "gvn" + ")" * 1000)), 30, {S.INVALID_ARGUMENT}),
        "300-char name": ("Score", pb.ScoreRequest(benchmark="builtin/" + "x" * 300, candidates=_cands("O3")), 30,
                          {S.INVALID_ARGUMENT}),
        "target x86_64": ("Score", pb.ScoreRequest(benchmark=b, target="x86_64", candidates=_cands("O3")), 30,
                          {S.INVALID_ARGUMENT}),
        "target ../../../etc": ("Score", pb.ScoreRequest(benchmark=b, target="../../../etc",
                                                         candidates=_cands("O3")), 30, {S.INVALID_ARGUMENT}),
        "unknown repr": ("Score", pb.ScoreRequest(repr="bytes", candidates=[pb.Candidate(text=txt)]), 30,
                         {S.INVALID_ARGUMENT}),
        "nested Compare prompt": ("Compare", pb.CompareRequest(prompt='{"a":' * 50_000 + "1" + "}" * 50_000), 30,
                                  {S.INVALID_ARGUMENT}),
        "LoadModel list config": ("LoadModel", pb.LoadModelRequest(path=str(listy)), 30,
                                  {S.INVALID_ARGUMENT, S.ABORTED}),
        "/proc/self/cwd": ("Score", pb.ScoreRequest(benchmark="/proc/self/cwd", candidates=_cands("O3")), 30,
                           {S.NOT_FOUND}),
        "/proc/self": ("Score", pb.ScoreRequest(benchmark="/proc/self", candidates=_cands("O3")), 30, {S.NOT_FOUND}),
        "dir on server disk": ("Score", pb.ScoreRequest(benchmark=str(own), candidates=_cands("O3")), 30,
                               {S.NOT_FOUND}),
        "csmith on request": ("Score", pb.ScoreRequest(benchmark="csmith/csmith-999999999",
                                                       candidates=_cands("O3")), 30, {S.NOT_FOUND}),
        "path traversal": ("Score", pb.ScoreRequest(benchmark="builtin/../../etc", candidates=_cands("O3")), 30,
                           {S.NOT_FOUND}),
        "unknown model": ("Score", pb.ScoreRequest(model="m" * 1000, candidates=[pb.Candidate(text=txt)]), 30,
                          {S.NOT_FOUND}),
        "1000 candidates, 0.3 s deadline": ("Score", pb.ScoreRequest(candidates=[
            pb.Candidate(text=f"f{i}:\n add x0, x0, #{i}\n ret\n") for i in range(1000)]), 0.3,
            {S.DEADLINE_EXCEEDED}),
    }


def _attacker(addr: str, scratch: str, names: list, out_q) -> None:
    table = kinds(Path(scratch))
    ch = grpc.insecure_channel(addr, options=[("grpc.max_send_message_length", 64 << 20),
                                              ("grpc.max_receive_message_length", 64 << 20)])
    calls = {m: ch.unary_unary(f"/{SERVICE}/{m}", request_serializer=None, response_deserializer=None)
             for m in ("Score", "Compare", "LoadModel")}
    raw = {k: (v[0], v[1] if isinstance(v[1], bytes) else v[1].SerializeToString(), v[2], v[3])
           for k, v in table.items()}
    counts: dict = {}
    longest = 0
    for name in names:
        method, data, timeout, want = raw[name]
        sent, right, detail_max = counts.setdefault(name, [0, 0, 0])
        try:
            calls[method](data, timeout=timeout)
            code, details = S.OK, ""
        except grpc.RpcError as e:
            code, details = e.code(), e.details() or ""
        longest = max(longest, len(details))
        counts[name] = [sent + 1, right + (code in want), max(detail_max, len(details))]
        if code not in want and counts[name][0] - counts[name][1] <= 2:
            print(f"  {name}: got {code.name} {details[:120]!r}", file=sys.stderr)
    ch.close()
    out_q.put(counts)


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _good_request(i: int, functions: dict) -> pb.ScoreRequest:
    fns = dict(functions)
    first = next(iter(fns))
    fns[first] = fns[first] + f"\n mov x9, #{i}\n"  # distinct per request: real model work every time
    return pb.ScoreRequest(candidates=[pb.Candidate(id="g", functions=[pb.Function(name=k, text=v)
                                                                       for k, v in fns.items()])])


def _latencies(addr: str, functions: dict, n: int, start: int, stop_when=None) -> list[float]:
    lat = []
    ch = grpc.insecure_channel(addr)
    stub = pb_grpc.CostModelServiceStub(ch)
    i = 0
    while (i < n) if stop_when is None else not stop_when():
        req = _good_request(start + i, functions)
        t = time.perf_counter()
        stub.Score(req, timeout=120)
        lat.append((time.perf_counter() - t) * 1000)
        i += 1
    ch.close()
    return lat


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q / 100 * (len(xs) - 1))))] if xs else 0.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="default")
    ap.add_argument("--n", type=int, default=5000, help="bad requests in all")
    ap.add_argument("--attackers", type=int, default=1, help="processes sending bad requests")
    ap.add_argument("--good", type=int, default=100, help="good requests on the idle server")
    ap.add_argument("--program", default="builtin/bitcount")
    ap.add_argument("--out", default="", help="JSON results here")
    args = ap.parse_args()

    from costtune.asm import program_functions
    from costtune.benchmarks import get_benchmark
    from costtune.compile import compile_benchmark

    res = compile_benchmark(get_benchmark(args.program), "O3")
    functions = program_functions(res.artifact, "asm")
    proc = subprocess.Popen([sys.executable, "-m", "costtune", "serve", "--model", args.model, "--port", "0",
                             "--threads", "1", "--no-cache", "--allow-load"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    try:
        line = proc.stdout.readline()
        if "listening on" not in line:
            raise SystemExit(f"server did not start: {line!r}")
        addr = line.split("listening on ")[1].split()[0]
        with Client(addr, timeout=30) as c:
            c.wait_ready(300)
            baseline_costs = c.score(functions=[functions])
        _latencies(addr, functions, 5, 10**6)  # warm
        rss_before = _rss_mb(proc.pid)
        idle = _latencies(addr, functions, args.good, 0)

        with tempfile.TemporaryDirectory(prefix="costtune-fuzz-") as scratch:
            names = list(kinds(Path(scratch)))
            # round robin over the kinds; the heavy-bandwidth kinds (5 MB listing) are included like the rest
            order = [names[i % len(names)] for i in range(args.n)]
            ctx = multiprocessing.get_context("spawn")
            q = ctx.Queue()
            procs = [ctx.Process(target=_attacker, args=(addr, scratch, order[a::args.attackers], q))
                     for a in range(args.attackers)]
            t0 = time.perf_counter()
            for p in procs:
                p.start()
            busy = _latencies(addr, functions, 0, 2 * 10**6, stop_when=lambda: not any(p.is_alive() for p in procs))
            results = [q.get(timeout=600) for _ in procs]
            for p in procs:
                p.join(60)
            attack_s = time.perf_counter() - t0
        time.sleep(1.0)
        rss_after = _rss_mb(proc.pid)
        with Client(addr, timeout=30) as c:
            after_costs = c.score(functions=[functions])
            health = c.health()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()

    table = {}
    for r in results:
        for name, (sent, right, dmax) in r.items():
            t = table.setdefault(name, {"sent": 0, "right": 0, "longest_message": 0})
            t["sent"] += sent
            t["right"] += right
            t["longest_message"] = max(t["longest_message"], dmax)
    sent = sum(t["sent"] for t in table.values())
    right = sum(t["right"] for t in table.values())
    width = max(map(len, table)) + 2
    print(f"{'kind':<{width}}{'sent':>7}{'right':>7}{'max msg':>9}")
    for name, t in table.items():
        print(f"{name:<{width}}{t['sent']:>7}{t['right']:>7}{t['longest_message']:>9}")
    print(f"{'all':<{width}}{sent:>7}{right:>7}")
    print(f"server RSS {rss_before:.0f} MB before, {rss_after:.0f} MB after; health {health}; "
          f"same costs after: {after_costs == baseline_costs}")
    print(f"good requests p50/p99: idle {pct(idle, 50):.1f}/{pct(idle, 99):.1f} ms ({len(idle)}), under attack "
          f"{pct(busy, 50):.1f}/{pct(busy, 99):.1f} ms ({len(busy)}); ratio p99 {pct(busy, 99) / pct(idle, 99):.2f}x")
    out = {"bad_requests": sent, "right_status": right, "attack_seconds": round(attack_s, 1),
           "attackers": args.attackers, "kinds": table,
           "server_rss_mb": {"before": round(rss_before, 1), "after": round(rss_after, 1)},
           "good_latency_ms": {"idle": {"n": len(idle), "p50": round(pct(idle, 50), 2), "p99": round(pct(idle, 99), 2)},
                               "under_attack": {"n": len(busy), "p50": round(pct(busy, 50), 2),
                                                "p99": round(pct(busy, 99), 2)}},
           "p99_ratio": round(pct(busy, 99) / pct(idle, 99), 3), "health_after": health,
           "same_costs_after": after_costs == baseline_costs, "model": args.model, "program": args.program,
           "host_cpus": os.cpu_count()}
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    return 0 if right == sent and out["same_costs_after"] else 1


if __name__ == "__main__":
    sys.exit(main())
