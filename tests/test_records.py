"""The record store on a real SQLite file and a real PostgreSQL server."""

from __future__ import annotations

import json
import multiprocessing
import os
import sqlite3
import time

import pytest
import sqlalchemy as sa

from conftest import create_database
from costtune import cli
from costtune.errors import RecordStoreError
from costtune.records import (
    CLAIMED,
    DONE,
    HELD,
    SCHEMA_VERSION,
    Record,
    RecordStore,
    export_records,
    import_records,
    job_key,
    normalize_url,
    parse_research_line,
    stats,
)


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    if request.param == "sqlite":
        return str(tmp_path / "records.db")
    return create_database(request.getfixturevalue("postgres_url"))


def make_record(i: int, **kw) -> Record:
    base = dict(
        job_key=job_key(test=i), benchmark="builtin/demo", target="aarch64",
        pipeline=f"function(sroa,instcombine<no-verify-fixpoint>),cgscc(inline)#{i}", metric="insns",
        status="ok", label=f"rand{i}", pass_seq=["sroa", "instcombine", "inline"],
        toolchain={"opt": "19.1.7", "clang": "19.1.7"}, toolchain_fingerprint="f" * 16,
        source_hash="s" * 64, ir_hash=f"i{i}", text_hash=f"t{i}", binary_hash=f"b{i}",
        value=1000.0 + i, values=[1000.0 + i], ci_halfwidth=None, n=1, stdout_hash="o" * 64,
        stderr_tail="", started_at="2026-01-02T03:04:05.000006+00:00",
        finished_at="2026-01-02T03:04:07.500000+00:00", host="hostA", runner="qemu", repeat=3, seed=7, sample_index=i,
        detail={"compile_seconds": 0.25, "nested": {"a": [1, 2]}},
    )
    base.update(kw)
    return Record(**base)


def test_round_trip_every_field(url):
    with RecordStore(url) as store:
        rec = make_record(1, value=12345678901.0, values=[12345678901.0, 12345678902.5],
                          ci_halfwidth=0.125, stderr_tail="Segmentation fault\n\u00e9")
        new_id = store.add(rec)
        assert isinstance(new_id, int)
        got = store.get(rec.job_key)
    want = rec.to_dict()
    have = got.to_dict()
    assert have.pop("id") == new_id
    want.pop("id")
    assert have == want
    assert store.meta()["schema_version"] == str(SCHEMA_VERSION)


def test_nulls_and_failed_records(url):
    with RecordStore(url) as store:
        rec = make_record(2, status="compile_error", value=None, values=[], n=0, pass_seq=None,
                          binary_hash="", ir_hash="", text_hash="", repeat=None, seed=None,
                          sample_index=None, detail={"step": "opt"})
        store.add(rec)
        got = store.get(rec.job_key)
        assert got.value is None and got.pass_seq is None and got.repeat is None
        assert got.status == "compile_error" and got.detail == {"step": "opt"}
        with pytest.raises(ValueError):
            make_record(3, status="exploded")


def test_insert_is_idempotent(url):
    with RecordStore(url) as store:
        rec = make_record(1)
        first = store.add(rec)
        assert first is not None
        dup = make_record(1, value=5.0)  # same job key, another value: ignored
        assert store.add(dup) is None
        assert store.count() == 1
        assert store.get(rec.job_key).value == rec.value
        assert store.add_many([make_record(1), make_record(2), make_record(2), make_record(3)]) == 2
        assert store.count() == 3
        assert store.job_keys() == {job_key(test=i) for i in (1, 2, 3)}
    # a second store object on the same database sees the same rows
    with RecordStore(url) as other:
        assert other.count() == 3
        assert [r.sample_index for r in other.records()] == [1, 2, 3]


def test_lookup_binary_dedupe(url):
    with RecordStore(url) as store:
        first = make_record(1, binary_hash="same")
        store.add(first)
        store.add(make_record(2, binary_hash="hung", status="timeout", value=None))
        store.add(make_record(4, binary_hash="killed", status="crash", value=None))
        hit = store.lookup_binary("same", target="aarch64", metric="insns", repeat=3, runner="qemu")
        assert hit is not None and hit.job_key == first.job_key and hit.value == first.value
        # a reusing record is written, and points at the original
        reuse = make_record(3, binary_hash="same", reused_from=hit.id, value=hit.value)
        store.add(reuse)
        again = store.lookup_binary("same", target="aarch64", metric="insns", repeat=3, runner="qemu")
        assert again.id == hit.id  # always the original measurement
        assert store.get(reuse.job_key).reused_from == hit.id
        for kw in ({"target": "host"}, {"metric": "wall"}, {"repeat": 4}, {"runner": "local"}):
            args = dict(target="aarch64", metric="insns", repeat=3, runner="qemu") | kw
            assert store.lookup_binary("same", **args) is None
        assert store.lookup_binary("same", target="aarch64", metric="insns", repeat=3, runner="qemu",
                                   host="elsewhere") is None
        # a timeout is not a property of the binary: measured again
        assert store.lookup_binary("hung", target="aarch64", metric="insns", repeat=3, runner="qemu") is None
        # nor a crash: it may have been a kill from outside
        assert store.lookup_binary("killed", target="aarch64", metric="insns", repeat=3, runner="qemu") is None
        assert store.lookup_binary("", target="aarch64", metric="insns", repeat=3, runner="qemu") is None


