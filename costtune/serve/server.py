"""The gRPC scoring server.

Loads the model once (health is NOT_SERVING until it has), gathers concurrent
requests into batches for the model, caches costs by content hash, enforces
request limits, answers ``Stats``, and stops gracefully on SIGTERM/SIGINT.

The model is a :class:`costtune.serve.adapter.ServedModel` (a function-variant model:
:class:`~costtune.serve.adapter.ServedVariantModel`, which answers ``PredictVariants`` only) or anything with the
same surface: ``score(items) -> list[float]`` where an item is a listing (str) or
a ``{function: listing}`` mapping; ``batchable`` (may candidates of different
requests share one ``score`` call); ``info()`` (name, head, repr, base, version,
parameters, device); ``compare(code1, code2, prompt=None)``; ``clear_cache()``.

Errors: a malformed message (bytes that do not parse), an empty or inconsistent
request, an unknown representation or target, a pipeline nested too deep -> INVALID_ARGUMENT;
more candidates than ``max_candidates``, a message over ``max_request_bytes``, a field
over its limit (:data:`LIMITS`: what a real candidate needs) -> RESOURCE_EXHAUSTED;
a model name other than the one loaded, a benchmark outside the suites the server
was started with -> NOT_FOUND; a candidate pipeline that does not compile ->
FAILED_PRECONDITION. Messages are short and never echo a large input. None of these
stops the server.

Work is bounded: the batcher serves queued requests round robin, ``max_batch``
candidates (and ``max_batch_bytes`` of text) per model call, so one large request
does not hold the model while others wait; a request whose client has gone (deadline
passed, cancelled) is dropped from the queue and its compiles stop.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import threading
import time
from collections import deque
from concurrent import futures
from dataclasses import dataclass
from typing import Callable

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from costtune.errors import CostTuneError
from costtune.logging import get_logger
from costtune.serve import costtune_pb2 as pb
from costtune.serve.errors import code_for

log = get_logger(__name__)
SERVICE = pb.DESCRIPTOR.services_by_name["CostModelService"].full_name
REPRS = ("asm", "ir")
#: suites a server may be started with (never a directory path a client could name, nor csmith)
SERVABLE_SUITES = ("builtin", "cbench", "codelets", "polybench", "testsuite")
#: per-field limits, set from what a real candidate needs: an O3 pipeline with edits is a few KB and
#: ~100 passes nested 4 deep; a whole cBench program's listing (jpeg, 34k instructions) under 2 MB
LIMITS = {"pipeline_chars": 64 << 10, "pipeline_passes": 2000, "pipeline_depth": 32, "benchmark_chars": 128,
          "listing_bytes": 4 << 20, "functions": 20_000, "function_name_chars": 1024, "short_field_chars": 256}
_BENCH_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]*(/[A-Za-z0-9_][A-Za-z0-9_.+-]*)*\Z")


def _short(text: str, n: int = 60) -> str:
    """``text`` as a message may quote it: at most ``n`` characters, printable."""
    text = str(text)
    cut = text[:n].encode("ascii", "backslashreplace").decode()
    return repr(cut + ("..." if len(text) > n else ""))


def _depth(pipeline: str) -> int:
    deepest = level = 0
    for ch in pipeline:
        if ch in "(<":
            level += 1
            deepest = max(deepest, level)
        elif ch in ")>":
            level -= 1
    return deepest


@dataclass
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 50051  #: 0 = pick a free port
    max_candidates: int = 1024  #: per request; more -> RESOURCE_EXHAUSTED
    max_request_bytes: int = 32 << 20  #: gRPC receive limit; larger -> RESOURCE_EXHAUSTED
    max_batch: int = 64  #: candidates per model call (rank head; pairwise-sft scores one request per call)
    batch_wait_ms: float = 2.0  #: how long the batcher waits for more requests once one is queued
    cache: bool = True  #: False: no candidate cache, and the model's function cache is cleared per call
    cache_size: int = 100_000  #: cached candidate costs (LRU, by content hash)
    workers: int = 16  #: gRPC handler threads
    target: str = "aarch64"  #: compile target for candidates given as pipelines
    threads: int | None = None  #: torch CPU threads (None = torch's default)
    device: str = "cpu"
    allow_load: bool = False  #: accept LoadModel (a client names a model directory on this host to serve instead)
    suites: tuple = ("builtin",)  #: the only suites whose programs a client may name (pipelines are compiled on them)
    cbench_root: str | None = None  #: for the cTuning suites (else COSTTUNE_CBENCH_ROOT)
    testsuite_root: str | None = None
    max_batch_bytes: int = 1 << 20  #: listing bytes per model call (a larger candidate goes alone)

    def __post_init__(self):
        if self.max_candidates < 1 or self.max_batch < 1 or self.max_request_bytes < 1024:
            raise ValueError("max_candidates and max_batch must be >= 1, max_request_bytes >= 1024")
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port {self.port} is not a TCP port (0-65535; 0 = any free port)")
        self.suites = tuple(self.suites)
        bad = [x for x in self.suites if x not in SERVABLE_SUITES]
        if bad:
            raise ValueError(f"cannot serve suite {_short(bad[0])} (choose from {', '.join(SERVABLE_SUITES)})")


def content_key(item, repr_: str) -> str:
    h = hashlib.sha256(repr_.encode())
    if isinstance(item, dict):
        h.update(b"\0functions\0" + json.dumps(list(item.items())).encode())
    else:
        h.update(b"\0text\0" + item.encode("utf-8", "surrogatepass"))
    return h.hexdigest()


class _Malformed:
    """Stands for a message that did not parse (answered with INVALID_ARGUMENT by the handler)."""

    def __init__(self, kind: str, err: Exception):
        self.message = f"malformed {kind}: {type(err).__name__}: {str(err)[:200]}"


def _parser(cls):
    def parse(data: bytes):
        try:
            return cls.FromString(data)
        except Exception as e:  # noqa: BLE001 - DecodeError and friends
            return _Malformed(cls.DESCRIPTOR.full_name, e)

    return parse


class _Job:
    """One request's items in the batcher: scored in slices, dropped when its client has gone."""

    def __init__(self, items: list, context=None):
        self.items, self.context = items, context
        self.fut: futures.Future = futures.Future()
        self.costs: list = [None] * len(items)
        self.next = 0  #: first item not yet sent to the model
        self.left = len(items)  #: items without a cost yet

    def gone(self) -> bool:
        return self.fut.done() or (self.context is not None and not self.context.is_active())


