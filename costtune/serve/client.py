"""Python client for the costtune scoring server, with timeouts and retries.

    from costtune.serve import Client
    with Client("127.0.0.1:50051") as c:
        costs = c.score(texts=[asm1, asm2])
        order = c.rank(benchmark="builtin/checksum", pipelines=["O3", "O2"])

Status codes come back as costtune exceptions (see costtune/serve/errors.py).
"""

from __future__ import annotations

import json
import time
from typing import Iterable, Mapping, Sequence

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from costtune.serve import costtune_pb2 as pb
from costtune.serve import costtune_pb2_grpc as pb_grpc
from costtune.serve.errors import ServerUnavailable, from_rpc_error

#: the status codes a call is retried on (the server was not reached, or is restarting)
RETRY_CODES = ("UNAVAILABLE",)
#: the scoring service's full name, as the retry policy names it
SERVICE = pb.DESCRIPTOR.services_by_name["CostModelService"].full_name


def service_config(retries: int, backoff: float) -> dict:
    """gRPC's service config with a retry policy: up to ``retries`` retries of a call of the scoring
    service that ends UNAVAILABLE, the first after up to ``backoff`` seconds, each next up to twice as
    long (gRPC draws each wait at random below that bound, and caps a call at 5 attempts)."""
    if retries < 1:
        return {"methodConfig": [{"name": [{"service": SERVICE}]}]}
    return {"methodConfig": [{"name": [{"service": SERVICE}], "retryPolicy": {
        "maxAttempts": retries + 1, "initialBackoff": f"{max(backoff, 0.001):.3f}s",
        "maxBackoff": f"{max(backoff, 0.001) * 2 ** retries:.3f}s", "backoffMultiplier": 2,
        "retryableStatusCodes": list(RETRY_CODES)}}]}


class Client:
    """A channel to a scoring server; calls time out after ``timeout`` seconds (retries included) and
    are retried by gRPC itself (:func:`service_config`)."""

    def __init__(self, address: str, timeout: float = 60.0, retries: int = 3, backoff: float = 0.5,
                 max_message_bytes: int = 64 << 20):
        self.address, self.timeout, self.retries, self.backoff = address, timeout, retries, backoff
        self.channel = grpc.insecure_channel(address, options=[
            ("grpc.max_send_message_length", max_message_bytes),
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.enable_retries", 1),
            ("grpc.service_config", json.dumps(service_config(retries, backoff)))])
        self.stub = pb_grpc.CostModelServiceStub(self.channel)
        self.health_stub = health_pb2_grpc.HealthStub(self.channel)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        self.channel.close()

    def _call(self, method, request):
        try:
            return method(request, timeout=self.timeout)
        except grpc.RpcError as e:
            raise from_rpc_error(e, self.address) from None

    @staticmethod
    def request(*, texts: Sequence[str] = (), functions: Sequence[Mapping[str, str]] = (),
                pipelines: Sequence[str] = (), benchmark: str = "", target: str = "", repr: str = "",
                model: str = "") -> pb.ScoreRequest:
        cands = [pb.Candidate(id=str(i), text=t) for i, t in enumerate(texts)]
        cands += [pb.Candidate(id=str(len(cands) + i), functions=[pb.Function(name=k, text=v) for k, v in f.items()])
                  for i, f in enumerate(functions)]
        cands += [pb.Candidate(id=p, pipeline=p) for p in pipelines]
        return pb.ScoreRequest(model=model, benchmark=benchmark, target=target, repr=repr, candidates=cands)

    def score(self, **kwargs) -> list[float]:
        return list(self._call(self.stub.Score, self.request(**kwargs)).costs)

    def rank(self, **kwargs) -> list[int]:
        return list(self._call(self.stub.Rank, self.request(**kwargs)).order)

    def score_stream(self, requests: Iterable[pb.ScoreRequest]) -> Iterable[list[float]]:
        try:
            for resp in self.stub.ScoreStream(iter(requests), timeout=self.timeout):
                yield list(resp.costs)
        except grpc.RpcError as e:
            raise from_rpc_error(e, self.address) from None

    def compare(self, code1: str = "", code2: str = "", prompt: str = "") -> tuple[str, float]:
        r = self._call(self.stub.Compare, pb.CompareRequest(prompt=prompt, code1=code1, code2=code2))
        return r.prediction, r.p_code1_faster

    def predict_variants(self, pairs: Sequence[tuple[Sequence[str], Sequence[str]]], model: str = "") -> list[float]:
        """A function-variant model's predicted log count ratios of (reference tokens, new variant
        tokens) pairs (a server serving such a model)."""
        req = pb.PredictVariantsRequest(model=model, pairs=[pb.VariantPair(reference=r, variant=n)
                                                             for r, n in pairs])
        return list(self._call(self.stub.PredictVariants, req).log_ratios)

    def model_info(self) -> pb.ModelInfoResponse:
        return self._call(self.stub.ModelInfo, pb.ModelInfoRequest())

    def load_model(self, path: str) -> pb.ModelInfoResponse:
        """Make the server serve the model directory ``path`` (on its host; it needs ``--allow-load``)."""
        return self._call(self.stub.LoadModel, pb.LoadModelRequest(path=str(path)))

    def stats(self) -> pb.StatsResponse:
        return self._call(self.stub.Stats, pb.StatsRequest())

    def health(self) -> str:
        try:
            r = self.health_stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=self.timeout)
        except grpc.RpcError as e:
            raise from_rpc_error(e, self.address) from None
        return health_pb2.HealthCheckResponse.ServingStatus.Name(r.status)

    def wait_ready(self, timeout: float = 120.0) -> None:
        """Block until the server reports SERVING (the model has loaded)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                if self.health() == "SERVING":
                    return
            except ServerUnavailable:
                pass
            if time.monotonic() > deadline:
                raise ServerUnavailable(f"scoring server {self.address} not ready after {timeout:.0f}s")
            time.sleep(0.2)