def test_claims_are_exclusive_and_released(url):
    a = RecordStore(url, worker="A")
    b = RecordStore(url, worker="B")
    try:
        assert a.claim("k1") == CLAIMED
        assert b.claim("k1") == HELD
        assert a.claim("k1") == CLAIMED  # a worker may renew its own claim
        a.release("k1")
        assert b.claim("k1") == CLAIMED
        rec = make_record(1, job_key="k1")
        assert b.complete(rec) is not None
        assert a.claim("k1") == DONE
        assert b.claims() == []
    finally:
        a.close()
        b.close()


def test_stale_claims_expire(url):
    a = RecordStore(url, worker="A", claim_ttl=0.3)
    b = RecordStore(url, worker="B")
    try:
        assert a.claim("k") == CLAIMED
        assert b.claim("k") == HELD
        time.sleep(0.5)
        assert b.claim("k") == CLAIMED
        assert a.claim("k") == HELD
    finally:
        a.close()
        b.close()


def _claim_and_die(url, key):
    store = RecordStore(url)
    assert store.claim(key) == CLAIMED
    os._exit(0)  # like kill -9: no release, no cleanup


def test_claims_of_a_dead_local_worker_are_taken_over(url):
    ctx = multiprocessing.get_context("spawn")
    p = ctx.Process(target=_claim_and_die, args=(url, "kd"))
    p.start()
    p.join(60)
    assert p.exitcode == 0
    with RecordStore(url) as store:
        held = store.claims()
        assert [c["pid"] for c in held] == [p.pid]
        assert store.claim("kd") == CLAIMED  # long TTL, but the process is gone


def _claim_many(url, keys, queue, done):
    store = RecordStore(url)
    got = [k for k in keys if store.claim(k) == CLAIMED]
    queue.put(got)
    # a claim whose owner has exited is stale and may be taken over (that is how a killed
    # run resumes), so every claimer stays alive until all have finished claiming
    done.wait(600)
    store.close()


def test_concurrent_processes_claim_each_job_once(url):
    keys = [f"job{i}" for i in range(40)]
    ctx = multiprocessing.get_context("spawn")
    queue, done = ctx.Queue(), ctx.Event()
    procs = [ctx.Process(target=_claim_many, args=(url, keys[::1 if i % 2 else -1], queue, done)) for i in range(3)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=600) for _ in procs]  # generous: CI machines can be loaded
    done.set()
    for p in procs:
        p.join(60)
    claimed = [k for r in results for k in r]
    assert sorted(claimed) == sorted(keys)  # every job exactly once


def test_newer_schema_is_refused(url):
    RecordStore(url).close()
    engine = sa.create_engine(normalize_url(url))
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE meta SET value = '99' WHERE key = 'schema_version'"))
    engine.dispose()
    with pytest.raises(RecordStoreError, match="schema version 99.*upgrade costtune"):
        RecordStore(url)


def test_foreign_database_is_refused(tmp_path):
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE measurements (x INTEGER)")
    conn.commit()
    conn.close()
    with pytest.raises(RecordStoreError, match="no costtune schema"):
        RecordStore(path)


@pytest.mark.parametrize("bad, message", [
    ("mysql://u@h/db", "unsupported records database URL scheme"),
    ("sqlite://", "needs a file"),
    ("postgresql+asyncpg://u@h/db", "unsupported PostgreSQL driver"),
    ("postgresql://u@h:notaport/db", "malformed"),
    ("   ", "empty"),
])
def test_bad_urls(bad, message):
    with pytest.raises(RecordStoreError, match=message):
        RecordStore(bad)


def test_postgres_scheme_maps_to_psycopg():
    assert normalize_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    assert normalize_url("postgresql+psycopg://u@h/db").drivername == "postgresql+psycopg"
    assert normalize_url("sqlite:///x.db").drivername == "sqlite+pysqlite"


def test_unreachable_postgres_is_one_error():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nobody listens here once closed
    with pytest.raises(RecordStoreError, match="records database postgresql.*opening failed"):
        RecordStore(f"postgresql://nobody@127.0.0.1:{port}/none")


