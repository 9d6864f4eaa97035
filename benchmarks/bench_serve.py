"""Load benchmark of the gRPC scoring server (``costtune serve``), against a real server it starts.

    .venv/bin/python benchmarks/bench_serve.py --model DIR [--clients 4 --requests 25] [--json out.json]

Requests: each is one program's candidates (builtin programs x pipelines O0..Oz, compiled
here once, sent as per-function listings), the way an autotuner screens candidates.

1. overhead: the same requests scored (a) in-process by ``ServedModel.score`` (the
   CostModel the server wraps) and (b) through a ``costtune serve --no-cache`` server by
   one sequential client; the cache is cold in both (the in-process function cache is
   cleared before every call; ``--no-cache`` clears it before every model call and keeps
   no candidate cache); the two are interleaved request by request. Overhead = sum over requests of the median client wall time per
   request / the same for in-process - 1. Both use one torch thread.
2. load: ``--clients`` threads x ``--requests`` requests each against a caching server:
   throughput, p50/p99 client latency, the server's Stats (cache hit rate, batch sizes, RSS).
3. faults: 1000 bad requests (malformed bytes, too many candidates, too many bytes, empty,
   wrong repr, unknown model, two kinds of code) - each must get the expected status -
   then the good requests again: answers must equal the answers before the fault run.

Prints a table and writes JSON. The server is a subprocess (argv list, SIGTERM at the end).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import costtune.serve  # noqa: F401 - configures grpc before grpc is imported
import grpc

from costtune.serve import costtune_pb2 as pb
from costtune.serve import costtune_pb2_grpc as pb_grpc
from costtune.serve.client import Client

PROGRAMS = ("builtin/bitcount", "builtin/checksum", "builtin/sorting", "builtin/sha256")
PIPELINES = ("O0", "O1", "O2", "O3", "Os", "Oz")


def build_requests(programs) -> list[list[dict]]:
    from costtune.asm import program_functions
    from costtune.benchmarks import get_benchmark
    from costtune.compile import compile_benchmark

    reqs = []
    for prog in programs:
        bench = get_benchmark(prog)
        cands = []
        for p in PIPELINES:
            res = compile_benchmark(bench, p)
            if res.ok:
                cands.append(program_functions(res.artifact))
        reqs.append(cands)
    return reqs


def to_pb(cands, **kw) -> pb.ScoreRequest:
    return pb.ScoreRequest(candidates=[pb.Candidate(id=str(i), functions=[pb.Function(name=k, text=v)
                                                                          for k, v in c.items()])
                                       for i, c in enumerate(cands)], **kw)


class Server:
    def __init__(self, model: str, *extra: str):
        self.proc = subprocess.Popen([sys.executable, "-m", "costtune", "serve", "--model", model, "--port", "0",
                                      "--threads", "1", *extra], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True, start_new_session=True)
        line = self.proc.stdout.readline()
        if "listening on" not in line:
            self.proc.kill()
            raise SystemExit(f"server did not start: {line!r}")
        self.addr = line.split("listening on ")[1].split()[0]
        with Client(self.addr, timeout=30) as c:
            c.wait_ready(300)

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return -9


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q / 100 * (len(xs) - 1))))]


def overhead(model_dir, reqs, reps) -> dict:
    from costtune.serve.adapter import ServedModel

    m = ServedModel.load(model_dir, threads=1)
    srv = Server(model_dir, "--no-cache")
    inproc, served = [[] for _ in reqs], [[] for _ in reqs]
    try:  # interleaved, so that the load of this shared machine hits both sides alike
        ch = grpc.insecure_channel(srv.addr)
        stub = pb_grpc.CostModelServiceStub(ch)
        msgs = [to_pb(r) for r in reqs]
        stub.Score(msgs[0])  # warm the channel and the server
        m.score(reqs[0])
        for _ in range(reps):
            for i, (r, msg) in enumerate(zip(reqs, msgs)):
                m.clear_cache()
                t = time.perf_counter()
                m.score(r)
                inproc[i].append(time.perf_counter() - t)
                t = time.perf_counter()
                stub.Score(msg, timeout=120)
                served[i].append(time.perf_counter() - t)
        ch.close()
    finally:
        rc = srv.stop()
    del m
    a = sum(statistics.median(x) for x in inproc)
    b = sum(statistics.median(x) for x in served)
    return {"reps": reps, "inproc_ms_per_request": 1000 * a / len(reqs), "server_ms_per_request": 1000 * b / len(reqs),
            "overhead_pct": 100 * (b / a - 1), "sigterm_exit_code": rc,
            "per_request_ms": [{"inproc": 1000 * statistics.median(x), "server": 1000 * statistics.median(y)}
                               for x, y in zip(inproc, served)]}


def load_run(srv, reqs, clients, per_client, seed=0) -> dict:
    msgs = [to_pb(r) for r in reqs]
    lat, errors = [], []
    lock = threading.Lock()

    def client(k):
        rng = random.Random(seed + k)
        ch = grpc.insecure_channel(srv.addr)
        stub = pb_grpc.CostModelServiceStub(ch)
        for _ in range(per_client):
            msg = msgs[rng.randrange(len(msgs))]
            t = time.perf_counter()
            try:
                stub.Score(msg, timeout=300)
                with lock:
                    lat.append(time.perf_counter() - t)
            except grpc.RpcError as e:
                with lock:
                    errors.append(e.code().name)
        ch.close()

    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as ex:
        list(ex.map(client, range(clients)))
    wall = time.perf_counter() - t0
    with Client(srv.addr) as c:
        st = c.stats()
    return {"clients": clients, "requests": clients * per_client, "errors": len(errors), "wall_s": wall,
            "throughput_rps": len(lat) / wall, "candidates_per_s": len(lat) * len(msgs[0].candidates) / wall,
            "p50_ms": 1000 * pct(lat, 50), "p99_ms": 1000 * pct(lat, 99),
            "cache_hit_rate": st.cache_hits / max(1, st.cache_hits + st.cache_misses),
            "function_cache_hit_rate": st.function_cache_hits / max(1, st.function_cache_hits + st.function_cache_misses),
            "batches": st.batches, "mean_batch_size": st.mean_batch_size, "max_batch_size": st.max_batch_size,
            "server_p50_ms": st.p50_latency_ms, "server_p99_ms": st.p99_latency_ms,
            "server_rss_mb": st.rss_bytes / 2**20}


def fault_run(srv, reqs, before, n=1000, max_candidates=64, max_mb=1) -> dict:
    ch = grpc.insecure_channel(srv.addr)
    stub = pb_grpc.CostModelServiceStub(ch)
    raw = ch.unary_unary("/costtune.v1.CostModelService/Score", request_serializer=None, response_deserializer=None)
    S = grpc.StatusCode
    small = pb.Candidate(text="f:\n ret\n")
    kinds = [
        ("malformed", lambda: raw(b"\x0a\xff\xff\xff\xff\x0f", timeout=30), S.INVALID_ARGUMENT),
        ("too many candidates", lambda: stub.Score(pb.ScoreRequest(candidates=[small] * (max_candidates + 1)),
                                                   timeout=30), S.RESOURCE_EXHAUSTED),
        ("too many bytes", lambda: stub.Score(pb.ScoreRequest(candidates=[pb.Candidate(
            text="f:\n" + " add x0, x0, x1\n" * int(max_mb * 2**20 / 15))]), timeout=30), S.RESOURCE_EXHAUSTED),
        ("empty", lambda: stub.Score(pb.ScoreRequest(), timeout=30), S.INVALID_ARGUMENT),
        ("wrong repr", lambda: stub.Score(pb.ScoreRequest(repr="ir", candidates=[small]), timeout=30), S.INVALID_ARGUMENT),
        ("unknown model", lambda: stub.Score(pb.ScoreRequest(model="nope", candidates=[small]), timeout=30), S.NOT_FOUND),
        ("two kinds", lambda: stub.Rank(pb.ScoreRequest(candidates=[pb.Candidate(text="x", pipeline="O3")]),
                                        timeout=30), S.INVALID_ARGUMENT),
    ]
    counts: dict[str, dict] = {k: {"sent": 0, "expected_status": 0} for k, _, _ in kinds}

    def one(i):
        name, call, code = kinds[i % len(kinds)]
        try:
            call()
            got = "OK"
        except grpc.RpcError as e:
            got = e.code()
        return name, got == code

    t0 = time.perf_counter()
    with ThreadPoolExecutor(4) as ex:
        for name, ok in ex.map(one, range(n)):
            counts[name]["sent"] += 1
            counts[name]["expected_status"] += ok
    wall = time.perf_counter() - t0
    after = [list(stub.Score(to_pb(r), timeout=120).costs) for r in reqs]
    ch.close()
    with Client(srv.addr) as c:
        health = c.health()
    return {"bad_requests": n, "wall_s": wall, "by_kind": counts,
            "all_expected": all(v["sent"] == v["expected_status"] for v in counts.values()),
            "good_after_equal": after == before, "health_after": health}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, help="model directory (e.g. costtune/data/default_model)")
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--requests", type=int, default=25, help="per client")
    ap.add_argument("--reps", type=int, default=5, help="overhead: repetitions of each cold request")
    ap.add_argument("--faults", type=int, default=1000)
    ap.add_argument("--json", default="bench_serve.json")
    args = ap.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    t = time.perf_counter()
    reqs = build_requests(PROGRAMS)
    out = {"model": args.model, "programs": list(PROGRAMS), "pipelines": list(PIPELINES),
           "candidates_per_request": [len(r) for r in reqs], "compile_s": time.perf_counter() - t}
    out["overhead"] = overhead(args.model, reqs, args.reps)
    srv = Server(args.model, "--max-candidates", "64", "--max-request-mb", "1")
    try:
        before = [list(Client(srv.addr).score(functions=r)) for r in reqs]
        out["load"] = load_run(srv, reqs, args.clients, args.requests)
        out["faults"] = fault_run(srv, reqs, before, args.faults)
    finally:
        out["sigterm_exit_code"] = srv.stop()

    o, ld, f = out["overhead"], out["load"], out["faults"]
    rows = [
        ("requests (programs x candidates)", f"{len(reqs)} x {out['candidates_per_request']}"),
        ("in-process, cold (ms/request)", f"{o['inproc_ms_per_request']:.1f}"),
        ("server, cold, 1 client (ms/request)", f"{o['server_ms_per_request']:.1f}"),
        ("overhead vs in-process", f"{o['overhead_pct']:+.1f}%  (target <= 5%)"),
        (f"load: {ld['clients']} clients x {args.requests} req", f"{ld['requests']} requests, {ld['errors']} errors"),
        ("throughput", f"{ld['throughput_rps']:.1f} req/s ({ld['candidates_per_s']:.0f} candidates/s)"),
        ("latency p50 / p99 (client)", f"{ld['p50_ms']:.1f} / {ld['p99_ms']:.1f} ms"),
        ("latency p50 / p99 (server)", f"{ld['server_p50_ms']:.1f} / {ld['server_p99_ms']:.1f} ms"),
        ("cache hit rate (candidates / functions)",
         f"{100 * ld['cache_hit_rate']:.1f}% / {100 * ld['function_cache_hit_rate']:.1f}%"),
        ("batches, mean / max batch size", f"{ld['batches']}, {ld['mean_batch_size']:.1f} / {ld['max_batch_size']}"),
        ("server RSS", f"{ld['server_rss_mb']:.0f} MB"),
        ("fault run", f"{f['bad_requests']} bad requests in {f['wall_s']:.1f}s, expected status: {f['all_expected']}"),
        ("good requests after faults", f"equal: {f['good_after_equal']}, health {f['health_after']}"),
        ("SIGTERM exit codes", f"{o['sigterm_exit_code']}, {out['sigterm_exit_code']}"),
    ]
    w = max(len(a) for a, _ in rows)
    for a, b in rows:
        print(f"{a:<{w}}  {b}")
    with open(args.json, "w") as fh:
        json.dump(out, fh, indent=2)
    print(f"wrote {args.json}")
    return 0 if f["all_expected"] and f["good_after_equal"] else 1


if __name__ == "__main__":
    sys.exit(main())
