"""costtune serve --model DIR --port N: the gRPC scoring server."""

import argparse
import sys

from costtune.serve.server import ServerConfig, serve


def register(sub):
    p = sub.add_parser("serve", help="serve a cost model over gRPC (health, reflection, Stats)",
                       description=("Serve a cost model over gRPC (costtune.v1.CostModelService, health, reflection): load once,\n"
                                    "score many, with batching, a content-hash cache and request limits."),
                       epilog=("examples:\n"
                               "  costtune serve --model default --port 50051\n"
                               "  costtune serve --model runs/model --port 0 --suites builtin,cbench --allow-load\n"
                               "  costtune serve --model variant --device cuda   # for costtune search --server"),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="default", help="model directory ('default' or 'llm' = the shipped LLM model, which scores a lone candidate; 'variant' = the shipped function-variant "
                   "model, for costtune search --server)")
    p.add_argument("--port", type=int, default=50051, help="0 = any free port (printed on start)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--max-candidates", type=int, default=ServerConfig.max_candidates, help="per request")
    p.add_argument("--max-request-mb", type=float, default=ServerConfig.max_request_bytes / 2**20,
                   help="largest request message")
    p.add_argument("--max-batch", type=int, default=ServerConfig.max_batch, help="candidates per model call")
    p.add_argument("--batch-wait-ms", type=float, default=ServerConfig.batch_wait_ms)
    p.add_argument("--no-cache", action="store_true", help="score every candidate afresh (benchmarking)")
    p.add_argument("--cache-size", type=int, default=ServerConfig.cache_size)
    p.add_argument("--workers", type=int, default=ServerConfig.workers, help="gRPC handler threads")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--device", default="cpu", help="cpu | cuda | auto")
    p.add_argument("--allow-load", action="store_true",
                   help="let clients replace the served model by a model directory on this host (LoadModel; "
                        "what `costtune search --server ... --retrain-every N` uses)")
    p.add_argument("--suites", default=None,
                   help="comma list of the suites whose programs clients may name for pipeline candidates "
                        "(default: builtin, plus cbench where a cTuning checkout is configured)")
    p.add_argument("--cbench-root", default=None, help="cTuning checkout (default: COSTTUNE_CBENCH_ROOT)")
    p.set_defaults(func=run)


def _print(kind, **kw):
    if kind == "listening":
        print(f"costtune serve: listening on {kw['host']}:{kw['port']} (loading the model)", flush=True)
    elif kind == "serving":
        i = kw["info"]
        print(f"costtune serve: serving {i.get('name')} (head {i.get('head')}, repr {i.get('repr')}, "
              f"{i.get('parameters', 0):,} parameters, {i.get('device')})", flush=True)
    elif kind == "stopped":
        print("costtune serve: stopped", flush=True)
    sys.stdout.flush()


def run(args) -> int:
    import os

    from costtune.errors import ConfigError

    if args.suites is None:
        suites = ("builtin", "cbench") if args.cbench_root or os.environ.get("COSTTUNE_CBENCH_ROOT") else ("builtin",)
    else:
        suites = tuple(x.strip() for x in args.suites.split(",") if x.strip())
    try:
        cfg = ServerConfig(host=args.host, port=args.port, max_candidates=args.max_candidates,
                           max_request_bytes=int(args.max_request_mb * 2**20), max_batch=args.max_batch,
                           batch_wait_ms=args.batch_wait_ms, cache=not args.no_cache, cache_size=args.cache_size,
                           workers=args.workers, threads=args.threads, device=args.device,
                           allow_load=args.allow_load, suites=suites, cbench_root=args.cbench_root)
    except ValueError as e:
        raise ConfigError(f"serve: {e}") from None
    return serve(args.model, cfg, on_event=_print)