def _size(item) -> int:
    if isinstance(item, tuple):  # a variant pair: (reference tokens, new variant tokens)
        return sum(len(t) + 1 for side in item for t in side)
    return sum(map(len, item.values())) if isinstance(item, dict) else len(item)


class _Batcher:
    """One thread that owns the model: gathers jobs (one per request) into model calls.

    For a batchable model, slices of the queued jobs are concatenated up to ``max_batch``
    items and ``max_batch_bytes`` of text, taking jobs round robin (a job with more left
    goes back to the end of the queue), so a large request shares the model with small
    ones instead of holding it. A non-batchable model scores one whole job per call. A job
    whose client has gone is dropped. When a combined call fails, its slices are retried
    one by one, so one request's bad input cannot fail another's.
    """

    def __init__(self, model, max_batch: int, wait_s: float, clear_each: bool, max_batch_bytes: int = 1 << 20):
        self.model, self.max_batch, self.wait_s, self.clear_each = model, max_batch, wait_s, clear_each
        self.max_batch_bytes = max_batch_bytes
        self.dropped = 0
        self.batchable = bool(getattr(model, "batchable", True))
        self.cv = threading.Condition()
        self.pending: deque = deque()  # (items, Future)
        self.batches = 0
        self.batch_items = 0
        self.max_seen = 0
        self.stopped = False
        self.thread = threading.Thread(target=self._loop, name="costtune-batcher", daemon=True)
        self.thread.start()

    def submit(self, items: list, context=None) -> futures.Future:
        job = _Job(items, context)
        with self.cv:
            if self.stopped:
                raise CostTuneError("server is shutting down")
            self.pending.append(job)
            self.cv.notify()
        return job.fut

    def stop(self) -> None:
        with self.cv:
            self.stopped = True
            self.cv.notify()
        self.thread.join(timeout=30)

    def _take(self) -> list:
        """(job, start, end) slices for one model call (under the lock)."""
        parts: list = []
        n = size = 0
        while self.pending:
            job = self.pending[0]
            if job.gone():
                self.pending.popleft()
                self.dropped += 1
                if not job.fut.done():
                    job.fut.set_exception(CostTuneError("the client has gone (deadline passed or cancelled)"))
                continue
            if not self.batchable:
                if parts:
                    break
                self.pending.popleft()
                job.next = len(job.items)
                return [(job, 0, len(job.items))]
            start = end = job.next
            while (end < len(job.items) and n < self.max_batch
                   and (n == 0 or size + _size(job.items[end]) <= self.max_batch_bytes)):
                size += _size(job.items[end])
                n += 1
                end += 1
            if end == start:
                break
            parts.append((job, start, end))
            job.next = end
            self.pending.popleft()
            if end < len(job.items):
                self.pending.append(job)  # round robin: the rest waits behind the others
                break
        return parts

    def _loop(self) -> None:
        while True:
            with self.cv:
                while not self.pending and not self.stopped:
                    self.cv.wait()
                if self.stopped and not self.pending:
                    return
                if self.batchable:
                    deadline = time.monotonic() + self.wait_s
                    while sum(len(j.items) - j.next for j in self.pending) < self.max_batch and not self.stopped:
                        left = deadline - time.monotonic()
                        if left <= 0:
                            break
                        self.cv.wait(left)
                parts = self._take()
            if parts:
                self._run(parts)

    def _call(self, items: list) -> list[float]:
        if self.clear_each and hasattr(self.model, "clear_cache"):
            self.model.clear_cache()
        self.batches += 1
        self.batch_items += len(items)
        self.max_seen = max(self.max_seen, len(items))
        costs = self.model.score(items)
        if len(costs) != len(items):
            raise CostTuneError(f"model returned {len(costs)} costs for {len(items)} candidates")
        return costs

    def _run(self, parts: list) -> None:
        parts = [p for p in parts if not p[0].fut.done()]
        if not parts:
            return
        try:
            costs = self._call([it for job, a, b in parts for it in job.items[a:b]])
        except Exception as e:  # noqa: BLE001 - reported to the requests, the server goes on
            if len(parts) > 1:
                for part in parts:
                    self._run([part])
                return
            log.warning("model call failed: %s: %s", type(e).__name__, str(e)[:200])
            if not parts[0][0].fut.done():
                parts[0][0].fut.set_exception(e)
            return
        at = 0
        for job, a, b in parts:
            job.costs[a:b] = [float(c) for c in costs[at:at + b - a]]
            at += b - a
            job.left -= b - a
            if job.left == 0 and not job.fut.done():
                job.fut.set_result(job.costs)


