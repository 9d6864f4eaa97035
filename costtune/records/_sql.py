"""The SQLAlchemy record store: one implementation for SQLite and PostgreSQL.

SQLite: WAL journal, a busy timeout, and ``BEGIN IMMEDIATE`` for every writing
transaction, so several processes on one host serialise their writes instead of
failing on a lock upgrade. PostgreSQL: READ COMMITTED with ``INSERT ... ON
CONFLICT DO NOTHING`` and compare-and-swap updates for claims, so workers on
many hosts never take the same job twice. The schema is in the
:mod:`costtune.records` docstring.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import time
from pathlib import Path
from typing import Iterator

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL

from costtune.process import pid_alive
from costtune import __version__
from costtune.errors import MissingExtra, RecordStoreError
from costtune.logging import get_logger
from costtune.records._base import BaseRecordStore
from costtune.records._record import REUSABLE_STATUSES, Record, utcnow

log = get_logger(__name__)

SCHEMA_VERSION = 1
#: seconds a claim lives without its worker finishing (the worker's host can
#: also free it at once when the worker process is gone)
DEFAULT_CLAIM_TTL = 3600.0
#: seconds a SQLite writer waits for another writer's lock before giving up
DEFAULT_BUSY_TIMEOUT = 60.0

CLAIMED, HELD, DONE = "claimed", "held", "done"

_JSON = sa.JSON(none_as_null=True)
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite needs INTEGER for rowid ids

metadata = sa.MetaData()

meta_table = sa.Table(
    "meta", metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

measurements = sa.Table(
    "measurements", metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("job_key", sa.String(64), nullable=False, unique=True),
    sa.Column("benchmark", sa.String(255), nullable=False, index=True),
    sa.Column("suite", sa.String(255), nullable=False),
    sa.Column("target", sa.String(32), nullable=False),
    sa.Column("label", sa.String(64), nullable=False),
    sa.Column("pipeline", sa.Text, nullable=False),
    sa.Column("pass_seq", _JSON),
    sa.Column("toolchain", _JSON),
    sa.Column("toolchain_fingerprint", sa.String(64), nullable=False),
    sa.Column("source_hash", sa.String(64), nullable=False),
    sa.Column("ir_hash", sa.String(64), nullable=False),
    sa.Column("text_hash", sa.String(64), nullable=False),
    sa.Column("binary_hash", sa.String(64), nullable=False),
    sa.Column("metric", sa.String(32), nullable=False),
    sa.Column("value", sa.Double),
    sa.Column("values", _JSON),
    sa.Column("ci_halfwidth", sa.Double),
    sa.Column("n", sa.Integer, nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("stdout_hash", sa.String(64), nullable=False),
    sa.Column("stderr_tail", sa.Text, nullable=False),
    sa.Column("started_at", sa.String(40), nullable=False),
    sa.Column("finished_at", sa.String(40), nullable=False),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("runner", sa.String(255), nullable=False),
    sa.Column("repeat", sa.Integer),
    sa.Column("seed", sa.BigInteger),
    sa.Column("sample_index", sa.Integer),
    sa.Column("reused_from", _ID, sa.ForeignKey("measurements.id")),
    sa.Column("detail", _JSON),
    sa.Index("ix_measurements_dedupe", "binary_hash", "target", "metric", "repeat", "runner"),
)

claims = sa.Table(
    "claims", metadata,
    sa.Column("job_key", sa.String(64), primary_key=True),
    sa.Column("worker", sa.String(255), nullable=False),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("claimed_at", sa.Double, nullable=False),
    sa.Column("expires_at", sa.Double, nullable=False),
)

_RECORD_COLUMNS = [c.name for c in measurements.columns]
_ADVISORY_LOCK = 0x636F737474756E65  # "costtune": serialises schema creation on PostgreSQL


def normalize_url(url: str | os.PathLike) -> URL:
    """A SQLAlchemy URL for a path, ``sqlite:///PATH`` or ``postgresql[+psycopg]://...``."""
    text = os.fspath(url)
    if not text.strip():
        raise RecordStoreError("empty records database URL")
    if "://" not in text:
        return URL.create("sqlite+pysqlite", database=str(Path(text).expanduser().resolve()))
    try:
        u = sa.make_url(text)
    except (sa.exc.ArgumentError, ValueError):
        raise RecordStoreError(f"malformed records database URL '{text}'") from None
    backend = u.get_backend_name()
    if backend in ("postgresql", "postgres"):
        if u.get_driver_name() not in ("psycopg", "postgres", "postgresql", "psycopg2"):
            raise RecordStoreError(f"unsupported PostgreSQL driver '{u.drivername}': use postgresql+psycopg://")
        return u.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        if not u.database or u.database == ":memory:":
            raise RecordStoreError("a SQLite records database needs a file: sqlite:///PATH")
        return u.set(drivername="sqlite+pysqlite", database=str(Path(u.database).expanduser().resolve()))
    raise RecordStoreError(
        f"unsupported records database URL scheme '{u.drivername}' (use a file path, sqlite:///PATH "
        "or postgresql://USER@HOST/DB)")


