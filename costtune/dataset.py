"""Build training data for the cost model from a records database.

For each program (benchmark) in the database:

1. take its valid records - status ``ok``, the chosen metric and target, a
   positive value - from one comparable group (same repeat knob, runner and
   toolchain; the largest group wins when a database mixes them), and sort them
   by latency (the metric's value);
2. plot them: ``plots/<suite>/<name>_hist.png`` (histogram) and
   ``plots/<suite>/<name>_sorted.png`` (sorted bars, sampled ones highlighted);
3. drop records of identical code (same ``text_hash``/``binary_hash`` for asm,
   same ``ir_hash`` for IR; their latencies are averaged) and *step-sample*
   ``n`` of the rest at even steps over the sorted list, fastest and slowest
   included (all of them when there are no more than ``n``);
4. recompile each sampled pipeline (``compile_benchmark``; cached by content,
   deterministic otherwise), check the binary hash against the record's (a
   mismatch means the code is not what was measured: the candidate is dropped),
   and take the program's own functions, normalised (:func:`costtune.asm.program_functions`:
   objdump of the object for ``asm``, the optimised IR for ``ir``). A candidate
   whose normalised listing equals an earlier one is dropped as well;
5. pair every two sampled candidates whose relative gap ``(slow - fast) / slow``
   exceeds ``eps`` (at most ``max_pairs_per_program`` of them, a seeded sample).

Programs are split into train / validation / test **by program** (no program in
two splits), seeded. The default split needs at least one program per non-zero
fraction (3 programs for 0.7,0.15,0.15); with fewer programs that is a
:class:`~costtune.errors.DatasetError` unless the caller gives the split
explicitly (``split_explicit=True``, the CLI's ``--split``): an explicit split is
honoured as well as the program count allows, and splits may come out empty
(``--split 1,0,0`` puts every program in train).

Files written to ``out`` (the ``llm_*`` files use the research field names exactly):

``llm_training_record.json``, ``llm_validation_record.json``, ``llm_test_record.json``
    JSON lists of ``{"instruction:", "code1:", "code2:", "output"}`` - the pairs of
    the train, validation and test programs. In each file exactly half (+-1) of the
    answers are ``"code1 is faster than code2"``; order and labels are seeded.
``llm_training_meta.json``, ``llm_validation_meta.json``, ``llm_test_meta.json``
    one entry per pair, aligned by index with the record file: program, split,
    candidate ids (``code1``/``code2``), latencies, gap, pipelines, record ids.
``ranking.jsonl``
    one line per sampled candidate: ``program``, ``repr``, ``candidate`` (sha256 prefix of its
    text: equal code, equal id), ``pipeline``, ``latency``, ``text`` (the whole
    normalised listing: the program's own functions sorted by name, each starting
    with its header line, no blank lines), ``functions`` ({name: text}), ``split``,
    ``rank`` (0 = fastest sampled), ``record_id``, ``binary_hash``, ``ir_hash``, and
    for a directory suite's program ``program_dir`` (its folder, absolute).
``pairs.jsonl``
    one line per pair: ``program``, ``a`` (the faster candidate id), ``b`` (the
    slower), ``latency_a``, ``latency_b``, ``gap``, ``split``.
``splits.json``
    ``{"train": [...], "validation": [...], "test": [...]}`` program lists, with the
    fractions and seed.
``all_assembly.txt``
    every sampled listing (all splits), one after another, separated by a blank line:
    the corpus for tokenizer training and pretraining. (IR listings for ``repr=ir``.)
``dataset.json``
    the :class:`DatasetSummary`: configuration, per-program and per-split counts,
    the database URL, versions.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import math
import os
import platform
import random
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from costtune import __version__
from costtune.errors import CostTuneError, DatasetError
from costtune.logging import get_logger
from costtune.prompts import F_CODE1, F_CODE2, F_INSTRUCTION, F_OUTPUT, FASTER, INSTRUCTIONS, SLOWER

log = get_logger(__name__)

DATASET_VERSION = 1
SPLITS = ("train", "validation", "test")
REPRS = ("asm", "ir")
DEFAULT_SPLIT = (0.7, 0.15, 0.15)


RECORD_FILES = {"train": "llm_training_record.json", "validation": "llm_validation_record.json",
                "test": "llm_test_record.json"}
META_FILES = {"train": "llm_training_meta.json", "validation": "llm_validation_meta.json",
              "test": "llm_test_meta.json"}
RANKING_FILE = "ranking.jsonl"
PAIRS_FILE = "pairs.jsonl"
SPLITS_FILE = "splits.json"
CORPUS_FILE = "all_assembly.txt"
SUMMARY_FILE = "dataset.json"
PLOTS_DIR = "plots"


# --------------------------------------------------------------------------- config and results

@dataclass
class DatasetConfig:
    """What :func:`build_dataset` builds (the CLI flags of ``costtune dataset``)."""

    db: str  #: records database URL (file path, sqlite:///..., postgresql://...)
    out: Path  #: output directory (created; files of an earlier build are replaced)
    benchmarks: list[str] | None = None  #: programs to use (suite/name); None = every one in the DB
    n: int | None = 100  #: candidates step-sampled per program (fewer if it has fewer distinct ones); None: all
    eps: float = 0.3  #: a pair needs (slow - fast) / slow > eps
    repr: str = "asm"  #: asm (normalised objdump of the object) | ir (normalised optimised IR)
    metric: str = "insns"
    target: str = "aarch64"
    split: tuple[float, float, float] = DEFAULT_SPLIT  #: train, validation, test fractions of programs
    split_explicit: bool = False  #: the user chose ``split``: allow empty splits (few programs)
    seed: int = 0
    max_pairs_per_program: int | None = None  #: seeded sample of a program's pairs; None = all
    verify_hash: bool = True  #: drop a candidate whose recompiled binary differs from the measured one
    jobs: int = 1  #: parallel recompiles
    plots: bool = True  #: write the PNG plots (matplotlib is the slow part of a small build)
    cbench_root: str | None = None  #: to resolve cbench/... programs
    testsuite_root: str | None = None  #: to resolve testsuite/... programs
    #: program -> train | validation | test, fixed beforehand (a corpus's family split); None: seeded
    fixed_splits: dict[str, str] | None = None

    def __post_init__(self):
        self.out = Path(self.out)
        if self.repr not in REPRS:
            raise DatasetError(f"repr must be one of {', '.join(REPRS)}, not '{self.repr}'")
        if self.n is not None and self.n < 2:
            raise DatasetError(f"n must be at least 2 (got {self.n})")
        if not (0 <= self.eps < 1):
            raise DatasetError(f"eps must be in [0, 1) (got {self.eps})")
        if self.max_pairs_per_program is not None and self.max_pairs_per_program < 1:
            raise DatasetError("max_pairs_per_program must be at least 1")
        if self.jobs < 1:
            raise DatasetError("jobs must be at least 1")
        self.split = parse_split(self.split)
        if self.benchmarks is not None:
            self.benchmarks = list(dict.fromkeys(self.benchmarks))


def parse_split(split: str | Sequence[float]) -> tuple[float, float, float]:
    """``"0.7,0.15,0.15"`` or three numbers -> normalised (train, validation, test) fractions."""
    try:
        parts = [float(x) for x in (split.split(",") if isinstance(split, str) else split)]
    except (TypeError, ValueError):
        raise DatasetError(f"split must be three numbers train,validation,test (got {split!r})") from None
    if len(parts) != 3 or any(not math.isfinite(p) or p < 0 for p in parts) or sum(parts) <= 0:
        raise DatasetError(f"split must be three non-negative numbers train,validation,test with a "
                           f"positive sum (got {split!r})")
    total = sum(parts)
    return tuple(p / total for p in parts)  # type: ignore[return-value]


@dataclass
class ProgramSummary:
    program: str
    records: int = 0  #: valid records (status ok, metric, target) in the chosen group
    other_groups: int = 0  #: valid records left out: another repeat, runner, toolchain or source version
    unique: int = 0  #: distinct code among them
    sampled: int = 0  #: candidates written (after recompiling and deduping listings)
    pairs: int = 0
    split: str = ""  #: "" when the program was skipped
    skipped: str = ""  #: why the program is not in the dataset
    dropped: dict[str, int] = field(default_factory=dict)  #: sampled candidates dropped, by reason
    plots: list[str] = field(default_factory=list)
    latency_min: float | None = None
    latency_max: float | None = None


@dataclass
class DatasetSummary:
    out: str
    db: str
    config: dict[str, Any]
    programs: list[ProgramSummary]
    splits: dict[str, list[str]]
    split_counts: dict[str, dict[str, int]]  #: split -> programs, candidates, pairs, faster, slower
    files: list[str]
    versions: dict[str, Any]
    seconds: float = 0.0
    created_at: str = ""
    dataset_version: int = DATASET_VERSION

    @property
    def used(self) -> list[ProgramSummary]:
        return [p for p in self.programs if not p.skipped]

    @property
    def total_pairs(self) -> int:
        return sum(p.pairs for p in self.programs)

    @property
    def total_candidates(self) -> int:
        return sum(p.sampled for p in self.programs)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["totals"] = {"programs": len(self.used), "skipped": len(self.programs) - len(self.used),
                       "records": sum(p.records for p in self.programs),
                       "candidates": self.total_candidates, "pairs": self.total_pairs}
        return d

    @classmethod
    def load(cls, out: str | os.PathLike) -> "DatasetSummary":
        """Read ``dataset.json`` of a built dataset."""
        path = Path(out) / SUMMARY_FILE
        try:
            d = json.loads(path.read_text())
        except (OSError, ValueError) as e:
            raise DatasetError(f"cannot read dataset summary {path}: {e}") from None
        d.pop("totals", None)
        d["programs"] = [ProgramSummary(**p) for p in d["programs"]]
        return cls(**d)


@dataclass
class Candidate:
    """One measured candidate of a program: its code (the program's own functions) and latency.

    Made by recompiling a record (:func:`candidates_from_db`, :func:`build_dataset`) or
    read back from ``ranking.jsonl`` (:func:`load_ranking`); the cost model trains on,
    scores and is evaluated on these.
    """

    program: str
    latency: float  #: the metric's value (the mean of ``n_records`` records of this code)
    functions: dict[str, str]  #: the program's own functions, normalised: name -> text
    pipeline: str = ""
    id: str = ""  #: sha256 prefix of ``text`` (equal code, equal id); ``candidate`` in ranking.jsonl
    split: str = ""  #: train | validation | test ("" when not split)
    program_dir: str = ""  #: a directory suite's program folder (eval and train find it from anywhere)
    record_id: int | None = None
    pass_seq: list[str] | None = None
    n_records: int = 1  #: records of this code behind ``latency``
    binary_hash: str = ""
    ir_hash: str = ""
    text: str = ""  #: the whole listing (:func:`listing_text` of ``functions`` when not given)
    rank: int = 0  #: 0 = fastest of its program's candidates
    extra: dict = field(default_factory=dict, compare=False)  #: a consumer's own data (e.g. profile weights)

    def __post_init__(self):
        if not self.text and self.functions:
            self.text = listing_text(self.functions)
        if not self.id and self.text:
            self.id = text_id(self.text)

    @property
    def candidate(self) -> str:
        """The id under its ``ranking.jsonl`` name."""
        return self.id

    def ranking_row(self) -> dict[str, Any]:
        """This candidate as a ``ranking.jsonl`` line (see the module docstring)."""
        return {"program": self.program, "candidate": self.id, "pipeline": self.pipeline, "latency": self.latency,
                "text": self.text, "functions": self.functions, "split": self.split, "rank": self.rank,
                "record_id": self.record_id, "n_records": self.n_records, "pass_seq": self.pass_seq,
                "binary_hash": self.binary_hash, "ir_hash": self.ir_hash,
                **({"program_dir": self.program_dir} if self.program_dir else {})}


@dataclass
class Pair:
    program: str
    fast: Candidate
    slow: Candidate

    @property
    def gap(self) -> float:
        return relative_gap(self.fast.latency, self.slow.latency)


# --------------------------------------------------------------------------- pure helpers

def relative_gap(a: float, b: float) -> float:
    """``(slow - fast) / slow`` of two latencies (0 when both are 0)."""
    slow, fast = max(a, b), min(a, b)
    return (slow - fast) / slow if slow > 0 else 0.0


def step_sample(n_items: int, n: int) -> list[int]:
    """Indices of ``n`` items at even steps over ``n_items`` sorted ones, ends included
    (all of them when ``n_items <= n``)."""
    if n_items <= n:
        return list(range(n_items))
    if n == 1:
        return [0]
    return sorted({round(i * (n_items - 1) / (n - 1)) for i in range(n)})


def listing_text(functions: dict[str, str]) -> str:
    """The whole listing: functions sorted by name, no blank lines, newline-terminated."""
    lines: list[str] = []
    for name in sorted(functions):
        lines.extend(l for l in functions[name].splitlines() if l.strip())
    return "\n".join(lines) + ("\n" if lines else "")


def text_id(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def assign_splits(programs: Sequence[str], fractions: Sequence[float], seed: int,
                  explicit: bool) -> dict[str, list[str]]:
    """Programs -> train/validation/test, seeded, every program in exactly one split.

    Counts follow the fractions (largest remainder); every split with a non-zero
    fraction gets at least one program when there are enough programs. With fewer
    programs than non-zero fractions that is an error unless ``explicit``.
    """
    progs = sorted(programs)
    wanted = [i for i, f in enumerate(fractions) if f > 0]
    if len(progs) < len(wanted) and not explicit:
        raise DatasetError(
            f"only {len(progs)} program(s) left for a train/validation/test split by program, which "
            f"needs {len(wanted)}: add programs, or pass --split explicitly (e.g. --split 1,0,0 puts "
            f"every program in train)")
    random.Random(f"costtune-split:{seed}").shuffle(progs)
    total = len(progs)
    raw = [f * total for f in fractions]
    counts = [math.floor(r) for r in raw]
    by_remainder = sorted(range(3), key=lambda i: (-(raw[i] - counts[i]), i))
    for i in by_remainder[:total - sum(counts)]:
        counts[i] += 1
    if total >= len(wanted):
        for i in wanted:
            if counts[i] == 0:
                donor = max(range(3), key=lambda j: (counts[j], -j))
                counts[donor] -= 1
                counts[i] = 1
    out, start = {}, 0
    for name, c in zip(SPLITS, counts):
        out[name] = sorted(progs[start:start + c])
        start += c
    for i in wanted:
        if not out[SPLITS[i]]:
            log.warning("split '%s' has no program (%d program(s) in all)", SPLITS[i], total)
    return out


def gap_pairs(latencies: Sequence[float], eps: float) -> list[tuple[int, int]]:
    """Index pairs ``(slow, fast)`` of every two latencies whose :func:`relative_gap` exceeds
    ``eps`` - the one definition of a pair for the dataset, training and evaluation - in
    ``(slow, fast)`` order."""
    lat = list(latencies)
    out = []
    for i in range(len(lat)):
        for j in range(i + 1, len(lat)):
            if relative_gap(lat[i], lat[j]) > eps:
                out.append((i, j) if lat[i] > lat[j] else (j, i))
    return sorted(out)


def make_pairs(cands: Sequence[Candidate], eps: float, max_pairs: int | None, rng: random.Random) -> list[Pair]:
    """:func:`gap_pairs` of the candidates as :class:`Pair` objects (a seeded sample of ``max_pairs``)."""
    found = sorted(gap_pairs([c.latency for c in cands], eps), key=lambda p: (min(p), max(p)))
    pairs = [Pair(cands[slow].program, cands[fast], cands[slow]) for slow, fast in found]
    if max_pairs is not None and len(pairs) > max_pairs:
        keep = sorted(rng.sample(range(len(pairs)), max_pairs))
        pairs = [pairs[k] for k in keep]
    return pairs


def label_pairs(pairs: Sequence[Pair], rng: random.Random) -> list[tuple[Pair, bool]]:
    """Shuffle and give exactly half (+-1) ``code1 faster`` (True): (pair, code1_is_fast)."""
    order = list(pairs)
    rng.shuffle(order)
    first = rng.random() < 0.5  # which label the odd one out gets
    return [(p, (k % 2 == 0) == first) for k, p in enumerate(order)]


# --------------------------------------------------------------------------- reading the records

def _group_key(r) -> tuple:
    return (r.repeat if r.repeat is not None else -1, r.runner or "", r.toolchain_fingerprint or "",
            r.source_hash or "")


def _valid_records(store, program: str, cfg: DatasetConfig) -> tuple[list, int]:
    """The program's comparable valid records and how many valid ones were left out."""
    rows = [r for r in store.records(benchmark=program, metric=cfg.metric, status="ok")
            if r.target == cfg.target and r.value is not None and math.isfinite(r.value) and r.value > 0]
    if not rows:
        return [], 0
    groups: dict[tuple, list] = defaultdict(list)
    for r in rows:
        groups[_group_key(r)].append(r)
    key = max(groups, key=lambda k: (len(groups[k]), str(k)))
    if len(groups) > 1:
        log.warning("%s: records of %d incomparable groups (repeat, runner, toolchain, sources); using "
                    "repeat=%s runner=%s (%d records), leaving out %d", program, len(groups), key[0], key[1],
                    len(groups[key]), len(rows) - len(groups[key]))
    return groups[key], len(rows) - len(groups[key])


def _code_key(r, repr: str) -> str:
    if repr == "ir":
        return r.ir_hash or r.binary_hash or f"record:{r.id}"
    return r.text_hash or r.binary_hash or f"record:{r.id}"


def _unique_sorted(records: list, repr: str) -> list[tuple[Any, float, int]]:
    """(representative record, mean latency, count) per distinct code, sorted by latency."""
    groups: dict[str, list] = defaultdict(list)
    for r in records:
        groups[_code_key(r, repr)].append(r)
    out = []
    for rs in groups.values():
        rs.sort(key=lambda r: r.id or 0)
        out.append((rs[0], sum(r.value for r in rs) / len(rs), len(rs)))
    out.sort(key=lambda t: (t[1], t[0].id or 0))
    return out


# --------------------------------------------------------------------------- recompiling

class _Builder:
    """Recompiles records' pipelines with the toolchain they were measured with."""

    def __init__(self, cfg: DatasetConfig, toolchain=None):
        self.cfg = cfg
        self._fixed_tc = toolchain
        self._tcs: dict[int | None, Any] = {}
        self._benches: dict[str, Any] = {}
        self.versions: dict[str, dict[str, str]] = {}

    def toolchain_for(self, record):
        from costtune import toolchain as tcmod

        if self._fixed_tc is not None:
            tc = self._fixed_tc
        else:
            major = None
            version = (record.toolchain or {}).get("opt") or (record.toolchain or {}).get("clang")
            if version and version.split(".")[0].isdigit():
                major = int(version.split(".")[0])
            if major not in self._tcs:
                self._tcs[major] = tcmod.find(major, require_qemu=False)
            tc = self._tcs[major]
        self.versions.setdefault(f"llvm-{tc.llvm}", tc.versions)
        return tc

    def bench(self, program: str, program_dir: str | None = None):
        """The benchmark ``program``; ``program_dir``: where its records say a directory suite's
        program lives (so a dataset builds from any working directory)."""
        if program not in self._benches:
            from costtune.benchmarks import get_benchmark

            self._benches[program] = get_benchmark(program, program_dir, cbench_root=self.cfg.cbench_root,
                                                    testsuite_root=self.cfg.testsuite_root)
        return self._benches[program]

    def candidate(self, record, latency: float, n_records: int) -> Candidate | str:
        """The record's candidate, or the reason it is dropped."""
        from costtune.asm import program_functions
        from costtune.compile import compile_benchmark

        tc = self.toolchain_for(record)
        res = compile_benchmark(self.bench(record.benchmark), record.pipeline or "O0", self.cfg.target, tc)
        if not res.ok:
            log.warning("%s: recompiling record %s failed: %s", record.benchmark, record.id, res.describe())
            return "recompile_failed"
        art = res.artifact
        if self.cfg.verify_hash and record.binary_hash and art.binary_hash != record.binary_hash:
            log.warning("%s: record %s: the recompiled binary differs from the measured one (toolchain or "
                        "sources changed?); dropped", record.benchmark, record.id)
            return "hash_mismatch"
        try:
            funcs = program_functions(art, self.cfg.repr, tc)
        except CostTuneError as e:
            log.warning("%s: record %s: cannot read its code: %s", record.benchmark, record.id, e)
            return "no_code"
        text = listing_text(funcs)
        if not text:
            return "no_code"
        from costtune.benchmarks import program_dir_of

        return Candidate(program=record.benchmark, id=text_id(text), record_id=record.id,
                         pipeline=record.pipeline, pass_seq=record.pass_seq, latency=latency,
                         n_records=n_records, binary_hash=art.binary_hash, ir_hash=art.ir_hash,
                         functions={k: funcs[k] for k in sorted(funcs)}, text=text,
                         program_dir=program_dir_of(self.bench(record.benchmark)) or "")


# --------------------------------------------------------------------------- writing

def _write_atomic(path: Path, chunks: Iterable[str]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        for c in chunks:
            f.write(c)
    os.replace(tmp, path)


def _json_list(items: Iterable[dict]) -> Iterable[str]:
    """A JSON list written one element at a time (record files can be large)."""
    yield "["
    first = True
    for item in items:
        yield ("\n" if first else ",\n") + json.dumps(item, ensure_ascii=False)
        first = False
    yield "\n]\n"


def _jsonl(items: Iterable[dict]) -> Iterable[str]:
    for item in items:
        yield json.dumps(item, ensure_ascii=False) + "\n"


def _plot_paths(out: Path, program: str) -> tuple[Path, Path]:
    base = out / PLOTS_DIR / program  # "builtin/checksum" -> plots/builtin/checksum_hist.png
    return base.with_name(base.name + "_hist.png"), base.with_name(base.name + "_sorted.png")


# --------------------------------------------------------------------------- the build

def build_dataset(config: DatasetConfig | None = None, *, progress: bool = False, toolchain=None,
                  **kwargs) -> DatasetSummary:
    """Build the dataset described in the module docstring; returns its summary.

    Pass a :class:`DatasetConfig` or its fields as keywords. ``toolchain`` forces
    one toolchain for every recompile (default: the LLVM major each record was
    measured with). Raises :class:`DatasetError` (no usable data, a bad split)
    and :class:`~costtune.errors.RecordStoreError` (the database cannot be read).
    """
    from costtune.records import RecordStore

    cfg = config if config is not None else DatasetConfig(**kwargs)
    if config is not None and kwargs:
        raise TypeError("pass a DatasetConfig or keywords, not both")
    t0 = time.monotonic()
    with RecordStore(cfg.db, create=False) as store:
        db_url = store.url
        present = store.benchmarks()
        if not present:
            raise DatasetError(f"records database {db_url} holds no records")
        if cfg.benchmarks:
            unknown = [b for b in cfg.benchmarks if b not in present]
            if unknown:
                shown = ", ".join(present[:8]) + (", ..." if len(present) > 8 else "")
                raise DatasetError(f"no records of {', '.join(unknown)} in {db_url} (it has {shown})")
            programs = list(cfg.benchmarks)
        else:
            programs = present
        valid = {p: _valid_records(store, p, cfg) for p in programs}
    # fail before the slow part when the split cannot be made (checked again after recompiling)
    usable = [p for p in programs if len(_unique_sorted(valid[p][0], cfg.repr)) >= 2]
    if usable and not cfg.split_explicit and cfg.fixed_splits is None:
        assign_splits(usable, cfg.split, cfg.seed, explicit=False)

    try:
        cfg.out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DatasetError(f"cannot create output directory {cfg.out}: {e.strerror}") from None
    builder = _Builder(cfg, toolchain)
    summaries: dict[str, ProgramSummary] = {}
    cands_by_prog: dict[str, list[Candidate]] = {}
    bar = _progress(progress, total=len(programs), desc="dataset")
    try:
        for program in programs:
            summaries[program], cands = _build_program(program, valid[program][0], cfg, builder)
            summaries[program].other_groups = valid[program][1]
            if cands:
                cands_by_prog[program] = cands
            bar.update(1)
    finally:
        bar.close()

    if not cands_by_prog:
        by_reason: dict[str, list[str]] = {}
        for p, s in summaries.items():
            by_reason.setdefault(str(s.skipped), []).append(p)
        reasons = "; ".join(f"{ps[0]}: {r}" if len(ps) == 1 else f"{len(ps)} programs ({ps[0]}, ...): {r}"
                            for r, ps in by_reason.items())
        raise DatasetError(f"no program has two usable candidates ({reasons})")

    if cfg.fixed_splits is not None:
        splits = {s: sorted(p for p in cands_by_prog if cfg.fixed_splits.get(p) == s) for s in SPLITS}
        unsplit = sorted(set(cands_by_prog) - {p for ps in splits.values() for p in ps})
        if unsplit:
            raise DatasetError(f"no fixed split for {', '.join(unsplit[:5])}")
    else:
        splits = assign_splits(list(cands_by_prog), cfg.split, cfg.seed, cfg.split_explicit)
    split_of = {p: s for s, ps in splits.items() for p in ps}
    all_pairs: dict[str, list[Pair]] = {s: [] for s in SPLITS}
    for program, cands in cands_by_prog.items():
        split = split_of[program]
        for c in cands:
            c.split = split
        pairs = make_pairs(cands, cfg.eps, cfg.max_pairs_per_program,
                           random.Random(f"costtune-pairs:{cfg.seed}:{program}"))
        summaries[program].split = split
        summaries[program].pairs = len(pairs)
        all_pairs[split].extend(pairs)

    files, labels = _write_files(cfg, cands_by_prog, splits, all_pairs)
    split_counts = {}
    for s in SPLITS:
        labelled = all_pairs[s]
        split_counts[s] = {"programs": len(splits[s]),
                           "candidates": sum(len(cands_by_prog[p]) for p in splits[s]),
                           "pairs": len(labelled),
                           "records": sum(summaries[p].records for p in splits[s])}
    for s in SPLITS:
        split_counts[s].update(labels[s])
    from datetime import datetime, timezone

    summary = DatasetSummary(
        out=str(cfg.out), db=db_url, config=_config_json(cfg), programs=list(summaries.values()),
        splits=splits, split_counts=split_counts, files=sorted(files + [SUMMARY_FILE]),
        versions={"costtune": __version__, "python": platform.python_version(), **builder.versions},
        seconds=round(time.monotonic() - t0, 2),
        created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )
    _write_atomic(cfg.out / SUMMARY_FILE, [json.dumps(summary.to_json(), indent=1) + "\n"])
    log.info("dataset in %s: %d programs, %d candidates, %d pairs (%.1f s)", cfg.out, len(summary.used),
             summary.total_candidates, summary.total_pairs, summary.seconds)
    return summary


def build_dataset_from_corpus(corpus: str | os.PathLike, config: DatasetConfig, *,
                              progress: bool = False) -> DatasetSummary:
    """Rebuild the training data of a corpus file on this machine.

    The corpus is read into ``OUT/corpus.db`` (a records database), every
    candidate is recompiled from the user's checkouts and its binary hash checked
    against the measured one (a mismatch is reported and left out, see
    ``dropped`` in the summary), and the programs keep the corpus's fixed
    family split. ``config.db`` is ignored. A corpus measured with another LLVM
    major than the one installed is refused: its binaries could not match.
    """
    from costtune.corpus import import_corpus, read_corpus
    from costtune.toolchain import find

    header, programs = read_corpus(corpus)
    tc = find(header.get("llvm"), require_qemu=False)
    if header.get("llvm") is not None and tc.llvm != header["llvm"]:
        raise DatasetError(f"the corpus was measured with LLVM {header['llvm']}; LLVM {tc.llvm} is installed")
    if header.get("metric") != config.metric or header.get("target") != config.target:
        raise DatasetError(f"the corpus holds {header.get('metric')} on {header.get('target')}, not "
                           f"{config.metric} on {config.target}")
    try:
        config.out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DatasetError(f"cannot create output directory {config.out}: {e.strerror}") from None
    db = config.out / "corpus.db"
    import_corpus(corpus, db)
    config.db = str(db)
    config.fixed_splits = {p["benchmark"]: p["split"] for p, _ in programs}
    config.verify_hash = True
    return build_dataset(config, progress=progress, toolchain=tc)


def _config_json(cfg: DatasetConfig) -> dict[str, Any]:
    d = asdict(cfg)
    d.pop("db")
    d["out"] = str(cfg.out)
    d["split"] = list(cfg.split)
    return d


def _progress(enabled: bool, **kwargs):
    from tqdm import tqdm

    return tqdm(disable=not enabled, leave=False, **kwargs)


def _build_program(program: str, records: list, cfg: DatasetConfig,
                   builder: _Builder) -> tuple[ProgramSummary, list[Candidate]]:
    ps = ProgramSummary(program=program, records=len(records))
    if len(records) < 2:
        ps.skipped = f"{len(records)} valid record(s) ({cfg.metric}, {cfg.target}, status ok); needs 2"
        log.warning("%s: skipped: %s", program, ps.skipped)
        return ps, []
    values = [r.value for r in records]
    ps.latency_min, ps.latency_max = min(values), max(values)
    unique = _unique_sorted(records, cfg.repr)
    ps.unique = len(unique)
    picks = step_sample(len(unique), cfg.n) if cfg.n is not None else list(range(len(unique)))

    if cfg.plots:  # every valid record; the sampled distinct candidates highlighted
        from costtune.plots import latency_histogram, sorted_latencies

        hist, srt = _plot_paths(cfg.out, program)
        latency_histogram(values, hist, title=program, metric=cfg.metric)
        picked_ids = {unique[i][0].id for i in picks}
        order = sorted(records, key=lambda r: (r.value, r.id or 0))
        marked = [k for k, r in enumerate(order) if r.id in picked_ids]
        sorted_latencies(values, srt, title=program, metric=cfg.metric, highlight=marked)
        ps.plots = [str(p.relative_to(cfg.out)) for p in (hist, srt)]

    if len(unique) < 2:
        ps.skipped = f"{len(records)} valid records but only 1 distinct code"
        log.warning("%s: skipped: %s", program, ps.skipped)
        return ps, []
    try:
        bench = builder.bench(program, next((r.detail["program_dir"] for r in records
                                             if (r.detail or {}).get("program_dir")), None))
    except CostTuneError as e:
        ps.skipped = f"cannot resolve the benchmark to recompile it: {e}"
        log.warning("%s: skipped: %s", program, ps.skipped)
        return ps, []
    measured_source = records[0].source_hash
    # a corpus is checked candidate by candidate (binary hashes): where the checkout lies must
    # not matter, and an older source hash may have included it
    if (cfg.verify_hash and cfg.fixed_splits is None and measured_source
            and measured_source != bench.source_hash()):
        ps.skipped = "its sources changed since it was measured (collect it again)"
        log.warning("%s: skipped: %s", program, ps.skipped)
        return ps, []

    jobs = [unique[i] for i in picks]
    if cfg.jobs > 1:
        with concurrent.futures.ThreadPoolExecutor(cfg.jobs) as pool:
            results = list(pool.map(lambda t: builder.candidate(*t), jobs))
    else:
        results = [builder.candidate(*t) for t in jobs]
    dropped: Counter = Counter()
    cands: list[Candidate] = []
    seen: set[str] = set()
    for res in results:
        if isinstance(res, str):
            dropped[res] += 1
        elif res.id in seen:
            dropped["same_listing"] += 1
        else:
            seen.add(res.id)
            cands.append(res)
    cands.sort(key=lambda c: (c.latency, c.record_id or 0))
    for k, c in enumerate(cands):
        c.rank = k
    ps.dropped = dict(dropped)
    ps.sampled = len(cands)
    if len(cands) < 2:
        ps.skipped = f"fewer than 2 usable candidates after recompiling ({dict(dropped)})"
        log.warning("%s: skipped: %s", program, ps.skipped)
        return ps, []
    return ps, cands


def _write_files(cfg: DatasetConfig, cands_by_prog: dict[str, list[Candidate]],
                 splits: dict[str, list[str]], pairs: dict[str, list[Pair]]
                 ) -> tuple[list[str], dict[str, dict[str, int]]]:
    """Write every file; (file names, split -> label counts)."""
    out = cfg.out
    written = []
    labels = {}
    instruction = INSTRUCTIONS[cfg.repr]
    for s in SPLITS:
        labelled = label_pairs(pairs[s], random.Random(f"costtune-labels:{cfg.seed}:{s}"))
        records, metas = [], []
        for p, code1_fast in labelled:
            c1, c2 = (p.fast, p.slow) if code1_fast else (p.slow, p.fast)
            records.append({F_INSTRUCTION: instruction, F_CODE1: c1.text, F_CODE2: c2.text,
                            F_OUTPUT: FASTER if code1_fast else SLOWER})
            metas.append({"program": p.program, "split": s, "code1": c1.id, "code2": c2.id,
                          "code1_latency": c1.latency, "code2_latency": c2.latency, "gap": p.gap,
                          "code1_pipeline": c1.pipeline, "code2_pipeline": c2.pipeline,
                          "code1_record": c1.record_id, "code2_record": c2.record_id,
                          "output": FASTER if code1_fast else SLOWER})
        n_fast = sum(1 for _, f in labelled if f)
        labels[s] = {"faster": n_fast, "slower": len(labelled) - n_fast}
        _write_atomic(out / RECORD_FILES[s], _json_list(records))
        _write_atomic(out / META_FILES[s], _json_list(metas))
        written += [RECORD_FILES[s], META_FILES[s]]

    ordered = [c for p in sorted(cands_by_prog) for c in cands_by_prog[p]]
    _write_atomic(out / RANKING_FILE, _jsonl({**c.ranking_row(), "repr": cfg.repr} for c in ordered))
    _write_atomic(out / PAIRS_FILE, _jsonl(
        {"program": p.program, "a": p.fast.id, "b": p.slow.id, "latency_a": p.fast.latency,
         "latency_b": p.slow.latency, "gap": p.gap, "split": s}
        for s in SPLITS for p in sorted(pairs[s], key=lambda p: (p.program, p.fast.rank, p.slow.rank))))
    _write_atomic(out / SPLITS_FILE, [json.dumps(
        {**splits, "fractions": list(cfg.split), "explicit": cfg.split_explicit, "seed": cfg.seed},
        indent=1) + "\n"])
    _write_atomic(out / CORPUS_FILE, (("\n" if k else "") + c.text for k, c in enumerate(ordered)))
    return written + [RANKING_FILE, PAIRS_FILE, SPLITS_FILE, CORPUS_FILE], labels


# --------------------------------------------------------------------------- candidates for the model

def candidates_from_db(db: str, benchmarks: Sequence[str] | None = None, repr: str = "asm", metric: str = "insns",
                       target: str = "aarch64", *, verify_hash: bool = True, cbench_root: str | None = None,
                       testsuite_root: str | None = None) -> list[Candidate]:
    """Every distinct measured code of ``benchmarks`` (all programs when None) in a records
    database, recompiled as :func:`build_dataset` does it (one comparable group, identical
    code averaged, the binary hash checked), without sampling and without writing files.

    Raises :class:`DatasetError` when no program has two usable candidates.
    """
    from costtune.records import RecordStore

    cfg = DatasetConfig(db=db, out=Path("."), benchmarks=list(benchmarks) if benchmarks else None, n=None,
                        repr=repr, metric=metric, target=target, verify_hash=verify_hash, plots=False,
                        cbench_root=cbench_root, testsuite_root=testsuite_root)
    with RecordStore(cfg.db, create=False) as store:
        programs = cfg.benchmarks or store.benchmarks()
        valid = {p: _valid_records(store, p, cfg)[0] for p in programs}
    builder = _Builder(cfg)
    out: list[Candidate] = []
    skipped: dict[str, str] = {}
    for program in programs:
        ps, cands = _build_program(program, valid[program], cfg, builder)
        out += cands
        if ps.skipped:
            skipped[program] = ps.skipped
    if not out:
        why = "; ".join(f"{p}: {r}" for p, r in list(skipped.items())[:3])
        raise DatasetError(f"no measured {metric} records of two distinct candidates for "
                           f"{', '.join(programs) or 'any program'} in {db}" + (f" ({why})" if why else ""))
    return out


def _functions_of(row: dict, repr: str) -> dict[str, str]:
    """The row's code in ``repr``: ``functions``/``text`` hold the row's own ``repr`` (asm unless it says)."""
    from costtune.asm import split_functions

    own = row.get("repr", "asm") == repr
    fns = row.get("functions" if own else f"{repr}_functions")
    if isinstance(fns, dict) and fns:
        return {str(k): str(v) for k, v in fns.items()}
    text = row.get("text" if own else repr)
    if isinstance(text, str) and text.strip():
        return split_functions(text) or {"<program>": text}
    raise DatasetError(f"candidate of {row.get('program')} has no {repr} text")


def load_ranking(data: str | os.PathLike, repr: str = "asm") -> list[Candidate]:
    """Candidates from a dataset directory (its ``ranking.jsonl``, splits from ``splits.json``
    where a line has none) or a ``.jsonl`` file of such lines. Lines without a positive
    finite latency are left out."""
    p = Path(data)
    f = p / RANKING_FILE if p.is_dir() else p
    if not f.is_file():
        raise DatasetError(f"no ranking data at {f} (run `costtune dataset` first)")
    splits: dict[str, str] = {}
    sp = f.parent / SPLITS_FILE
    if sp.is_file():
        try:
            for split, progs in json.loads(sp.read_text()).items():
                if isinstance(progs, list):
                    splits.update((str(prog), split) for prog in progs)
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
            out.append(Candidate(prog, lat, _functions_of(row, repr), pipeline=str(row.get("pipeline", "")),
                                 id=str(row.get("candidate", "")),
                                 split=str(row.get("split") or splits.get(prog, "")),
                                 program_dir=str(row.get("program_dir") or ""), record_id=row.get("record_id"),
                                 pass_seq=row.get("pass_seq"), n_records=int(row.get("n_records") or 1),
                                 binary_hash=str(row.get("binary_hash") or ""),
                                 ir_hash=str(row.get("ir_hash") or ""), rank=int(row.get("rank") or 0)))
    if not out:
        raise DatasetError(f"{f} holds no measured candidates")
    return out


def group_by_program(cands: Iterable[Candidate]) -> dict[str, list[Candidate]]:
    groups: dict[str, list[Candidate]] = {}
    for c in cands:
        groups.setdefault(c.program, []).append(c)
    return groups


def split_programs(cands: list[Candidate], test_fraction: float = 0.3, seed: int = 0,
                   test_programs: list[str] | None = None,
                   need_train: bool = True) -> tuple[list[Candidate], list[Candidate]]:
    """(train, test) candidates by program. ``test_programs`` wins; else the candidates' own
    ``split`` (test, else validation, is held out; validation programs train nothing); else
    :func:`assign_splits` with ``test_fraction`` held out.

    Raises :class:`DatasetError` when either side would hold no program (with
    ``need_train=False`` only when no program is held out: evaluation needs no training
    programs but the GBM baseline's).
    """
    progs = sorted({c.program for c in cands})
    if test_programs:
        test = set(test_programs)
    elif any(c.split for c in cands):
        test = {c.program for c in cands if c.split == "test"}
        if not test:
            test = {c.program for c in cands if c.split in ("validation", "val")}
        cands = [c for c in cands if c.program in test or c.split in ("train", "")]
    elif len(progs) == 1 and not need_train:
        test = set(progs)
    else:
        test = set(assign_splits(progs, (1 - test_fraction, 0, test_fraction), seed, explicit=True)["test"])
    train = [c for c in cands if c.program not in test]
    held = [c for c in cands if c.program in test]
    if not held or (need_train and (len(progs) < 2 or not train)):
        raise DatasetError(f"need programs on both sides of the train/test split; have {len(progs)} program(s) "
                           f"({len({c.program for c in train})} train, {len({c.program for c in held})} test)")
    return train, held