class _LRU:
    """A thread-safe LRU of candidate costs (cachetools' LRUCache under a lock)."""

    def __init__(self, size: int):
        from cachetools import LRUCache

        self.data, self.lock = LRUCache(maxsize=max(0, size)), threading.Lock()

    def get(self, key):
        with self.lock:
            return self.data.get(key)

    def put(self, key, value) -> None:
        with self.lock:
            if self.data.maxsize:  # a cache of size 0 keeps nothing
                self.data[key] = value

    def __len__(self) -> int:
        return len(self.data)


class ScoringService:
    """The CostModelService handlers (registered with :meth:`handler`)."""

    def __init__(self, config: ServerConfig):
        self.config = config
        self.model = None
        self.info: dict = {}
        self.batcher: _Batcher | None = None
        self.cache = _LRU(config.cache_size)
        self.lock = threading.Lock()
        self.started = time.monotonic()
        self.counters = {"requests": 0, "candidates": 0, "errors": 0, "cache_hits": 0, "cache_misses": 0}
        self.latencies: deque = deque(maxlen=20_000)
        self.load_lock = threading.Lock()  #: one LoadModel at a time; a second is refused (ABORTED)
        self.suites: dict = {}  #: name -> Suite, the only programs a request may name
        for name in config.suites:
            from costtune.benchmarks import get_suite

            self.suites[name] = get_suite(name, cbench_root=config.cbench_root, testsuite_root=config.testsuite_root)

    # -- life cycle -------------------------------------------------------
    def set_model(self, model) -> None:
        """Serve ``model``; a model served before is replaced at once (its queued requests finish on it)."""
        batcher = _Batcher(model, self.config.max_batch, self.config.batch_wait_ms / 1000,
                           clear_each=not self.config.cache, max_batch_bytes=self.config.max_batch_bytes)
        with self.lock:
            old = self.batcher
            self.info = dict(model.info()) if hasattr(model, "info") else {}
            self.batcher, self.model = batcher, model
            self.cache = _LRU(self.config.cache_size)  # costs of the old model
        if old is not None:
            old.stop()

    def stop(self) -> None:
        if self.batcher:
            self.batcher.stop()

    def handler(self) -> grpc.GenericRpcHandler:
        """Method handlers that parse requests themselves, so malformed bytes get INVALID_ARGUMENT."""
        uu, ss = grpc.unary_unary_rpc_method_handler, grpc.stream_stream_rpc_method_handler
        ser = lambda cls: cls.SerializeToString  # noqa: E731
        return grpc.method_handlers_generic_handler(SERVICE, {
            "Score": uu(self.Score, _parser(pb.ScoreRequest), ser(pb.ScoreResponse)),
            "Rank": uu(self.Rank, _parser(pb.ScoreRequest), ser(pb.RankResponse)),
            "ScoreStream": ss(self.ScoreStream, _parser(pb.ScoreRequest), ser(pb.ScoreResponse)),
            "Compare": uu(self.Compare, _parser(pb.CompareRequest), ser(pb.CompareResponse)),
            "ModelInfo": uu(self.ModelInfo, _parser(pb.ModelInfoRequest), ser(pb.ModelInfoResponse)),
            "Stats": uu(self.Stats, _parser(pb.StatsRequest), ser(pb.StatsResponse)),
            "LoadModel": uu(self.LoadModel, _parser(pb.LoadModelRequest), ser(pb.ModelInfoResponse)),
            "PredictVariants": uu(self.PredictVariants, _parser(pb.PredictVariantsRequest),
                                  ser(pb.PredictVariantsResponse)),
        })

    # -- helpers ------------------------------------------------------------
    def _abort(self, context, code: grpc.StatusCode, message: str):
        with self.lock:
            self.counters["errors"] += 1
        context.abort(code, message[:1000])  # a status message never carries a large input back

    def _check(self, request, context, needs_model: bool = True) -> None:
        if isinstance(request, _Malformed):
            self._abort(context, grpc.StatusCode.INVALID_ARGUMENT, request.message)
        if needs_model and self.model is None:
            self._abort(context, grpc.StatusCode.UNAVAILABLE, "model is still loading")
        name = self.info.get("name", "")
        if getattr(request, "model", "") and request.model != name:
            self._abort(context, grpc.StatusCode.NOT_FOUND, f"unknown model {_short(request.model)} (serving '{name}')")

    def _count(self, context, n: int, what: str) -> None:
        """A request carries at least one and at most ``max_candidates`` candidates (or pairs)."""
        if n == 0:
            self._abort(context, grpc.StatusCode.INVALID_ARGUMENT, f"no {what}")
        if n > self.config.max_candidates:
            self._abort(context, grpc.StatusCode.RESOURCE_EXHAUSTED,
                        f"{n} {what} exceed the limit of {self.config.max_candidates} per request")

    def _items(self, request, context) -> list:
        self._count(context, len(request.candidates), "candidates")
        model_repr = self.info.get("repr", "asm")
        if request.repr and request.repr not in REPRS:
            self._abort(context, grpc.StatusCode.INVALID_ARGUMENT, f"unknown repr {_short(request.repr)} (asm|ir)")
        if request.repr and request.repr != model_repr:
            self._abort(context, grpc.StatusCode.INVALID_ARGUMENT,
                        f"request repr '{request.repr}' does not match the model's '{model_repr}'")
        items = []
        too_big = lambda what, n, limit: self._abort(  # noqa: E731
            context, grpc.StatusCode.RESOURCE_EXHAUSTED, f"candidate {i}: {what} of {n:,} exceeds the limit of {limit:,}")
        for i, c in enumerate(request.candidates):
            kinds = [k for k in ("pipeline", "text", "functions") if getattr(c, k)]
            if len(kinds) != 1:
                self._abort(context, grpc.StatusCode.INVALID_ARGUMENT,
                            f"candidate {i}: give exactly one of pipeline, text, functions "
                            f"(got {' and '.join(kinds) or 'none'})")
            if len(c.id) > LIMITS["short_field_chars"]:
                too_big("an id", len(c.id), LIMITS["short_field_chars"])
            if c.pipeline:
                self._check_pipeline(i, c.pipeline, context, too_big)
                items.append(("pipeline", c.pipeline))
            elif c.text:
                if len(c.text) > LIMITS["listing_bytes"]:
                    too_big("a listing", len(c.text), LIMITS["listing_bytes"])
                items.append(c.text)
            else:
                if len(c.functions) > LIMITS["functions"]:
                    too_big("functions", len(c.functions), LIMITS["functions"])
                longest = max(len(f.name) for f in c.functions)
                if longest > LIMITS["function_name_chars"]:
                    too_big("a function name", longest, LIMITS["function_name_chars"])
                size = sum(len(f.text) for f in c.functions)
                if size > LIMITS["listing_bytes"]:
                    too_big("a listing", size, LIMITS["listing_bytes"])
                fns = {f.name: f.text for f in c.functions}
                if len(fns) != len(c.functions):
                    self._abort(context, grpc.StatusCode.INVALID_ARGUMENT, f"candidate {i}: duplicate function names")
                items.append(fns)
        if any(isinstance(x, tuple) for x in items):
            if not request.benchmark:
                self._abort(context, grpc.StatusCode.INVALID_ARGUMENT, "candidates with pipelines need a benchmark")
            items = self._compile(request, items, context, model_repr)
        return items

    def _check_pipeline(self, i: int, pipeline: str, context, too_big) -> None:
        if len(pipeline) > LIMITS["pipeline_chars"]:
            too_big("a pipeline", len(pipeline), LIMITS["pipeline_chars"])
        passes = pipeline.count(",") + 1
        if passes > LIMITS["pipeline_passes"]:
            too_big("passes", passes, LIMITS["pipeline_passes"])
        if _depth(pipeline) > LIMITS["pipeline_depth"]:
            self._abort(context, grpc.StatusCode.INVALID_ARGUMENT,
                        f"candidate {i}: pipeline nested deeper than {LIMITS['pipeline_depth']} levels")

    def _benchmark(self, spec: str, context):
        """The served program ``spec`` names: only ``suite/name`` in the suites this server was started with."""
        if len(spec) > LIMITS["benchmark_chars"]:
            self._abort(context, grpc.StatusCode.INVALID_ARGUMENT,
                        f"benchmark name of {len(spec):,} characters exceeds the limit of {LIMITS['benchmark_chars']}")
        suite, _, name = spec.partition("/")
        if suite not in self.suites or not _BENCH_NAME.match(name):
            self._abort(context, grpc.StatusCode.NOT_FOUND,
                        f"unknown benchmark {_short(spec)} (this server serves suite/name in: "
                        f"{', '.join(self.suites) or 'no suite'})")
        try:
            bench = self.suites[suite].get(name)
        except CostTuneError as e:
            self._abort(context, code_for(e), str(e)[:300])
        except Exception as e:  # noqa: BLE001 - a name the suite cannot look up
            self._abort(context, grpc.StatusCode.NOT_FOUND, f"unknown benchmark {_short(spec)} ({type(e).__name__})")
        return bench

    def _compile(self, request, items, context, model_repr):
        from costtune.asm import program_functions
        from costtune.compile import compile_benchmark
        from costtune.toolchain import TARGETS

        target = request.target or self.config.target
        if target not in TARGETS:
            self._abort(context, grpc.StatusCode.INVALID_ARGUMENT,
                        f"unknown target {_short(target)} (choose from {', '.join(TARGETS)})")
        bench = self._benchmark(request.benchmark, context)
        out = []
        for item in items:
            if not isinstance(item, tuple):
                out.append(item)
                continue
            if not context.is_active():  # the client has gone: compile nothing more for it
                self._abort(context, grpc.StatusCode.CANCELLED, "the client has gone")
            try:
                res = compile_benchmark(bench, item[1], target)
            except CostTuneError as e:
                code = code_for(e)
                self._abort(context, grpc.StatusCode.INVALID_ARGUMENT if code == grpc.StatusCode.INTERNAL else code,
                            f"{bench.id} [{_short(item[1])}]: {str(e)[:300]}")
            except RecursionError:
                self._abort(context, grpc.StatusCode.INVALID_ARGUMENT, f"{bench.id}: pipeline nested too deep")
            if not res.ok:
                self._abort(context, grpc.StatusCode.FAILED_PRECONDITION,
                            f"{bench.id} [{_short(item[1])}]: {res.describe()}")
            out.append(program_functions(res.artifact, model_repr))
        return out

    def _head(self, context, variant: bool) -> None:
        """A function-variant model answers PredictVariants only, a cost model everything else."""
        name, head = self.info.get("name", ""), self.info.get("head")
        if variant and head != "variant":
            self._abort(context, grpc.StatusCode.FAILED_PRECONDITION,
                        f"model '{name}' (head {head}) is not a function-variant model: use Score")
        if not variant and head == "variant":
            self._abort(context, grpc.StatusCode.FAILED_PRECONDITION,
                        f"model '{name}' is a function-variant model: it answers PredictVariants only "
                        "(costtune search --server uses it in the profile estimate)")

    def _score(self, request, context) -> tuple[list[float], int]:
        self._check(request, context)
        self._head(context, variant=False)
        start = time.perf_counter()
        items = self._items(request, context)
        return self._run(items, lambda repr_: [content_key(it, repr_) for it in items], context, start)

    def _run(self, items: list, keys_of: Callable, context, start: float) -> tuple[list[float], int]:
        """The model's values of ``items`` (through the cache and the batcher) and the cache hits."""
        # one model for the whole request: LoadModel swaps model, batcher and cache under the lock
        with self.lock:
            batcher, cache, repr_ = self.batcher, self.cache, self.info.get("repr", "asm")
            use_cache = self.config.cache and batcher.batchable
            keys = keys_of(repr_)
            costs: list = [cache.get(k) for k in keys] if use_cache else [None] * len(items)
            missing: dict[str, list[int]] = {}
            for i, (k, c) in enumerate(zip(keys, costs)):
                if c is None:
                    missing.setdefault(k, []).append(i)
            order = list(missing)
            # a pairwise-sft model ranks the candidates of one call against each other: send them all
            todo = [items[missing[k][0]] for k in order] if use_cache else items
            try:
                pending = batcher.submit(todo, context) if missing else None
            except CostTuneError as e:  # the server is shutting down
                pending = e
        hits = len(items) - sum(len(v) for v in missing.values())
        if missing:
            try:
                if isinstance(pending, Exception):
                    raise pending
                values = pending.result()
            except Exception as e:  # noqa: BLE001
                self._abort(context, code_for(e), f"model failed: {type(e).__name__}: {e}")
            if use_cache:
                for k, v in zip(order, values):
                    cache.put(k, v)
                    for i in missing[k]:
                        costs[i] = v
            else:
                costs = values
        with self.lock:
            self.counters["requests"] += 1
            self.counters["candidates"] += len(items)
            self.counters["cache_hits"] += hits
            self.counters["cache_misses"] += len(items) - hits
            self.latencies.append((time.perf_counter() - start) * 1000)
        return [float(c) for c in costs], hits

    # -- RPCs -------------------------------------------------------------
    def Score(self, request, context):
        costs, hits = self._score(request, context)
        return pb.ScoreResponse(costs=costs, ids=[c.id for c in request.candidates],
                                model=self.info.get("name", ""), cache_hits=hits)

    def Rank(self, request, context):
        costs, _ = self._score(request, context)
        order = sorted(range(len(costs)), key=lambda i: (costs[i], i))
        return pb.RankResponse(order=order, costs=costs, model=self.info.get("name", ""))

    def ScoreStream(self, request_iterator, context):
        for request in request_iterator:
            yield self.Score(request, context)

    def PredictVariants(self, request, context):
        self._check(request, context)
        self._head(context, variant=True)
        start = time.perf_counter()
        self._count(context, len(request.pairs), "pairs")
        items, keys = [], []
        for i, p in enumerate(request.pairs):
            ref, new = list(p.reference), list(p.variant)
            if max(sum(map(len, ref)), sum(map(len, new))) > LIMITS["listing_bytes"]:
                self._abort(context, grpc.StatusCode.RESOURCE_EXHAUSTED,
                            f"pair {i}: a side over {LIMITS['listing_bytes']:,} characters")
            if not new:
                self._abort(context, grpc.StatusCode.INVALID_ARGUMENT, f"pair {i}: no variant tokens")
            items.append((ref, new))
            keys.append(hashlib.sha256(json.dumps([ref, new]).encode()).hexdigest())
        values, hits = self._run(items, lambda repr_: keys, context, start)
        return pb.PredictVariantsResponse(log_ratios=values, model=self.info.get("name", ""), cache_hits=hits)

    def Compare(self, request, context):
        self._check(request, context)
        if not hasattr(self.model, "compare"):
            self._abort(context, grpc.StatusCode.FAILED_PRECONDITION,
                        f"model '{self.info.get('name', '')}' (head {self.info.get('head')}) has no Compare")
        if not request.prompt and not (request.code1 and request.code2):
            self._abort(context, grpc.StatusCode.INVALID_ARGUMENT, "give a prompt, or code1 and code2")
        for field in ("prompt", "code1", "code2"):
            n = len(getattr(request, field))
            if n > 2 * LIMITS["listing_bytes"]:
                self._abort(context, grpc.StatusCode.RESOURCE_EXHAUSTED,
                            f"{field} of {n:,} characters exceeds the limit of {2 * LIMITS['listing_bytes']:,}")
        start = time.perf_counter()
        try:
            prediction, p = self.model.compare(request.code1, request.code2, prompt=request.prompt or None)
        except CostTuneError as e:
            code = code_for(e)
            self._abort(context, grpc.StatusCode.INVALID_ARGUMENT if code == grpc.StatusCode.INTERNAL else code,
                        str(e)[:300])
        except RecursionError:
            self._abort(context, grpc.StatusCode.INVALID_ARGUMENT, "prompt nested too deep")
        with self.lock:
            self.counters["requests"] += 1
            self.latencies.append((time.perf_counter() - start) * 1000)
        return pb.CompareResponse(prediction=prediction, p_code1_faster=float(p))

    def ModelInfo(self, request, context):
        self._check(request, context)
        i = self.info
        return pb.ModelInfoResponse(name=i.get("name", ""), head=i.get("head", ""), repr=i.get("repr", ""),
                                    base=i.get("base", ""), version=str(i.get("version", "")),
                                    parameters=int(i.get("parameters", 0)), device=i.get("device", ""),
                                    path=i.get("path", ""), variant_base=i.get("variant_base", ""))

    def LoadModel(self, request, context):
        from costtune.serve.adapter import load_served, resolve_model_dir

        self._check(request, context, needs_model=False)
        if not self.config.allow_load:
            self._abort(context, grpc.StatusCode.PERMISSION_DENIED,
                        "this server does not load models on request (start it with --allow-load)")
        if not request.path:
            self._abort(context, grpc.StatusCode.INVALID_ARGUMENT, "LoadModel needs a model directory (path)")
        if len(request.path) > 4096 or "\0" in request.path:
            self._abort(context, grpc.StatusCode.INVALID_ARGUMENT, "LoadModel path is not a directory name")
        if not self.load_lock.acquire(blocking=False):
            self._abort(context, grpc.StatusCode.ABORTED, "another LoadModel is in progress; try again when it ends")
        try:
            try:
                model = load_served(resolve_model_dir(request.path), device=self.config.device,
                                         threads=self.config.threads)
            except CostTuneError as e:  # the old model goes on serving
                self._abort(context, grpc.StatusCode.INVALID_ARGUMENT, str(e)[:300])
            except (OSError, ValueError) as e:
                self._abort(context, grpc.StatusCode.INVALID_ARGUMENT,
                            f"cannot load {_short(request.path)}: {type(e).__name__}")
            self.set_model(model)
        finally:
            self.load_lock.release()
        log.info("now serving %s", self.info.get("path"))
        return self.ModelInfo(pb.ModelInfoRequest(), context)

    def Stats(self, request, context):
        import numpy as np

        self._check(request, context, needs_model=False)
        with self.lock:
            c = dict(self.counters)
            lat = list(self.latencies)
        b = self.batcher
        return pb.StatsResponse(
            requests=c["requests"], candidates=c["candidates"], errors=c["errors"],
            batches=b.batches if b else 0,
            mean_batch_size=(b.batch_items / b.batches) if b and b.batches else 0.0,
            max_batch_size=b.max_seen if b else 0,
            cache_hits=c["cache_hits"], cache_misses=c["cache_misses"],
            p50_latency_ms=float(np.percentile(lat, 50)) if lat else 0.0,
            p99_latency_ms=float(np.percentile(lat, 99)) if lat else 0.0,
            uptime_s=time.monotonic() - self.started, rss_bytes=rss_bytes(),
            function_cache_hits=int(getattr(self.model, "cache_hits", 0)),
            function_cache_misses=int(getattr(self.model, "cache_misses", 0)),
            cache_entries=len(self.cache),
        )


def rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


class RunningServer:
    """A started server: ``port``, ``loaded`` (an Event), ``load_error``, ``wait()``, ``stop()``."""

    def __init__(self, server, service, health_servicer, port):
        self.server, self.service, self.health, self.port = server, service, health_servicer, port
        self.loaded = threading.Event()
        self.load_error: Exception | None = None
        self.loader: threading.Thread | None = None

    def stop(self, grace: float = 5.0) -> None:
        """Refuse new calls, let running ones finish within ``grace`` seconds, stop the batcher."""
        self.health.enter_graceful_shutdown()
        self.server.stop(grace).wait()
        self.service.stop()

    def wait(self) -> None:
        self.server.wait_for_termination()


def start(load_model: Callable[[], object], config: ServerConfig | None = None,
          log_load_error: bool = True) -> RunningServer:
    """Start serving on ``config.host:config.port``; the model loads in a background thread.

    A model that fails to load leaves health NOT_SERVING and ``load_error`` set, and is logged
    unless ``log_load_error`` is False (a caller that reports it itself).
    """
    config = config or ServerConfig()
    options = [("grpc.max_receive_message_length", config.max_request_bytes),
               ("grpc.max_send_message_length", 64 << 20),
               ("grpc.so_reuseport", 0)]
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=config.workers, thread_name_prefix="costtune-rpc"),
                         options=options)
    service = ScoringService(config)
    server.add_generic_rpc_handlers((service.handler(),))
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    for name in ("", SERVICE):
        health_servicer.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
    reflection.enable_server_reflection((SERVICE, health.SERVICE_NAME, reflection.SERVICE_NAME), server)
    try:
        port = server.add_insecure_port(f"{config.host}:{config.port}")
    except RuntimeError as e:
        raise CostTuneError(f"cannot listen on {config.host}:{config.port}: {e}") from None
    if port == 0:
        raise CostTuneError(f"cannot listen on {config.host}:{config.port}")
    server.start()
    running = RunningServer(server, service, health_servicer, port)

    def _load():
        try:
            service.set_model(load_model())
        except Exception as e:  # noqa: BLE001 - health stays NOT_SERVING; serve() re-raises
            if log_load_error:
                log.error("model failed to load: %s", e)
            running.load_error = e
            running.loaded.set()
            return
        for name in ("", SERVICE):
            health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
        log.info("model loaded: %s", service.info)
        running.loaded.set()

    running.loader = threading.Thread(target=_load, name="costtune-model-loader", daemon=True)
    running.loader.start()
    return running


