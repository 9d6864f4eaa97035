from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Function(_message.Message):
    __slots__ = ("name", "text")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    name: str
    text: str
    def __init__(self, name: _Optional[str] = ..., text: _Optional[str] = ...) -> None: ...

class Candidate(_message.Message):
    __slots__ = ("id", "pipeline", "text", "functions")
    ID_FIELD_NUMBER: _ClassVar[int]
    PIPELINE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    FUNCTIONS_FIELD_NUMBER: _ClassVar[int]
    id: str
    pipeline: str
    text: str
    functions: _containers.RepeatedCompositeFieldContainer[Function]
    def __init__(self, id: _Optional[str] = ..., pipeline: _Optional[str] = ..., text: _Optional[str] = ..., functions: _Optional[_Iterable[_Union[Function, _Mapping]]] = ...) -> None: ...

class ScoreRequest(_message.Message):
    __slots__ = ("model", "benchmark", "target", "repr", "candidates")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    BENCHMARK_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    REPR_FIELD_NUMBER: _ClassVar[int]
    CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    model: str
    benchmark: str
    target: str
    repr: str
    candidates: _containers.RepeatedCompositeFieldContainer[Candidate]
    def __init__(self, model: _Optional[str] = ..., benchmark: _Optional[str] = ..., target: _Optional[str] = ..., repr: _Optional[str] = ..., candidates: _Optional[_Iterable[_Union[Candidate, _Mapping]]] = ...) -> None: ...

class ScoreResponse(_message.Message):
    __slots__ = ("costs", "ids", "model", "cache_hits")
    COSTS_FIELD_NUMBER: _ClassVar[int]
    IDS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    CACHE_HITS_FIELD_NUMBER: _ClassVar[int]
    costs: _containers.RepeatedScalarFieldContainer[float]
    ids: _containers.RepeatedScalarFieldContainer[str]
    model: str
    cache_hits: int
    def __init__(self, costs: _Optional[_Iterable[float]] = ..., ids: _Optional[_Iterable[str]] = ..., model: _Optional[str] = ..., cache_hits: _Optional[int] = ...) -> None: ...

class RankResponse(_message.Message):
    __slots__ = ("order", "costs", "model")
    ORDER_FIELD_NUMBER: _ClassVar[int]
    COSTS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    order: _containers.RepeatedScalarFieldContainer[int]
    costs: _containers.RepeatedScalarFieldContainer[float]
    model: str
    def __init__(self, order: _Optional[_Iterable[int]] = ..., costs: _Optional[_Iterable[float]] = ..., model: _Optional[str] = ...) -> None: ...

class CompareRequest(_message.Message):
    __slots__ = ("model", "prompt", "code1", "code2")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    CODE1_FIELD_NUMBER: _ClassVar[int]
    CODE2_FIELD_NUMBER: _ClassVar[int]
    model: str
    prompt: str
    code1: str
    code2: str
    def __init__(self, model: _Optional[str] = ..., prompt: _Optional[str] = ..., code1: _Optional[str] = ..., code2: _Optional[str] = ...) -> None: ...

class CompareResponse(_message.Message):
    __slots__ = ("prediction", "p_code1_faster")
    PREDICTION_FIELD_NUMBER: _ClassVar[int]
    P_CODE1_FASTER_FIELD_NUMBER: _ClassVar[int]
    prediction: str
    p_code1_faster: float
    def __init__(self, prediction: _Optional[str] = ..., p_code1_faster: _Optional[float] = ...) -> None: ...

class VariantPair(_message.Message):
    __slots__ = ("reference", "variant")
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    VARIANT_FIELD_NUMBER: _ClassVar[int]
    reference: _containers.RepeatedScalarFieldContainer[str]
    variant: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, reference: _Optional[_Iterable[str]] = ..., variant: _Optional[_Iterable[str]] = ...) -> None: ...

