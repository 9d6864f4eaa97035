"""Per-program summaries of a records database (``costtune records stats``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from costtune.records._record import STATUSES
from costtune.records._sql import RecordStore, opened


@dataclass
class BenchStats:
    """One program under one experiment setting (target, metric, repeat, runner)."""

    benchmark: str
    target: str
    metric: str
    repeat: int | None
    runner: str
    total: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    reused: int = 0  #: records that reused an identical binary's measurement
    best: float | None = None  #: lowest ok value (every metric here is lower-is-better)
    best_label: str = ""
    o0: float | None = None
    o3: float | None = None
    #: share of the O3 build's instructions outside the program's own functions (None: not profiled)
    outside_o3: float | None = None

    @property
    def failure_rate(self) -> float:
        return 1.0 - self.by_status.get("ok", 0) / self.total if self.total else 0.0

    @property
    def best_vs_o3(self) -> float | None:
        """best / O3: below 1 means a candidate beat O3."""
        if self.best is None or not self.o3:
            return None
        return self.best / self.o3

    def to_dict(self) -> dict:
        return {"benchmark": self.benchmark, "target": self.target, "metric": self.metric,
                "repeat": self.repeat, "runner": self.runner, "total": self.total,
                "by_status": dict(self.by_status), "reused": self.reused, "best": self.best,
                "best_label": self.best_label, "o0": self.o0, "o3": self.o3,
                "best_vs_o3": self.best_vs_o3, "failure_rate": self.failure_rate, "outside_o3": self.outside_o3}


def reference_label(label: str) -> str:
    """``O0``/``O3`` for a reference build's record - collect labels it ``O3``, a search
    ``search:STUDY:O3`` - else ``""``."""
    if label in ("O0", "O3"):
        return label
    if label.startswith("search:") and label.rpartition(":")[2] in ("O0", "O3"):
        return label.rpartition(":")[2]
    return ""


def stats(store: RecordStore | str, *, metric: str | None = None, benchmark: str | None = None) -> list[BenchStats]:
    """Counts by status, best value, O0/O3 references and failure rate per program."""
    with opened(store) as s:
        records = list(s.records(metric=metric, benchmark=benchmark))
    groups: dict[tuple, BenchStats] = {}
    for r in records:
        key = (r.benchmark, r.target, r.metric, r.repeat, r.runner)
        s = groups.get(key)
        if s is None:
            s = groups[key] = BenchStats(*key, by_status={k: 0 for k in STATUSES})
        s.total += 1
        s.by_status[r.status] = s.by_status.get(r.status, 0) + 1
        s.reused += r.reused_from is not None
        if r.status != "ok" or r.value is None:
            continue
        reference = reference_label(r.label)
        if reference == "O3":
            s.o3 = r.value
            detail = r.detail or {}
            if detail.get("functions") and detail.get("function_hashes"):  # collect's profile of the run
                from costtune.measure.profile import outside_share

                s.outside_o3 = outside_share(detail["functions"], detail["function_hashes"])
        elif reference == "O0":
            s.o0 = r.value
        if s.best is None or r.value < s.best:
            s.best, s.best_label = r.value, r.label or (r.pipeline[:40] if r.pipeline else "(none)")
    return [groups[k] for k in sorted(groups, key=lambda k: tuple("" if x is None else str(x) for x in k))]
