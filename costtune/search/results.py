"""What a search returns and writes: per-program results, OUT/summary.json, OUT/best_<program>.txt."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

from costtune.search.plot import plot_progress

__all__ = ["ProgramResult", "SearchResult", "program_result", "write_outputs"]


@dataclass
class ProgramResult:
    benchmark: str
    study: str
    o3_value: float | None
    best_value: float | None
    best_pipeline: str
    measurements: int  #: real measurements this study spent
    trials: int
    history: list = field(default_factory=list)  #: best-so-far ratio after each real measurement
    seconds: float = 0.0

    @property
    def speedup(self) -> float | None:
        """O3 / best (> 1: better than O3)."""
        if not self.o3_value or not self.best_value:
            return None
        return self.o3_value / self.best_value


@dataclass
class SearchResult:
    programs: list[ProgramResult]
    out: str
    storage: str
    db: str
    sampler: str
    space: str
    model: str = ""
    retrains: int = 0
    seconds: float = 0.0

    @property
    def geomean_speedup(self) -> float | None:
        s = [p.speedup for p in self.programs if p.speedup]
        return math.exp(sum(math.log(x) for x in s) / len(s)) if s else None

    def to_dict(self) -> dict:
        d = asdict(self)
        for p, pd in zip(self.programs, d["programs"]):
            pd["speedup"] = p.speedup
        d["geomean_speedup"] = self.geomean_speedup
        return d


def program_result(trials: list, bench_id: str, name: str, o3: float, spent: int, metric: str,
                   seconds: float) -> ProgramResult:
    """The result of one program's study from its sampled trials (told predictions left out)."""
    best_v, best_p, history, n = None, "", [1.0], 0  # the O3 baseline first
    for t in sorted(trials, key=lambda t: t.datetime_complete or t.datetime_start):
        v = t.user_attrs.get(metric)
        ok = t.user_attrs.get("status") == "ok" and v
        if ok and (best_v is None or v < best_v):
            best_v, best_p = v, t.user_attrs.get("pipeline", "")
        if t.user_attrs.get("new_measurement"):
            n += 1
            history.append((best_v / o3) if best_v else None)
    if best_v is None or o3 < best_v:
        best_v, best_p = o3, best_p if best_v == o3 else "default<O3>"
    return ProgramResult(bench_id, name, o3, best_v, best_p, spent, len(trials), history, round(seconds, 1))


def write_outputs(result: SearchResult, out: Path, budget: int | None = None) -> None:
    """OUT/best_<program>.txt, summary.json and progress.png. The summary keeps the programs an
    earlier run of the same storage, sampler and space searched into OUT and this one did not."""
    for p in result.programs:
        (out / f"best_{p.benchmark.split('/', 1)[-1]}.txt").write_text(p.best_pipeline + "\n")
    programs = _earlier_programs(out / "summary.json", result) + result.programs
    whole = replace(result, programs=programs)
    (out / "summary.json").write_text(json.dumps(whole.to_dict(), indent=2))
    plot_progress(programs, out / "progress.png", budget)


def _earlier_programs(path: Path, result: SearchResult) -> list[ProgramResult]:
    try:
        earlier = json.loads(path.read_text())
        if any(earlier.get(k) != getattr(result, k) for k in ("storage", "sampler", "space")):
            return []  # another search: this one's summary replaces it
        names = {f.name for f in fields(ProgramResult)}
        searched = {p.benchmark for p in result.programs}
        prefixes = {p.study.split(":", 1)[0] for p in result.programs}  # another --study-prefix: another search
        return [ProgramResult(**{k: v for k, v in p.items() if k in names}) for p in earlier["programs"]
                if p["benchmark"] not in searched and p["study"].split(":", 1)[0] in prefixes]
    except (OSError, ValueError, KeyError, TypeError):  # none yet, or not one of ours
        return []