def _reason(e: BaseException) -> str:
    orig = getattr(e, "orig", None) or e
    lines = [l.strip() for l in str(orig).strip().splitlines() if l.strip()]
    return lines[0] if lines else type(orig).__name__




class RecordStore(BaseRecordStore):
    """Records in a SQLite file or a PostgreSQL database (see :class:`BaseRecordStore`).

    ``url``: a file path, ``sqlite:///PATH``, ``postgresql://USER@HOST[:PORT]/DB``
    (psycopg 3). ``create=False`` refuses to create a database that is not there
    (for readers). ``claim_ttl`` is the life of a claim in seconds;
    ``busy_timeout`` how long a SQLite writer waits for a lock.
    """

    def __init__(self, url: str | os.PathLike, *, create: bool = True,
                 claim_ttl: float = DEFAULT_CLAIM_TTL, busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
                 worker: str | None = None):
        self.sa_url = normalize_url(url)
        self.dialect = self.sa_url.get_backend_name()
        self.url = (self.sa_url.database if self.dialect == "sqlite"
                    else self.sa_url.render_as_string(hide_password=True))
        self.claim_ttl = float(claim_ttl)
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.worker = worker or f"{self.host}:{self.pid}:{secrets.token_hex(4)}"
        self._sqlite = self.dialect == "sqlite"
        if self._sqlite:
            self._prepare_sqlite_file(create)
            self.engine = sa.create_engine(self.sa_url, connect_args={"timeout": busy_timeout})
            self._install_sqlite_hooks(busy_timeout)
        else:
            try:
                import psycopg  # noqa: F401
            except ImportError:
                raise MissingExtra("a PostgreSQL records database", "psycopg") from None
            self.engine = sa.create_engine(self.sa_url, pool_pre_ping=True,
                                           connect_args={"connect_timeout": 15})
        try:
            self._init_schema(create)
        except BaseException:
            self.engine.dispose()
            raise

    # -- setup ---------------------------------------------------------------------------

    def _prepare_sqlite_file(self, create: bool) -> None:
        path = Path(self.sa_url.database)
        if path.is_dir():
            raise RecordStoreError(f"records database '{path}' is a directory")
        if path.exists():
            return
        if not create:
            raise RecordStoreError(f"no records database at '{path}'")
        if not path.parent.is_dir():  # a mistyped path must not grow a directory tree
            raise RecordStoreError(f"cannot create records database '{path}': directory {path.parent} does not exist")
        if not os.access(path.parent, os.W_OK | os.X_OK):
            raise RecordStoreError(f"cannot create records database '{path}': directory not writable")

    def _install_sqlite_hooks(self, busy_timeout: float) -> None:
        @event.listens_for(self.engine, "connect")
        def _connect(dbapi_conn, _record):
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            cur.execute("PRAGMA journal_mode = WAL")
            cur.execute("PRAGMA synchronous = NORMAL")
            cur.execute("PRAGMA foreign_keys = ON")
            cur.close()

        @event.listens_for(self.engine, "begin")
        def _begin(conn):
            write = conn.get_execution_options().get("costtune_write", True)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    @contextlib.contextmanager
    def _tx(self, action: str, write: bool = True) -> Iterator[sa.Connection]:
        """One transaction; database errors become one-line RecordStoreErrors."""
        try:
            with self.engine.connect() as conn:
                conn.execution_options(costtune_write=write)
                with conn.begin():
                    yield conn
        except sa.exc.SQLAlchemyError as e:
            raise RecordStoreError(f"records database {self.url}: {action} failed: {_reason(e)}") from None

    def _init_schema(self, create: bool) -> None:
        with self._tx("opening") as conn:
            if not self._sqlite:
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _ADVISORY_LOCK})
            tables = set(sa.inspect(conn).get_table_names())
            if "meta" in tables:
                raw = conn.execute(sa.select(meta_table.c.value).where(meta_table.c.key == "schema_version")).scalar()
                try:
                    version = int(raw)
                except (TypeError, ValueError):
                    raise RecordStoreError(f"records database {self.url}: bad schema_version {raw!r}") from None
                if version > SCHEMA_VERSION:
                    raise RecordStoreError(
                        f"records database {self.url} has schema version {version}, newer than this "
                        f"costtune supports ({SCHEMA_VERSION}): upgrade costtune")
                if version < SCHEMA_VERSION:  # no older versions exist yet
                    raise RecordStoreError(
                        f"records database {self.url} has schema version {version}, no migration to "
                        f"{SCHEMA_VERSION} is known")
                missing = {"measurements", "claims"} - tables
                if missing:
                    raise RecordStoreError(f"records database {self.url} lacks tables {sorted(missing)}")
                self.schema_version = version
                return
            if "measurements" in tables:
                raise RecordStoreError(f"{self.url} has a 'measurements' table but no costtune schema")
            if not create:
                raise RecordStoreError(f"{self.url} holds no costtune records")
            metadata.create_all(conn)
            conn.execute(sa.insert(meta_table), [
                {"key": "schema_version", "value": str(SCHEMA_VERSION)},
                {"key": "created_at", "value": utcnow()},
                {"key": "created_by", "value": f"costtune {__version__}"},
            ])
            self.schema_version = SCHEMA_VERSION
            log.info("created records schema v%d in %s", SCHEMA_VERSION, self.url)

    def meta(self) -> dict[str, str]:
        with self._tx("reading meta", write=False) as conn:
            return {k: v for k, v in conn.execute(sa.select(meta_table.c.key, meta_table.c.value))}

    # -- records -------------------------------------------------------------------------

    def _insert(self, table: sa.Table):
        if self._sqlite:
            from sqlalchemy.dialects.sqlite import insert
        else:
            from sqlalchemy.dialects.postgresql import insert
        return insert(table)

    @staticmethod
    def _row(record: Record) -> dict:
        d = record.to_dict()
        d.pop("id")
        for k in ("started_at", "finished_at"):
            d[k] = d[k] or utcnow()
        return d

    @staticmethod
    def _record(row) -> Record:
        m = row._mapping
        d = {k: m[k] for k in _RECORD_COLUMNS}
        d["values"] = list(d["values"] or [])
        d["toolchain"] = dict(d["toolchain"] or {})
        d["detail"] = dict(d["detail"] or {})
        return Record(**d)

    def _add(self, conn: sa.Connection, record: Record) -> int | None:
        stmt = (self._insert(measurements).values(self._row(record))
                .on_conflict_do_nothing(index_elements=["job_key"]).returning(measurements.c.id))
        new_id = conn.execute(stmt).scalar()
        if new_id is not None:
            record.id = int(new_id)
        return None if new_id is None else int(new_id)

    def add(self, record: Record) -> int | None:
        with self._tx("writing a record") as conn:
            return self._add(conn, record)

    def add_many(self, records: list[Record], reuse_keys: list[str | None] | None = None) -> int:
        """Insert all in one transaction (each idempotent); the number inserted.

        ``reuse_keys[i]``, when given, is the job key of the record that
        ``records[i]`` reuses; its id (in this database) becomes ``reused_from``.
        """
        with self._tx("writing records") as conn:
            inserted = 0
            for i, r in enumerate(records):
                key = reuse_keys[i] if reuse_keys else None
                if key:
                    r.reused_from = conn.execute(
                        sa.select(measurements.c.id).where(measurements.c.job_key == key)).scalar()
                inserted += self._add(conn, r) is not None
            return inserted

    def get(self, job_key: str) -> Record | None:
        with self._tx("reading a record", write=False) as conn:
            row = conn.execute(sa.select(measurements).where(measurements.c.job_key == job_key)).first()
        return self._record(row) if row else None

    def get_by_id(self, record_id: int) -> Record | None:
        with self._tx("reading a record", write=False) as conn:
            row = conn.execute(sa.select(measurements).where(measurements.c.id == record_id)).first()
        return self._record(row) if row else None

    def job_keys(self, benchmark: str | None = None) -> set[str]:
        q = sa.select(measurements.c.job_key)
        if benchmark:
            q = q.where(measurements.c.benchmark == benchmark)
        with self._tx("reading job keys", write=False) as conn:
            return set(conn.execute(q).scalars())

    def records(self, *, benchmark: str | None = None, metric: str | None = None,
                status: str | None = None) -> Iterator[Record]:
        q = sa.select(measurements).order_by(measurements.c.id)
        if benchmark:
            q = q.where(measurements.c.benchmark == benchmark)
        if metric:
            q = q.where(measurements.c.metric == metric)
        if status:
            q = q.where(measurements.c.status == status)
        with self._tx("reading records", write=False) as conn:
            rows = conn.execute(q).all()
        return iter([self._record(r) for r in rows])

    def count(self) -> int:
        with self._tx("counting records", write=False) as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(measurements)).scalar())

    def benchmarks(self) -> list[str]:
        with self._tx("listing benchmarks", write=False) as conn:
            return list(conn.execute(sa.select(measurements.c.benchmark).distinct()
                                     .order_by(measurements.c.benchmark)).scalars())

    def lookup_binary(self, binary_hash: str, *, target: str, metric: str, repeat: int | None,
                      runner: str, host: str | None = None) -> Record | None:
        if not binary_hash:
            return None
        c = measurements.c
        q = (sa.select(measurements)
             .where(c.binary_hash == binary_hash, c.target == target, c.metric == metric,
                    c.repeat == repeat, c.runner == runner, c.reused_from.is_(None),
                    c.status.in_(REUSABLE_STATUSES))
             .order_by(c.id).limit(1))
        if host is not None:
            q = q.where(c.host == host)
        with self._tx("looking up a binary", write=False) as conn:
            row = conn.execute(q).first()
        return self._record(row) if row else None

    # -- claims --------------------------------------------------------------------------

    def _stale(self, claim, now: float) -> bool:
        if claim.expires_at < now:
            return True
        if claim.host == self.host and claim.pid != self.pid:  # is that process on this host gone?
            return not pid_alive(claim.pid)
        return False

    def claim(self, job_key: str) -> str:
        """``"claimed"`` (now ours), ``"held"`` (a live worker has it) or ``"done"`` (recorded).

        The claim row is taken first and the record looked for after: under
        PostgreSQL's READ COMMITTED each statement sees what committed before it,
        and a finishing worker writes its record and drops its claim in one
        transaction, so a job whose claim we could take is either unrecorded or
        its record is visible to the check that follows.
        """
        now = time.time()
        row = {"job_key": job_key, "worker": self.worker, "host": self.host, "pid": self.pid,
               "claimed_at": now, "expires_at": now + self.claim_ttl}
        ins = self._insert(claims).values(row).on_conflict_do_nothing(index_elements=["job_key"])
        recorded = sa.select(measurements.c.id).where(measurements.c.job_key == job_key)
        with self._tx("claiming a job") as conn:
            took = conn.execute(ins).rowcount == 1
            if not took:
                cur = conn.execute(sa.select(claims).where(claims.c.job_key == job_key)).first()
                if cur is None:  # released between our insert and our select
                    took = conn.execute(ins).rowcount == 1
                elif cur.worker == self.worker:
                    conn.execute(sa.update(claims).where(claims.c.job_key == job_key).values(row))
                    took = True
                elif self._stale(cur, now):
                    took = conn.execute(
                        sa.update(claims)
                        .where(claims.c.job_key == job_key, claims.c.worker == cur.worker,
                               claims.c.claimed_at == cur.claimed_at)
                        .values(row)).rowcount == 1
                    if took:
                        log.info("took over stale claim on %s from %s", job_key, cur.worker)
            if conn.execute(recorded).first():
                if took:
                    conn.execute(sa.delete(claims).where(claims.c.job_key == job_key,
                                                         claims.c.worker == self.worker))
                return DONE
            return CLAIMED if took else HELD

    def release(self, job_key: str) -> None:
        with self._tx("releasing a claim") as conn:
            conn.execute(sa.delete(claims).where(claims.c.job_key == job_key, claims.c.worker == self.worker))

    def held(self, prefix: str) -> int:
        now = time.time()
        q = sa.select(claims).where(claims.c.job_key.startswith(prefix, autoescape=True))
        with self._tx("counting claims", write=False) as conn:
            return sum(1 for c in conn.execute(q) if c.worker == self.worker or not self._stale(c, now))

    def release_all(self) -> int:
        """Drop every claim this worker holds; how many."""
        with self._tx("releasing claims") as conn:
            return conn.execute(sa.delete(claims).where(claims.c.worker == self.worker)).rowcount

    def claims(self) -> list[dict]:
        with self._tx("reading claims", write=False) as conn:
            return [dict(r._mapping) for r in conn.execute(sa.select(claims))]

    def complete(self, record: Record) -> int | None:
        with self._tx("writing a record") as conn:
            new_id = self._add(conn, record)
            conn.execute(sa.delete(claims).where(claims.c.job_key == record.job_key,
                                                 claims.c.worker == self.worker))
            return new_id

    def close(self) -> None:
        self.engine.dispose()

    def __repr__(self) -> str:
        return f"RecordStore({self.url!r})"


@contextlib.contextmanager
def opened(store_or_url: "RecordStore | str | os.PathLike", *, create: bool = False) -> Iterator[RecordStore]:
    """The store itself, or a store opened on the URL for the duration (then closed)."""
    if isinstance(store_or_url, BaseRecordStore):
        yield store_or_url
        return
    store = RecordStore(store_or_url, create=create)
    try:
        yield store
    finally:
        store.close()
