"""The corpus file: this project's own measurements, compact and versioned.

A corpus is a gzip-compressed JSON-lines file; it holds no source code and no
assembly, only what was measured, so it can be committed and shared. Line 1 is
the header; then, per program, one ``program`` line followed by its
``candidate`` lines::

    {"format": "costtune-corpus", "version": 1, "metric": "insns", "target": "aarch64",
     "llvm": 19, "toolchain": {...}, "toolchain_fingerprint": "...", "programs": N,
     "candidates": M, "created_at": "..."}
    {"type": "program", "benchmark": "cbench/telecom-gsm", "suite": "cbench",
     "family": "mibench:gsm", "split": "test", "repeat": 15, "source_hash": "...",
     "runner": "qemu", "functions": ["main", "Short_term_synthesis_filtering", ...],
     "own_functions": ["main", ...]}
    {"type": "candidate", "job_key": "...", "label": "edit3", "pipeline": "...",
     "seed": 0, "index": 3, "status": "ok", "value": 123456789, "ir_hash": "...",
     "text_hash": "...", "binary_hash": "...", "counts": [int, ...], "variants": ["3fa2...", null, ...],
     "blocks": [[addr, n, execs], ...], "seconds": 1.234}

``counts`` is aligned with the program line's ``functions`` (instructions
executed in each function in the same qemu run that gave ``value``; they sum to
``value``); ``blocks`` is kept for the O0 and O3 references only. A candidate
that failed (``compile_error``, ``crash``, ``timeout``, ``wrong_output``) has no
value and no counts. Families and splits are :mod:`costtune.corpus.families`'.

:func:`export_corpus` writes it from a records database; :func:`import_corpus`
reads it back into one (records keyed by their job keys, so an import is
idempotent). A file of another format version is refused with one line.
"""

from __future__ import annotations

import gzip
import json
import os
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from costtune.corpus.families import family_of, split_of
from costtune.errors import RecordStoreError
from costtune.records import Record, RecordStore, utcnow
from costtune.records._sql import opened

FORMAT = "costtune-corpus"
VERSION = 1


@dataclass
class CorpusSummary:
    path: str
    programs: int = 0
    candidates: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    by_split: dict[str, int] = field(default_factory=dict)  #: programs per split
    inserted: int = 0  #: import: records new to the database
    header: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def _header_of(records: list[Record]) -> dict:
    first = records[0]
    opt = first.toolchain.get("opt", "")
    return {"format": FORMAT, "version": VERSION, "metric": first.metric, "target": first.target,
            "llvm": int(opt.split(".")[0]) if opt.split(".")[0].isdigit() else None,
            "toolchain": dict(first.toolchain), "toolchain_fingerprint": first.toolchain_fingerprint}


def export_corpus(db: str | RecordStore, out: str | os.PathLike, *, metric: str = "insns",
                  target: str = "aarch64", benchmarks: list[str] | None = None) -> CorpusSummary:
    """Write the records of ``metric``/``target`` (every program, or ``benchmarks``) as a corpus."""
    path = Path(out)
    with opened(db) as store:
        by_prog: dict[str, list[Record]] = defaultdict(list)
        for r in store.records(metric=metric):
            if r.target == target and (not benchmarks or r.benchmark in benchmarks):
                by_prog[r.benchmark].append(r)
    if not by_prog:
        raise RecordStoreError(f"no {metric} records for {target} to export")
    everything = [r for rs in by_prog.values() for r in rs]
    fingerprints = {r.toolchain_fingerprint for r in everything}
    if len(fingerprints) > 1:
        raise RecordStoreError(f"the records come from {len(fingerprints)} toolchains; a corpus holds one "
                               "(export each with --benchmark, or collect again)")
    header = _header_of(everything)
    summary = CorpusSummary(str(path), header=header)
    lines = []
    for bench in sorted(by_prog):
        recs = sorted(by_prog[bench], key=lambda r: (r.sample_index is not None, r.sample_index or 0, r.label))
        names: dict[str, int] = {}
        own: dict[str, int] = {}
        for r in recs:
            for fn in (r.detail or {}).get("functions", {}):
                names.setdefault(fn, len(names))
            for fn in (r.detail or {}).get("function_hashes", {}):
                own.setdefault(fn, len(own))
        family = family_of(bench)
        repeats = {r.repeat for r in recs}
        lines.append({"type": "program", "benchmark": bench, "suite": recs[0].suite, "family": family,
                      "split": split_of(family), "repeat": recs[0].repeat if len(repeats) == 1 else None,
                      "source_hash": recs[0].source_hash, "runner": recs[0].runner, "functions": list(names),
                      "own_functions": list(own)})
        summary.programs += 1
        summary.by_split[split_of(family)] = summary.by_split.get(split_of(family), 0) + 1
        for r in recs:
            d = r.detail or {}
            c = {"type": "candidate", "job_key": r.job_key, "label": r.label, "pipeline": r.pipeline,
                 "seed": r.seed, "index": r.sample_index, "status": r.status,
                 "value": int(r.value) if r.value is not None and float(r.value).is_integer() else r.value,
                 "ir_hash": r.ir_hash, "text_hash": r.text_hash, "binary_hash": r.binary_hash}
            if len(repeats) > 1:
                c["repeat"] = r.repeat
            if "functions" in d:
                counts = [0] * len(names)
                for fn, n in d["functions"].items():
                    counts[names[fn]] = n
                c["counts"] = counts
            if "function_hashes" in d:
                variants = [None] * len(own)
                for fn, h in d["function_hashes"].items():
                    variants[own[fn]] = h
                c["variants"] = variants
            if "blocks" in d:
                c["blocks"] = d["blocks"]
            if "step" in d:
                c["step"] = d["step"]
            spent = d.get("seconds") or (d.get("compile_seconds") or 0) + (d.get("measure_seconds") or 0)
            if spent:
                c["seconds"] = round(spent, 3)  # worker time: compile (+ measure unless reused)
            lines.append(c)
            summary.candidates += 1
            summary.by_status[r.status] = summary.by_status.get(r.status, 0) + 1
    header.update(programs=summary.programs, candidates=summary.candidates, created_at=utcnow())
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with gzip.open(tmp, "wt", compresslevel=9) as fh:
            for obj in [header, *lines]:
                fh.write(json.dumps(obj, separators=(",", ":")) + "\n")
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise RecordStoreError(f"cannot write '{path}': {e.strerror}") from None
    return summary


