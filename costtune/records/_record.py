"""One measured (or failed) candidate: the :class:`Record` dataclass and its job key."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

#: Every status a record can carry. ``ok``: measured and correct; ``compile_error``:
#: a step of the compile failed or timed out (``detail["step"]`` says which);
#: ``crash``, ``timeout``, ``wrong_output``: the binary misbehaved at run time.
STATUSES = ("ok", "compile_error", "crash", "timeout", "wrong_output")

#: Statuses that are a property of the binary, so an identical binary may reuse them.
#: A timeout can be load on the machine, and a crash can be a kill from outside (an
#: operator's kill -9, the OOM killer): both are measured again; a crash costs little.
REUSABLE_STATUSES = ("ok", "wrong_output")


def utcnow() -> str:
    """ISO-8601 UTC timestamp with microseconds; sorts as text."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def job_key(**parts: Any) -> str:
    """A stable hash of the named parts of a job (order of the keywords does not matter).

    The key names a unit of work exactly: two workers that compute the same key
    do the same work, so the database keeps one record per key.
    """
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:40]


@dataclass
class Record:
    """A row of the ``measurements`` table (see :mod:`costtune.records` for the schema)."""

    job_key: str
    benchmark: str  #: ``suite/name``
    target: str
    pipeline: str  #: canonical new-PM text given to opt ("" = no passes)
    metric: str
    status: str
    suite: str = ""
    label: str = ""  #: "O3" for a reference build, "rand17" for sample 17, free text otherwise
    pass_seq: list[str] | None = None  #: catalog names the pipeline was rendered from
    toolchain: dict[str, str] = field(default_factory=dict)  #: tool -> version
    toolchain_fingerprint: str = ""
    source_hash: str = ""
    ir_hash: str = ""
    text_hash: str = ""
    binary_hash: str = ""
    value: float | None = None  #: the metric (mean of ``values``); None unless measured
    values: list[float] = field(default_factory=list)
    ci_halfwidth: float | None = None
    n: int = 0
    stdout_hash: str = ""
    stderr_tail: str = ""
    started_at: str = ""
    finished_at: str = ""
    host: str = ""
    runner: str = ""
    repeat: int | None = None  #: the benchmark's repeat knob used for the run
    seed: int | None = None
    sample_index: int | None = None
    reused_from: int | None = None  #: id of the record whose measurement this one reuses
    detail: dict[str, Any] = field(default_factory=dict)  #: free-form extras (compile step, timings)
    id: int | None = None  #: assigned by the store

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"unknown record status '{self.status}' (choose from {', '.join(STATUSES)})")
        if not self.suite and "/" in self.benchmark:
            self.suite = self.benchmark.split("/", 1)[0]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Record":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    def identity(self) -> tuple:
        """What two collections of the same job set must agree on."""
        return (self.job_key, self.pipeline, self.value)
