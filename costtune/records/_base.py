"""The record-store contract.

A record store keeps :class:`~costtune.records.Record` rows and the claims that let
several workers share one job list. Implementations must hold to this:

* **Idempotent writes.** :meth:`add` and :meth:`complete` insert a record only if
  no record with the same ``job_key`` exists; a second insert is a no-op that
  returns ``None``. Each call is one transaction: a killed writer leaves either
  the whole record or nothing.
* **Exact claims.** :meth:`claim` grants a ``job_key`` to exactly one live worker
  at a time, across threads, processes and hosts that share the database. A
  claim is stale - and may be taken over - once it is older than ``claim_ttl``
  seconds, or at once when its worker ran on this host and that process is gone.
  :meth:`complete` writes the record and drops the claim in one transaction.
* **Dedupe.** :meth:`lookup_binary` finds an earlier record of the same binary
  (hash) under the same target, metric, repeat and runner whose status is a
  property of the binary, so the caller can reuse its measurement.
* **Ownership.** A store object belongs to one process; it is safe to use from
  one thread at a time. Open one store per worker process (after ``fork``, open
  a new one). Stores are cheap to open and must be closed with :meth:`close`
  (or used as a context manager).
* **Errors.** Anything the database refuses (a bad URL, an unwritable path, a
  lock held too long, a newer schema) raises
  :class:`~costtune.errors.RecordStoreError` with a one-line message.
"""

from __future__ import annotations

import abc
from typing import Iterator

from costtune.records._record import Record


class BaseRecordStore(abc.ABC):
    url: str

    @abc.abstractmethod
    def add(self, record: Record) -> int | None:
        """Insert ``record`` unless its job key exists; the new id, or None."""

    def add_many(self, records: list[Record]) -> int:
        """Insert each record as :meth:`add` does; the number inserted."""
        return sum(self.add(r) is not None for r in records)

    @abc.abstractmethod
    def get(self, job_key: str) -> Record | None:
        """The record of ``job_key``, or None."""

    @abc.abstractmethod
    def job_keys(self, benchmark: str | None = None) -> set[str]:
        """Job keys of every stored record (of one benchmark)."""

    @abc.abstractmethod
    def records(self, *, benchmark: str | None = None, metric: str | None = None,
                status: str | None = None) -> Iterator[Record]:
        """Stored records in id order, optionally filtered."""

    @abc.abstractmethod
    def count(self) -> int:
        """Number of stored records."""

    @abc.abstractmethod
    def lookup_binary(self, binary_hash: str, *, target: str, metric: str, repeat: int | None,
                      runner: str, host: str | None = None) -> Record | None:
        """The earliest reusable measurement of this binary, or None (see the contract)."""

    @abc.abstractmethod
    def claim(self, job_key: str) -> str:
        """Take ``job_key`` for this store's worker.

        Returns ``"claimed"`` (the job is now this worker's), ``"held"`` (a live
        worker holds it) or ``"done"`` (a record of it exists).
        """

    @abc.abstractmethod
    def release(self, job_key: str) -> None:
        """Drop this worker's claim on ``job_key`` (no-op if not held)."""

    @abc.abstractmethod
    def held(self, prefix: str) -> int:
        """How many live (not stale) claims, any worker's, have a job key starting with ``prefix``."""

    @abc.abstractmethod
    def complete(self, record: Record) -> int | None:
        """Insert ``record`` and release its claim, in one transaction."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release connections."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