def read_corpus(path: str | os.PathLike):
    """(header, [(program line, [candidate lines])]) of a corpus file; one-line errors."""
    src = Path(path)
    if not src.is_file():
        raise RecordStoreError(f"no corpus file at '{src}'")
    try:
        with gzip.open(src, "rt") as fh:
            lines = [json.loads(line) for line in fh if line.strip()]
    except (OSError, EOFError, ValueError, UnicodeDecodeError) as e:
        raise RecordStoreError(f"'{src}' is not a costtune corpus (gzip JSON lines): {e}") from None
    if not lines or not isinstance(lines[0], dict) or lines[0].get("format") != FORMAT:
        raise RecordStoreError(f"'{src}' is not a costtune corpus (no '{FORMAT}' header)")
    header = lines[0]
    if header.get("version") != VERSION:
        raise RecordStoreError(f"'{src}' is corpus format version {header.get('version')}; this costtune "
                               f"reads version {VERSION}")
    programs: list[tuple[dict, list[dict]]] = []
    for i, obj in enumerate(lines[1:], 2):
        kind = obj.get("type") if isinstance(obj, dict) else None
        if kind == "program":
            programs.append((obj, []))
        elif kind == "candidate" and programs:
            programs[-1][1].append(obj)
        else:
            raise RecordStoreError(f"{src}:{i}: unexpected line (type {kind!r})")
    return header, programs


def corpus_records(header: dict, programs) -> list[Record]:
    """The corpus as records (as a collect run would have written them)."""
    out = []
    for prog, cands in programs:
        names = prog.get("functions") or []
        for c in cands:
            detail = {}
            if "counts" in c:
                detail["functions"] = {fn: n for fn, n in zip(names, c["counts"]) if n}
            if "variants" in c:
                own = prog.get("own_functions") or []
                detail["function_hashes"] = {fn: h for fn, h in zip(own, c["variants"]) if h}
            if "blocks" in c:
                detail["blocks"] = c["blocks"]
            if "step" in c:
                detail["step"] = c["step"]
            if "seconds" in c:
                detail["seconds"] = c["seconds"]
            detail.update(corpus=True, family=prog.get("family"), split=prog.get("split"))
            value = c.get("value")
            out.append(Record(
                job_key=c["job_key"], benchmark=prog["benchmark"], suite=prog.get("suite", ""),
                target=header["target"], pipeline=c["pipeline"], metric=header["metric"], status=c["status"],
                label=c.get("label", ""), toolchain=dict(header.get("toolchain") or {}),
                toolchain_fingerprint=header.get("toolchain_fingerprint", ""),
                source_hash=prog.get("source_hash", ""), ir_hash=c.get("ir_hash", ""),
                text_hash=c.get("text_hash", ""), binary_hash=c.get("binary_hash", ""),
                value=value, values=[value] if value is not None else [], n=1 if value is not None else 0,
                runner=prog.get("runner", "qemu"), repeat=c.get("repeat", prog.get("repeat")),
                seed=c.get("seed"), sample_index=c.get("index"), detail=detail))
    return out


def import_corpus(path: str | os.PathLike, db: str | RecordStore) -> CorpusSummary:
    """Read a corpus file into a records database (created if missing)."""
    header, programs = read_corpus(path)
    records = corpus_records(header, programs)
    summary = CorpusSummary(str(path), programs=len(programs), candidates=len(records), header=header)
    for prog, _ in programs:
        summary.by_split[prog.get("split", "")] = summary.by_split.get(prog.get("split", ""), 0) + 1
    for r in records:
        summary.by_status[r.status] = summary.by_status.get(r.status, 0) + 1
    with opened(db, create=True) as store:
        for i in range(0, len(records), 500):
            summary.inserted += store.add_many(records[i:i + 500])
    return summary
