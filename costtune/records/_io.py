"""Export and import records: ``jsonl`` (every column) and ``research`` (the old notes' format).

Research format: one file ``<name>.txt`` per benchmark, one line per measured
candidate, a JSON list literal ``["<pass sequence>", <value>]``. The sequence is
the comma list of catalog names (``sroa,gvn,licm``), a preset (``O3``) for a
reference build, or the new-PM text when the record has neither. On import,
lines may also be Python literals with single quotes, and a sequence of
legacy flags (``-sroa -gvn``) is read as the names ``sroa,gvn``.
"""

from __future__ import annotations

import ast
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from costtune.errors import RecordStoreError
from costtune.logging import get_logger
from costtune.records._record import Record, job_key, utcnow
from costtune.records._sql import RecordStore, opened

log = get_logger(__name__)

FORMATS = ("research", "jsonl")
PRESETS = ("O0", "O1", "O2", "O3", "Os", "Oz")
_BATCH = 500


@dataclass
class ExportSummary:
    format: str
    out: str
    records: int = 0
    files: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"format": self.format, "out": self.out, "records": self.records, "files": self.files}


@dataclass
class ImportSummary:
    format: str
    source: str
    read: int = 0
    inserted: int = 0
    skipped: int = 0  #: already in the database (same job key)
    files: int = 0

    def to_dict(self) -> dict:
        return dict(self.__dict__)


# -- research ------------------------------------------------------------------------------

def sequence_string(r: Record) -> str:
    """The research-format sequence of a record."""
    if r.pass_seq:
        return ",".join(r.pass_seq)
    if r.label in PRESETS:
        return r.label
    return r.pipeline


def _number(v: float) -> float | int:
    return int(v) if float(v).is_integer() else v


def export_research(store: RecordStore, out_dir: str | os.PathLike, *, metric: str | None = None,
                    benchmark: str | None = None) -> ExportSummary:
    """Write ``<out_dir>/<name>.txt`` per benchmark from the ``ok`` records."""
    out = Path(out_dir)
    by_bench: dict[str, list[Record]] = {}
    metrics = set()
    for r in store.records(benchmark=benchmark, metric=metric, status="ok"):
        if r.value is None:
            continue
        by_bench.setdefault(r.benchmark, []).append(r)
        metrics.add(r.metric)
    if len(metrics) > 1:
        raise RecordStoreError(f"records hold several metrics ({', '.join(sorted(metrics))}): "
                               "choose one with --metric")
    names: dict[str, str] = {}
    for b in by_bench:
        name = b.rsplit("/", 1)[-1]
        if name in names:
            raise RecordStoreError(f"benchmarks {names[name]} and {b} would share {name}.txt: "
                                   "export one suite at a time (--benchmark)")
        names[name] = b
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise RecordStoreError(f"cannot create export directory '{out}': {e.strerror}") from None
    summary = ExportSummary("research", str(out))
    for name, b in sorted(names.items()):
        path = out / f"{name}.txt"
        lines = [json.dumps([sequence_string(r), _number(r.value)]) for r in by_bench[b]]
        _write_atomic(path, "".join(l + "\n" for l in lines))
        summary.files.append(str(path))
        summary.records += len(lines)
    return summary


def parse_research_line(line: str) -> tuple[str, float]:
    try:
        item = json.loads(line)
    except json.JSONDecodeError:
        try:
            item = ast.literal_eval(line)
        except (ValueError, SyntaxError):
            raise ValueError("not a list literal") from None
    if not (isinstance(item, (list, tuple)) and len(item) == 2 and isinstance(item[0], str)
            and isinstance(item[1], (int, float)) and not isinstance(item[1], bool)):
        raise ValueError("expected [sequence_string, number]")
    return item[0], float(item[1])


def _split_sequence(seq: str, llvm: int | None) -> tuple[str, list[str] | None, str]:
    """(pipeline text, pass names or None, label) for a research sequence string."""
    s = seq.strip()
    if s in PRESETS or s.lstrip("-") in PRESETS:
        label = s.lstrip("-")
        return _resolve(label, llvm), None, label
    if s.startswith("-"):
        names = [t.lstrip("-") for t in s.split() if t.strip("-")]
    elif "(" in s or "<" in s:
        return s, None, ""
    else:
        names = [t.strip() for t in s.split(",") if t.strip()]
    return _render(names, llvm), names, ""


def _resolve(spec: str, llvm: int | None) -> str:
    from costtune.passes import resolve_pipeline

    return resolve_pipeline(spec, llvm or 19)


def _render(names: list[str], llvm: int | None) -> str:
    """Canonical pipeline text for catalog names (the catalog decides the nesting)."""
    try:
        from costtune import passes

        if hasattr(passes, "load_catalog") and hasattr(passes, "render"):
            return passes.render(names, passes.load_catalog(llvm or 19))
    except Exception as e:  # an unknown name in old notes must not stop the import
        log.warning("cannot render %s with the pass catalog (%s); keeping the names", names[:3], e)
    return ",".join(names)


