"""Shared fixtures: a real PostgreSQL server for the tests that need one.

``postgres_url`` starts one PostgreSQL server per test session (initdb into a
temporary directory, ``pg_ctl start`` on a free loopback port, unix socket in
that directory, ``fsync=off``) and stops it at the end. Under root, initdb
refuses to run, so the server runs as the ``postgres`` system user through
``runuser``. Tests skip only when the PostgreSQL binaries are absent.
``postgres_db`` gives each test a fresh, empty database on that server.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import socket
import tempfile
from pathlib import Path

import pytest

from costtune import process

PG_USER = "costtune"


def _pg_bindir() -> Path | None:
    candidates = [shutil.which("pg_ctl")] + sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), reverse=True)
    for c in candidates:
        if c and os.path.exists(c):
            d = Path(c).resolve().parent
            if (d / "initdb").exists():
                return d
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def postgres_url():
    bindir = _pg_bindir()
    if bindir is None:
        pytest.fail("PostgreSQL binaries (initdb, pg_ctl) are not installed: run setup.sh")
    prefix: list[str] = []
    root = Path(tempfile.mkdtemp(prefix="costtune-pg-"))
    if os.geteuid() == 0:
        try:
            pw = pwd.getpwnam("postgres")
        except KeyError:
            pytest.fail("running as root and there is no 'postgres' user (apt-get install postgresql creates it)")
        runuser = shutil.which("runuser") or "/usr/sbin/runuser"
        prefix = [runuser, "-u", "postgres", "--"]
        os.chown(root, pw.pw_uid, pw.pw_gid)
    os.chmod(root, 0o700)
    data, log_file = root / "data", root / "server.log"
    port = free_port()
    res = process.run([*prefix, bindir / "initdb", "-D", data, "-U", PG_USER, "--auth=trust",
                       "--no-sync", "-E", "UTF8", "--locale=C"], timeout=120)
    if not res.ok:
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(f"initdb failed: {res.stderr_tail()}")
    opts = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
    res = process.run([*prefix, bindir / "pg_ctl", "-D", data, "-l", log_file, "-w", "-t", "60",
                       "-o", opts, "start"], timeout=90)
    if not res.ok:
        log = log_file.read_text() if log_file.exists() else ""
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(f"pg_ctl start failed: {res.stderr_tail()} {log[-2000:]}")
    try:
        yield f"postgresql+psycopg://{PG_USER}@127.0.0.1:{port}/postgres"
    finally:
        process.run([*prefix, bindir / "pg_ctl", "-D", data, "-m", "immediate", "-w", "stop"], timeout=60)
        shutil.rmtree(root, ignore_errors=True)


def create_database(server_url: str) -> str:
    """A new empty database on the server of ``server_url``; its URL."""
    import psycopg
    import sqlalchemy as sa

    u = sa.make_url(server_url)
    name = f"t_{secrets.token_hex(6)}"
    with psycopg.connect(host=u.host, port=u.port, user=u.username, dbname=u.database, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    return u.set(database=name).render_as_string(hide_password=False)


@pytest.fixture
def postgres_db(postgres_url):
    return create_database(postgres_url)
