"""Ranking data for training and evaluation: measured candidates grouped by program.

The source is a dataset directory written by ``costtune dataset`` (``ranking.jsonl``:
one candidate a line, ``{"program", "candidate", "pipeline", "latency", "text",
"functions": {name: text}, "split"}``; ``splits.json`` optional) or a records
database (the candidates are recompiled - the compile cache makes that cheap).
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from dataclasses import dataclass, field
from pathlib import Path

from costtune.errors import DatasetError
from costtune.logging import get_logger

log = get_logger(__name__)

__all__ = ["Candidate", "load_ranking", "load_from_db", "group_by_program", "split_programs",
           "gap_pairs", "text_hash"]


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:32]


@dataclass
class Candidate:
    program: str
    latency: float
    functions: dict[str, str]
    pipeline: str = ""
    candidate: str = ""
    split: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def text(self) -> str:
        return "\n".join(self.functions.values())


def _functions_of(row: dict, repr: str) -> dict[str, str]:
    from costtune.asm import split_functions

    key = "functions" if repr == "asm" else "ir_functions"
    fns = row.get(key)
    if isinstance(fns, dict) and fns:
        return {str(k): str(v) for k, v in fns.items()}
    text = row.get("text" if repr == "asm" else "ir")
    if isinstance(text, str) and text.strip():
        return split_functions(text) or {"<program>": text}
    raise DatasetError(f"candidate of {row.get('program')} has no {repr} text")


def load_ranking(data, repr: str = "asm") -> list[Candidate]:
    """Candidates from a dataset directory (``ranking.jsonl``) or a ``.jsonl`` file."""
    p = Path(data)
    f = p / "ranking.jsonl" if p.is_dir() else p
    if not f.is_file():
        raise DatasetError(f"no ranking data at {f} (run `costtune dataset` first)")
    splits: dict[str, str] = {}
    sp = f.parent / "splits.json"
    if sp.is_file():
        try:
            raw = json.loads(sp.read_text())
            for split, progs in raw.items():
                if isinstance(progs, list):
                    for prog in progs:
                        splits[str(prog)] = split
        except ValueError:
            log.warning("ignoring unreadable %s", sp)
    out: list[Candidate] = []
    with f.open() as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                lat = float(row["latency"])
                prog = str(row["program"])
            except (ValueError, KeyError, TypeError) as e:
                raise DatasetError(f"{f}:{n}: malformed line ({e})") from None
            if not (lat > 0 and math.isfinite(lat)):
                continue
            out.append(Candidate(prog, lat, _functions_of(row, repr), str(row.get("pipeline", "")),
                                 str(row.get("candidate", "")), str(row.get("split") or splits.get(prog, "")),
                                 {"program_dir": str(row["program_dir"])} if row.get("program_dir") else {}))
    if not out:
        raise DatasetError(f"{f} holds no measured candidates")
    return out


def load_from_db(url: str, benchmarks: list[str], repr: str = "asm", metric: str = "insns",
                 target: str = "aarch64", progress: bool = False) -> list[Candidate]:
    """Candidates from a records database: every ``ok`` record of ``benchmarks``, recompiled."""
    from costtune.asm import program_functions
    from costtune.benchmarks import get_benchmark, program_dir_of
    from costtune.compile import compile_benchmark
    from costtune.records import RecordStore

    store = RecordStore(url)
    out: list[Candidate] = []
    try:
        for b in benchmarks:
            records = [r for r in store.records(benchmark=b, metric=metric)
                       if r.status == "ok" and r.value is not None and r.target == target]
            if not records:
                continue
            # a directory suite's program: where its records say it lives (works from any directory)
            bench = get_benchmark(b, next((r.detail["program_dir"] for r in records
                                           if (r.detail or {}).get("program_dir")), None))
            seen: set[str] = set()
            for r in records:
                key = r.text_hash or r.pipeline
                if key in seen:
                    continue
                seen.add(key)
                cr = compile_benchmark(bench, r.pipeline or "O0", target=target)
                if not cr.ok:
                    continue
                out.append(Candidate(b, float(r.value), program_functions(cr.artifact, repr), r.pipeline,
                                     r.text_hash, "test", {"program_dir": program_dir_of(bench)}))
    finally:
        store.close()
    if not out:
        raise DatasetError(f"no measured {metric} records for {', '.join(benchmarks)} in {url}")
    return out


def group_by_program(cands: list[Candidate]) -> dict[str, list[Candidate]]:
    groups: dict[str, list[Candidate]] = {}
    for c in cands:
        groups.setdefault(c.program, []).append(c)
    return groups


def split_programs(cands: list[Candidate], test_fraction: float = 0.3, seed: int = 0,
                   test_programs: list[str] | None = None,
                   need_train: bool = True) -> tuple[list[Candidate], list[Candidate]]:
    """(train, test) by program. The dataset's own ``split`` field wins; else a seeded split.

    Raises :class:`DatasetError` when either side would hold no program (with
    ``need_train=False`` only when no program is held out: evaluation needs no training
    programs but the GBM baseline's).
    """
    progs = sorted({c.program for c in cands})
    if test_programs:
        test = set(test_programs)
    elif any(c.split for c in cands):
        # costtune dataset writes train / validation / test; validation programs train nothing
        test = {c.program for c in cands if c.split == "test"}
        if not test:
            test = {c.program for c in cands if c.split in ("validation", "val")}
        cands = [c for c in cands if c.program in test or c.split in ("train", "")]
    else:
        rng = random.Random(seed)
        shuffled = progs[:]
        rng.shuffle(shuffled)
        k = max(1, round(len(progs) * test_fraction))
        test = set(shuffled[:k])
    train = [c for c in cands if c.program not in test]
    held = [c for c in cands if c.program in test]
    if not held or (need_train and (len(progs) < 2 or not train)):
        raise DatasetError(f"need programs on both sides of the train/test split; have {len(progs)} program(s) "
                           f"({len({c.program for c in train})} train, {len({c.program for c in held})} test)")
    return train, held


def gap_pairs(lat: list[float], eps: float) -> list[tuple[int, int]]:
    """Index pairs (i, j), i slower than j, whose relative gap ``(slow - fast) / slow`` exceeds
    ``eps`` (:func:`costtune.dataset.relative_gap`, as in the dataset's pairs)."""
    from costtune.dataset import relative_gap

    out = []
    for i in range(len(lat)):
        for j in range(len(lat)):
            if lat[i] > lat[j] and relative_gap(lat[i], lat[j]) > eps:
                out.append((i, j))
    return out