def serve(model: str, config: ServerConfig, on_event: Callable[..., None] | None = None) -> int:
    """Run until SIGTERM/SIGINT (the ``costtune serve`` entry point); returns 0 after a clean stop.

    ``on_event(kind, **details)`` is told ``listening`` (host, port), ``serving`` (info)
    and ``stopped`` - the CLI prints them. A model directory that is missing or not a
    costtune model fails with :class:`ModelLoadError` before the server listens.
    """
    from costtune.serve.adapter import load_served, resolve_model_dir

    on_event = on_event or (lambda kind, **kw: None)
    directory = resolve_model_dir(model)
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        running = start(lambda: load_served(directory, device=config.device, threads=config.threads), config,
                        log_load_error=False)  # raised below: the CLI prints it as its one error line
        log.info("costtune serving %s on %s:%d", directory, config.host, running.port)
        on_event("listening", host=config.host, port=running.port)
        while not running.loaded.wait(0.2):
            if stop.is_set():
                break
        if running.load_error is not None:
            running.stop(0)
            raise running.load_error
        if running.loaded.is_set():
            on_event("serving", info=running.service.info)
        while not stop.wait(0.5):
            pass
        running.stop()
        on_event("stopped")
        return 0
    finally:
        for sig, h in previous.items():
            signal.signal(sig, h)
