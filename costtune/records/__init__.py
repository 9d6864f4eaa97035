"""The records database: every measured candidate, in SQLite or PostgreSQL.

Open one with ``RecordStore(url)``; ``url`` is a file path or ``sqlite:///PATH``
(the default kind: one file, WAL journal) or ``postgresql://USER@HOST/DB``
(``postgresql+psycopg://`` is the same; for many workers on many hosts).

Schema, version 1 (``SCHEMA_VERSION``; a database written by a newer costtune
is refused with a clear error):

``meta`` - key/value text: ``schema_version``, ``created_at``, ``created_by``.

``measurements`` - one row per job (candidate build and run):

=====================  =====================================================================
id                     integer primary key
job_key                UNIQUE; hash of what names the job (see below). Inserts are
                       ``ON CONFLICT DO NOTHING``, so writing a record twice is a no-op
benchmark, suite       ``suite/name`` and ``suite``
target                 ``aarch64`` | ``host``
label                  ``O0``..``O3`` for reference builds, ``rand<i>`` for random sample i
pipeline               canonical new-PM text given to ``opt -passes=`` (``""``: no passes)
pass_seq               JSON list of catalog pass names the pipeline came from, or NULL
toolchain              JSON {tool: version}; ``toolchain_fingerprint`` its hash
source_hash            hash of the benchmark's sources and flags
ir_hash, text_hash,    hashes of optimised IR, of the ``.text`` section, of the whole binary
binary_hash            ("" when the compile failed)
metric                 ``insns`` | ``wall`` | ...
value                  the measurement (mean of ``values``); NULL unless measured
values                 JSON list of the repeated samples
ci_halfwidth, n        95% confidence half-width of ``value``, number of samples
status                 ``ok`` | ``compile_error`` | ``crash`` | ``timeout`` | ``wrong_output``
stdout_hash            hash of the program's output
stderr_tail            the last lines of the failing tool's or program's stderr
started_at,            ISO-8601 UTC times
finished_at
host, runner           where it ran and the runner spec (``qemu``, ``local``, ``ssh://u@h``)
repeat                 the benchmark's repeat knob used
seed, sample_index     the collect seed and the sample number (NULL for references)
reused_from            id of the record whose measurement this one reuses: an identical
                       binary (same ``binary_hash``, target, metric, repeat, runner) is
                       measured once (``lookup_binary``)
detail                 JSON extras: compile step that failed, compile/measure seconds
=====================  =====================================================================

``claims`` - work in progress: ``job_key`` (primary key), ``worker``, ``host``,
``pid``, ``claimed_at``, ``expires_at``. A worker claims a job before it builds
it and drops the claim in the transaction that writes the record. A claim is
stale after ``claim_ttl`` seconds, or at once when its process on this host is
gone; stale claims are taken over, so a killed run is resumed exactly.

Job keys (``job_key(...)``) hash (benchmark, target, metric, repeat, runner,
LLVM major, and either the preset for a reference build or (seed, sample index,
pipeline) for a random one): a given seed always yields the same job list, and
a resumed or parallel collection writes each job exactly once.
"""

from costtune.records._base import BaseRecordStore
from costtune.records._io import (
    FORMATS,
    ExportSummary,
    ImportSummary,
    export_records,
    import_records,
    parse_research_line,
    sequence_string,
)
from costtune.records._record import REUSABLE_STATUSES, STATUSES, Record, job_key, utcnow
from costtune.records._sql import (
    CLAIMED,
    DEFAULT_CLAIM_TTL,
    DONE,
    HELD,
    SCHEMA_VERSION,
    RecordStore,
    normalize_url,
    opened,
)
from costtune.records._stats import BenchStats, stats

__all__ = [
    "BaseRecordStore", "RecordStore", "Record", "STATUSES", "REUSABLE_STATUSES", "SCHEMA_VERSION",
    "DEFAULT_CLAIM_TTL", "CLAIMED", "HELD", "DONE", "job_key", "utcnow", "normalize_url",
    "FORMATS", "ExportSummary", "ImportSummary", "export_records", "import_records",
    "parse_research_line", "sequence_string", "BenchStats", "stats", "open_store", "opened",
]


def open_store(url, **kwargs) -> RecordStore:
    """``RecordStore(url, **kwargs)``: the one implementation behind both dialects."""
    return RecordStore(url, **kwargs)
