"""Map costtune errors to gRPC status codes and back (one table for both sides)."""

from __future__ import annotations

import grpc

from costtune import errors


class InvalidRequest(errors.ServerError):
    """The server refused a malformed request (INVALID_ARGUMENT)."""

    exit_code = 2


class RequestTooLarge(errors.ServerError):
    """The request exceeds the server's limits (RESOURCE_EXHAUSTED)."""


class ModelNotFound(errors.ServerError):
    """The request names a model the server does not have (NOT_FOUND)."""


class ServerUnavailable(errors.ServerError):
    """The server cannot be reached or is not serving yet (UNAVAILABLE)."""


#: exception class -> status code; the first match in MRO order wins
TO_CODE: list[tuple[type[Exception], grpc.StatusCode]] = [
    (InvalidRequest, grpc.StatusCode.INVALID_ARGUMENT),
    (RequestTooLarge, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (ModelNotFound, grpc.StatusCode.NOT_FOUND),
    (ServerUnavailable, grpc.StatusCode.UNAVAILABLE),
    (errors.UnknownBenchmark, grpc.StatusCode.NOT_FOUND),
    (errors.InvalidPassPipeline, grpc.StatusCode.INVALID_ARGUMENT),
    (errors.CompileError, grpc.StatusCode.FAILED_PRECONDITION),
    (errors.ModelLoadError, grpc.StatusCode.UNAVAILABLE),
    (errors.CostTuneError, grpc.StatusCode.INTERNAL),
]

FROM_CODE: dict[grpc.StatusCode, type[errors.CostTuneError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidRequest,
    grpc.StatusCode.RESOURCE_EXHAUSTED: RequestTooLarge,
    grpc.StatusCode.NOT_FOUND: ModelNotFound,
    grpc.StatusCode.UNAVAILABLE: ServerUnavailable,
    grpc.StatusCode.DEADLINE_EXCEEDED: ServerUnavailable,
    grpc.StatusCode.FAILED_PRECONDITION: errors.CompileError,
}


def code_for(exc: Exception) -> grpc.StatusCode:
    for cls, code in TO_CODE:
        if isinstance(exc, cls):
            return code
    return grpc.StatusCode.INTERNAL


def from_rpc_error(err: grpc.RpcError, address: str) -> errors.CostTuneError:
    code = err.code()
    cls = FROM_CODE.get(code, errors.ServerError)
    detail = err.details() or code.name
    if code == grpc.StatusCode.UNAVAILABLE and "failed to connect" in detail.lower():
        return ServerUnavailable(f"scoring server {address} is unreachable")
    if cls is errors.CompileError:
        return errors.CompileError(f"server: {detail}")
    return cls(f"server {address}: {code.name}: {detail}")