def test_unwritable_and_missing_paths(tmp_path):
    # places nobody can create a database in, root included: below a regular file, in /proc
    (tmp_path / "afile").write_text("")
    with pytest.raises(RecordStoreError, match="cannot create"):
        RecordStore(tmp_path / "afile" / "x.db")
    with pytest.raises(RecordStoreError, match="opening failed"):
        RecordStore("/proc/costtune-x.db")
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        if not os.access(ro, os.W_OK):  # directory permissions bind only non-root users
            with pytest.raises(RecordStoreError, match="cannot create"):
                RecordStore(ro / "x.db")
    finally:
        ro.chmod(0o700)
    with pytest.raises(RecordStoreError, match="no records database"):
        RecordStore(tmp_path / "missing.db", create=False)
    with pytest.raises(RecordStoreError, match="is a directory"):
        RecordStore(tmp_path)
    assert not (tmp_path / "missing.db").exists()


def test_unwritable_file_fails_cleanly(tmp_path):
    path = tmp_path / "file-not-dir"
    path.write_text("plain file")
    with pytest.raises(RecordStoreError):
        RecordStore(path / "x.db")
    with pytest.raises(RecordStoreError, match="unable to open"):
        RecordStore("/proc/costtune-test.db")  # not writable even for root


def test_locked_database_is_one_error_and_no_partial_record(tmp_path):
    path = tmp_path / "locked.db"
    RecordStore(path).close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        store = RecordStore(path, busy_timeout=0.2)
    except RecordStoreError as e:  # the open itself may need the lock
        assert "locked" in str(e)
        store = None
    else:
        t0 = time.perf_counter()
        with pytest.raises(RecordStoreError, match="locked"):
            store.add(make_record(1))
        assert time.perf_counter() - t0 < 5
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    with RecordStore(path) as again:
        assert again.count() == 0
    if store:
        store.close()


def test_jsonl_round_trip(url, tmp_path):
    src_url = url
    with RecordStore(src_url) as src:
        src.add(make_record(1, binary_hash="same"))
        orig = src.get(job_key(test=1))
        src.add(make_record(2, binary_hash="same", reused_from=orig.id))
        src.add(make_record(3, status="crash", value=None, values=[], n=0, stderr_tail="killed by SIGSEGV"))
    out = tmp_path / "export" / "records.jsonl"
    summary = export_records(src_url, "jsonl", out)
    assert summary.records == 3 and len(out.read_text().splitlines()) == 3
    dst_url = str(tmp_path / "imported.db")
    assert import_records(dst_url, "jsonl", out).inserted == 3
    assert import_records(dst_url, "jsonl", out).inserted == 0  # idempotent
    with RecordStore(src_url) as a, RecordStore(dst_url) as b:
        ra, rb = list(a.records()), list(b.records())
        strip = lambda r: {k: v for k, v in r.to_dict().items() if k not in ("id", "reused_from")}
        assert [strip(r) for r in ra] == [strip(r) for r in rb]
        reused = b.get(job_key(test=2))
        assert b.get_by_id(reused.reused_from).job_key == job_key(test=1)


def test_research_round_trip(url, tmp_path):
    with RecordStore(url) as store:
        store.add(make_record(0, label="O3", pass_seq=None, pipeline="default<O3>", value=900.0))
        store.add(make_record(1, pass_seq=["sroa", "gvn"], value=1200.0))
        store.add(make_record(2, pass_seq=["licm"], value=1100.5))
        store.add(make_record(3, status="timeout", value=None))  # not exported: no latency
        store.add(make_record(4, benchmark="builtin/other", pass_seq=["adce"], value=7.0))
    out = tmp_path / "research"
    summary = export_records(url, "research", out)
    assert summary.records == 4
    lines = (out / "demo.txt").read_text().splitlines()
    assert [json.loads(l) for l in lines] == [["O3", 900], ["sroa,gvn", 1200], ["licm", 1100.5]]
    dst = str(tmp_path / "back.db")
    got = import_records(dst, "research", out, suite="builtin", metric="insns")
    assert (got.read, got.inserted, got.files) == (4, 4, 2)
    with RecordStore(dst) as back:
        rows = {(r.benchmark, ",".join(r.pass_seq) if r.pass_seq else r.label, r.value, r.status, r.metric)
                for r in back.records()}
    assert rows == {("builtin/demo", "O3", 900.0, "ok", "insns"), ("builtin/demo", "sroa,gvn", 1200.0, "ok", "insns"),
                    ("builtin/demo", "licm", 1100.5, "ok", "insns"), ("builtin/other", "adce", 7.0, "ok", "insns")}