def import_research(store: RecordStore, path: str | os.PathLike, *, suite: str, metric: str,
                    target: str = "aarch64", repeat: int | None = None, runner: str = "import",
                    llvm: int | None = None) -> ImportSummary:
    """Read research files (one, or every ``*.txt`` in a directory) into ``store``."""
    src = Path(path)
    if src.is_dir():
        files = sorted(src.glob("*.txt"))
    elif src.is_file():
        files = [src]
    else:
        raise RecordStoreError(f"no research file or directory at '{src}'")
    summary = ImportSummary("research", str(src))
    rendered: dict[str, tuple[str, list[str] | None, str]] = {}
    for f in files:
        summary.files += 1
        bench = f"{suite}/{f.stem}"
        batch: list[Record] = []
        for lineno, line in enumerate(f.read_text().splitlines(), 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            try:
                seq, value = parse_research_line(line)
            except ValueError as e:
                raise RecordStoreError(f"{f}:{lineno}: {e}") from None
            if seq not in rendered:
                rendered[seq] = _split_sequence(seq, llvm)
            pipeline, names, label = rendered[seq]
            now = utcnow()
            batch.append(Record(
                job_key=job_key(source="research", benchmark=bench, target=target, metric=metric,
                                repeat=repeat, line=lineno, seq=seq),
                benchmark=bench, suite=suite, target=target, pipeline=pipeline, pass_seq=names,
                label=label, metric=metric, status="ok", value=value, values=[value], n=1,
                runner=runner, repeat=repeat, sample_index=lineno, started_at=now, finished_at=now,
                detail={"imported_from": f.name, "line": lineno}))
            summary.read += 1
            if len(batch) >= _BATCH:
                summary.inserted += store.add_many(batch)
                batch = []
        if batch:
            summary.inserted += store.add_many(batch)
    summary.skipped = summary.read - summary.inserted
    return summary


# -- jsonl ---------------------------------------------------------------------------------

def export_jsonl(store: RecordStore, out: str | os.PathLike, *, metric: str | None = None,
                 benchmark: str | None = None) -> ExportSummary:
    """Every record as one JSON object per line; ``reused_from`` travels as a job key."""
    path = Path(out)
    records = list(store.records(benchmark=benchmark, metric=metric))
    keys = {r.id: r.job_key for r in records}
    lines = []
    for r in records:
        d = r.to_dict()
        d.pop("id")
        ref = d.pop("reused_from")
        if ref is not None and ref not in keys:
            other = store.get_by_id(ref)
            keys[ref] = other.job_key if other else None
        d["reused_from_job_key"] = keys.get(ref) if ref is not None else None
        lines.append(json.dumps(d, sort_keys=True))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_atomic(path, "".join(l + "\n" for l in lines))
    except OSError as e:
        raise RecordStoreError(f"cannot write '{path}': {e.strerror}") from None
    return ExportSummary("jsonl", str(path), len(lines), [str(path)])


def import_jsonl(store: RecordStore, path: str | os.PathLike) -> ImportSummary:
    src = Path(path)
    if not src.is_file():
        raise RecordStoreError(f"no JSONL file at '{src}'")
    summary = ImportSummary("jsonl", str(src), files=1)
    batch: list[Record] = []
    reuse: list[str | None] = []
    with src.open() as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                d = json.loads(line)
                ref = d.pop("reused_from_job_key", None)
                d.pop("id", None)
                d.pop("reused_from", None)
                rec = Record.from_dict(d)
            except (json.JSONDecodeError, TypeError, ValueError, AttributeError) as e:
                raise RecordStoreError(f"{src}:{lineno}: not a record ({e})") from None
            batch.append(rec)
            reuse.append(ref)
            summary.read += 1
            if len(batch) >= _BATCH:
                summary.inserted += store.add_many(batch, reuse)
                batch, reuse = [], []
    if batch:
        summary.inserted += store.add_many(batch, reuse)
    summary.skipped = summary.read - summary.inserted
    return summary


def export_records(store: RecordStore | str, fmt: str, out: str | os.PathLike, **filters) -> ExportSummary:
    """Export from a store (or a database URL, opened read-only) in ``fmt``."""
    if fmt not in FORMATS:
        raise RecordStoreError(f"unknown export format '{fmt}' (choose from {', '.join(FORMATS)})")
    with opened(store) as s:
        if fmt == "research":
            return export_research(s, out, **filters)
        return export_jsonl(s, out, **filters)


def import_records(store: RecordStore | str, fmt: str, path: str | os.PathLike, **kwargs) -> ImportSummary:
    """Import into a store (or a database URL, created if missing) from ``fmt``."""
    if fmt not in FORMATS:
        raise RecordStoreError(f"unknown import format '{fmt}' (choose from {', '.join(FORMATS)})")
    if fmt == "research" and (not kwargs.get("suite") or not kwargs.get("metric")):
        raise RecordStoreError("a research import needs the suite and the metric of its values")
    if not Path(path).exists():
        raise RecordStoreError(f"nothing to import at '{path}'")
    with opened(store, create=True) as s:
        if fmt == "research":
            return import_research(s, path, **kwargs)
        return import_jsonl(s, path)


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise RecordStoreError(f"cannot write '{path}': {e.strerror}") from None