class PredictVariantsRequest(_message.Message):
    __slots__ = ("model", "pairs")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    PAIRS_FIELD_NUMBER: _ClassVar[int]
    model: str
    pairs: _containers.RepeatedCompositeFieldContainer[VariantPair]
    def __init__(self, model: _Optional[str] = ..., pairs: _Optional[_Iterable[_Union[VariantPair, _Mapping]]] = ...) -> None: ...

class PredictVariantsResponse(_message.Message):
    __slots__ = ("log_ratios", "model", "cache_hits")
    LOG_RATIOS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    CACHE_HITS_FIELD_NUMBER: _ClassVar[int]
    log_ratios: _containers.RepeatedScalarFieldContainer[float]
    model: str
    cache_hits: int
    def __init__(self, log_ratios: _Optional[_Iterable[float]] = ..., model: _Optional[str] = ..., cache_hits: _Optional[int] = ...) -> None: ...

class ModelInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class LoadModelRequest(_message.Message):
    __slots__ = ("path",)
    PATH_FIELD_NUMBER: _ClassVar[int]
    path: str
    def __init__(self, path: _Optional[str] = ...) -> None: ...

class ModelInfoResponse(_message.Message):
    __slots__ = ("name", "head", "repr", "base", "version", "parameters", "device", "path", "variant_base")
    NAME_FIELD_NUMBER: _ClassVar[int]
    HEAD_FIELD_NUMBER: _ClassVar[int]
    REPR_FIELD_NUMBER: _ClassVar[int]
    BASE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    VARIANT_BASE_FIELD_NUMBER: _ClassVar[int]
    name: str
    head: str
    repr: str
    base: str
    version: str
    parameters: int
    device: str
    path: str
    variant_base: str
    def __init__(self, name: _Optional[str] = ..., head: _Optional[str] = ..., repr: _Optional[str] = ..., base: _Optional[str] = ..., version: _Optional[str] = ..., parameters: _Optional[int] = ..., device: _Optional[str] = ..., path: _Optional[str] = ..., variant_base: _Optional[str] = ...) -> None: ...

class StatsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class StatsResponse(_message.Message):
    __slots__ = ("requests", "candidates", "errors", "batches", "mean_batch_size", "max_batch_size", "cache_hits", "cache_misses", "p50_latency_ms", "p99_latency_ms", "uptime_s", "rss_bytes", "function_cache_hits", "function_cache_misses", "cache_entries")
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    BATCHES_FIELD_NUMBER: _ClassVar[int]
    MEAN_BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    MAX_BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    CACHE_HITS_FIELD_NUMBER: _ClassVar[int]
    CACHE_MISSES_FIELD_NUMBER: _ClassVar[int]
    P50_LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    P99_LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    UPTIME_S_FIELD_NUMBER: _ClassVar[int]
    RSS_BYTES_FIELD_NUMBER: _ClassVar[int]
    FUNCTION_CACHE_HITS_FIELD_NUMBER: _ClassVar[int]
    FUNCTION_CACHE_MISSES_FIELD_NUMBER: _ClassVar[int]
    CACHE_ENTRIES_FIELD_NUMBER: _ClassVar[int]
    requests: int
    candidates: int
    errors: int
    batches: int
    mean_batch_size: float
    max_batch_size: int
    cache_hits: int
    cache_misses: int
    p50_latency_ms: float
    p99_latency_ms: float
    uptime_s: float
    rss_bytes: int
    function_cache_hits: int
    function_cache_misses: int
    cache_entries: int
    def __init__(self, requests: _Optional[int] = ..., candidates: _Optional[int] = ..., errors: _Optional[int] = ..., batches: _Optional[int] = ..., mean_batch_size: _Optional[float] = ..., max_batch_size: _Optional[int] = ..., cache_hits: _Optional[int] = ..., cache_misses: _Optional[int] = ..., p50_latency_ms: _Optional[float] = ..., p99_latency_ms: _Optional[float] = ..., uptime_s: _Optional[float] = ..., rss_bytes: _Optional[int] = ..., function_cache_hits: _Optional[int] = ..., function_cache_misses: _Optional[int] = ..., cache_entries: _Optional[int] = ...) -> None: ...
