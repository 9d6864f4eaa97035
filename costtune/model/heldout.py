"""Ranking a program's candidates the way a cost model is used, on a dataset built with
``costtune dataset --from-corpus`` (its records keep per-function counts and the O0/O3 block profiles).

* **cold** - a program seen for the first time: only its O0 and O3 builds are measured (counts,
  per-function counts, block profiles); every other distinct candidate is ranked.
* **warm** - inside a search: the first ``warm`` measured o3-edits candidates are known as well.

:func:`variant_table` feeds the known candidates to a :class:`~costtune.search.variants.VariantTable`
(the profile estimate; with a function model, the variant model's) as a search would.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from costtune.dataset import Candidate
from costtune.errors import DatasetError

__all__ = ["load", "load_all", "known_and_ranked", "profiled", "reference_of", "variant_table"]


def load_all(dirs: list[Path]) -> dict[str, list[Candidate]]:
    """:func:`load` of several datasets (built from parts of one corpus), merged by program."""
    out: dict[str, list[Candidate]] = {}
    for d in dirs:
        for p, cs in load(d).items():
            out.setdefault(p, cs)
    return out


def is_corpus_dataset(ds) -> bool:
    """Whether ``ds`` was built with ``costtune dataset --from-corpus`` (it keeps the references' block profiles)."""
    return (Path(ds) / "corpus.db").is_file() and (Path(ds) / "ranking.jsonl").is_file()


def load(ds: Path) -> dict[str, list[Candidate]]:
    """Candidates by program from a dataset built from a corpus, with their records' details."""
    from costtune.records import RecordStore

    ds = Path(ds)
    if not is_corpus_dataset(ds):
        raise DatasetError(f"{ds} is not a dataset built with 'costtune dataset --from-corpus' (no corpus.db "
                           "with the O0/O3 block profiles beside ranking.jsonl)")
    rows = [json.loads(x) for x in (ds / "ranking.jsonl").read_text().splitlines() if x.strip()]
    with RecordStore(ds / "corpus.db", create=False) as store:
        recs = {r.id: r for r in store.records()}
        by_prog_recs = defaultdict(list)
        for r in recs.values():
            by_prog_recs[r.benchmark].append(r)
    out: dict[str, list[Candidate]] = defaultdict(list)
    for row in rows:
        r = recs[row["record_id"]]
        siblings = [o for o in by_prog_recs[r.benchmark] if o.binary_hash == row["binary_hash"] and o.status == "ok"]
        labels = {o.label for o in siblings}
        first_edit = min((o.sample_index for o in siblings if o.label.startswith("edit")), default=None)
        out[row["program"]].append(Candidate(
            row["program"], float(row["latency"]), row["functions"], pipeline=row.get("pipeline", ""),
            id=row["candidate"], split=row.get("split", ""),
            extra={"labels": labels, "first_edit": first_edit, "binary_hash": row["binary_hash"],
                   "job_keys": {o.job_key for o in siblings},
                   "per_function": (r.detail or {}).get("functions") or {},
                   "blocks": next((o.detail["blocks"] for o in siblings if "blocks" in (o.detail or {})), None)}))
    return out


def known_and_ranked(cands: list[Candidate], setting: str, warm: int) -> tuple[list[Candidate], list[Candidate]]:
    refs = [c for c in cands if c.extra["labels"] & {"O0", "O3"}]
    edits = sorted((c for c in cands if c.extra["first_edit"] is not None and c not in refs),
                   key=lambda c: c.extra["first_edit"])
    known = refs + (edits[:warm] if setting == "warm" else [])
    return known, [c for c in edits if c not in known]


def reference_of(known: list[Candidate]) -> Candidate | None:
    return next((c for c in known if "O3" in c.extra["labels"]), None)


def profiled(program: str, known: list[Candidate], bench_of, toolchain) -> list[tuple]:
    """What :meth:`~costtune.search.variants.VariantTable.observe` takes for each known candidate, its
    block counts read from its rebuilt binary where the corpus kept its profile (built once, for
    every table of the program). DatasetError when an O0/O3 reference has no block profile (a
    corpus collected without profiles) or does not rebuild to the binary that was profiled."""
    from costtune.compile import compile_benchmark
    from costtune.measure.profile import read_symbols
    from costtune.search.variants import block_counts

    out = []
    for c in known:
        bc = None
        ref = sorted(c.extra["labels"] & {"O0", "O3"})
        if ref and not c.extra["blocks"]:
            raise DatasetError(f"{program}: its {ref[0]} reference has no block profile in the data (was the corpus "
                               "collected without profiles?)")
        if c.extra["blocks"]:
            res = compile_benchmark(bench_of(program), c.pipeline or "O0", "aarch64", toolchain)
            if res.ok and res.artifact.binary_hash == c.extra["binary_hash"]:
                bc = block_counts(c.functions, [tuple(b) for b in c.extra["blocks"]],
                                  read_symbols(res.artifact.binary, toolchain))
            elif ref:
                raise DatasetError(f"{program}: its {ref[0]} reference's profile cannot be read: the binary "
                                   + ("does not build" if not res.ok else "rebuilt here differs from the profiled one"))
        out.append((c.extra["binary_hash"], c.functions, c.extra["per_function"], c.latency, bc))
    return out


def variant_table(observed: list[tuple], function_model=None):
    """A :class:`~costtune.search.variants.VariantTable` fed :func:`profiled`'s candidates in order."""
    from costtune.search.variants import VariantTable

    table = VariantTable(function_model)
    for args in observed:
        table.observe(*args)
    return table
