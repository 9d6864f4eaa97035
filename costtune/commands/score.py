"""costtune score --server HOST:PORT BENCH --passes P...: rank candidates with a running server."""

import argparse
import json

from costtune.serve import Client


def register(sub):
    p = sub.add_parser("score", help="ask a scoring server to rank pass pipelines of a benchmark",
                       description=("Ask a running scoring server to rank pass pipelines of a benchmark (lower cost = predicted\n"
                                    "faster)."),
                       epilog=("example:\n"
                               "  costtune score --server 127.0.0.1:50051 builtin/sha256 --passes O3 O2 Oz"),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--server", required=True, help="HOST:PORT of `costtune serve`")
    p.add_argument("bench", metavar="BENCH")
    p.add_argument("--passes", nargs="+", required=True, help="one pipeline per candidate")
    p.add_argument("--target", default="aarch64")
    p.add_argument("--timeout", type=float, default=120.0)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def run(args) -> int:
    from costtune.asm import program_functions
    from costtune.benchmarks import get_benchmark
    from costtune.compile import compile_benchmark
    from costtune.errors import CompileError

    bench = get_benchmark(args.bench)
    with Client(args.server, timeout=args.timeout, retries=1) as client:
        if client.health() != "SERVING":  # unreachable raises at once; a loading server is waited for
            client.wait_ready(args.timeout)
        info = client.model_info()
        funcs = []
        for p in args.passes:  # compile locally, send the code
            res = compile_benchmark(bench, p, args.target)
            if not res.ok:
                raise CompileError(f"{bench.id} [{p}]: {res.describe()}")
            funcs.append(program_functions(res.artifact, info.repr or "asm"))
        costs = client.score(functions=funcs, repr=info.repr)
    order = sorted(range(len(costs)), key=lambda i: costs[i])
    if args.json:
        print(json.dumps([{"rank": r + 1, "pipeline": args.passes[i], "cost": costs[i]} for r, i in enumerate(order)]))
    else:
        print(f"{bench.id}: ranked by {info.name} ({info.head}, {info.repr})")
        for r, i in enumerate(order):
            print(f"  {r + 1:>3}. cost {costs[i]:>10.4f}  {args.passes[i]}")
    return 0