def test_research_lines_from_old_notes(tmp_path):
    assert parse_research_line("['-sroa -gvn', 123]") == ("-sroa -gvn", 123.0)
    assert parse_research_line('["O3", 1.5e3]') == ("O3", 1500.0)
    for bad in ("[1, 2]", "['a']", "not a list", "['a', true]"):
        with pytest.raises(ValueError):
            parse_research_line(bad)
    f = tmp_path / "crc.txt"
    f.write_text("['-sroa -gvn', 123]\n\n['-O3', 100]\n")
    dst = tmp_path / "r.db"
    assert import_records(dst, "research", f, suite="cbench", metric="wall").inserted == 2
    with RecordStore(dst) as s:
        recs = list(s.records())
    assert recs[0].pass_seq == ["sroa", "gvn"] and recs[0].benchmark == "cbench/crc"
    assert recs[1].label == "O3" and recs[1].pipeline == "default<O3>" and recs[1].metric == "wall"
    f.write_text("['x', 1]\nbroken line\n")
    with pytest.raises(RecordStoreError, match="crc.txt:2"):
        import_records(tmp_path / "r2.db", "research", f, suite="cbench", metric="wall")


def test_stats_best_against_o3(url):
    with RecordStore(url) as store:
        store.add(make_record(0, label="O0", value=3000.0))
        store.add(make_record(1, label="O3", value=1000.0))
        store.add(make_record(2, label="rand0", value=800.0))
        store.add(make_record(3, label="rand1", status="crash", value=None))
        store.add(make_record(4, label="rand2", status="compile_error", value=None))
    (row,) = stats(url)
    assert (row.total, row.by_status["ok"], row.by_status["crash"], row.by_status["compile_error"]) == (5, 3, 1, 1)
    assert (row.o0, row.o3, row.best, row.best_label) == (3000.0, 1000.0, 800.0, "rand0")
    assert row.best_vs_o3 == pytest.approx(0.8)
    assert row.failure_rate == pytest.approx(0.4)


def test_cli_stats_export_import(tmp_path, capsys):
    db = tmp_path / "c.db"
    with RecordStore(db) as store:
        store.add(make_record(1, label="O3", value=1000.0))
        store.add(make_record(2, value=900.0))
    assert cli.main(["records", "stats", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert "builtin/demo" in out and "0.900" in out
    assert cli.main(["records", "export", "--db", str(db), "--format", "jsonl", "--out", str(tmp_path / "x.jsonl")]) == 0
    assert cli.main(["records", "import", "--db", str(tmp_path / "y.db"), "--format", "jsonl",
                     str(tmp_path / "x.jsonl")]) == 0
    assert "imported 2 of 2" in capsys.readouterr().out
    # user mistakes: one line, non-zero exit, nothing created
    assert cli.main(["records", "stats", "--db", str(tmp_path / "nope.db")]) != 0
    assert cli.main(["records", "import", "--db", str(tmp_path / "z.db"), "--format", "research", str(tmp_path)]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(l.startswith("costtune: error: ") for l in err)
    assert not (tmp_path / "nope.db").exists() and not (tmp_path / "z.db").exists()


def test_stats_recognise_a_search_s_o3_baseline(tmp_path, capsys):
    """A search labels its baseline search:STUDY:O3 and its trials search:STUDY:tN."""
    from costtune.search import SearchConfig, study_name

    label = f"search:{study_name(SearchConfig(benchmarks=['demo']), 'builtin/demo')}"
    db = tmp_path / "search.db"
    with RecordStore(db) as store:
        store.add(make_record(1, label=f"{label}:O3", value=1000.0))
        store.add(make_record(2, label=f"{label}:t3", value=900.0))
    (row,) = stats(db)
    assert row.o3 == 1000.0 and row.best_vs_o3 == pytest.approx(0.9) and row.best_label == f"{label}:t3"
    assert cli.main(["records", "stats", "--db", str(db)]) == 0
    line = capsys.readouterr().out.splitlines()[1]
    assert " 1000 " in line and " 0.900 " in line


def test_stats_show_the_share_of_o3_outside_the_program_s_own_functions(tmp_path, capsys):
    """collect keeps per-function counts (libc included) and the program's own functions' hashes."""
    db = tmp_path / "r.db"
    with RecordStore(db) as store:
        store.add(make_record(1, label="O3", value=1000.0, detail={
            "functions": {"kernel": 500, "main": 300, "printf": 150, "[unknown]": 50},
            "function_hashes": {"kernel": "a" * 16, "main": "b" * 16}}))
        store.add(make_record(2, value=900.0))
    (row,) = stats(db)
    assert row.outside_o3 == pytest.approx(0.2) and row.to_dict()["outside_o3"] == pytest.approx(0.2)
    assert cli.main(["records", "stats", "--db", str(db)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "outside%" in out[0] and " 20.0 " in out[1] and "keep it small" in out[-1]
