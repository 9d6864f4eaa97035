"""The ssh runner against a real sshd on loopback, started by the test itself."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from conftest import free_port
from costtune import process
from costtune.benchmarks import DirectorySuite
from costtune.compile import compile_benchmark
from costtune.errors import MeasurementError
from costtune.measure import SshRunner, WallConfig, measure, reference_output

SSHD = Path("/usr/sbin/sshd")



def _keygen(path: Path) -> None:
    res = process.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", path], timeout=30)
    assert res.ok, res.stderr_tail()


@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    """A private sshd on 127.0.0.1:<free port>; yields the ssh options to reach it."""
    d = tmp_path_factory.mktemp("sshd")
    _keygen(d / "host_key")
    _keygen(d / "user_key")
    (d / "authorized_keys").write_text((d / "user_key.pub").read_text())
    port = free_port()
    cfg = d / "sshd_config"
    cfg.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {d / 'host_key'}\n"
        f"AuthorizedKeysFile {d / 'authorized_keys'}\nPidFile {d / 'sshd.pid'}\n"
        "StrictModes no\nUsePAM no\nPermitRootLogin yes\nPasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\nPubkeyAuthentication yes\nSubsystem sftp internal-sftp\n"
    )
    os.makedirs("/run/sshd", exist_ok=True)  # sshd's compiled-in privilege separation directory
    # a long-running server cannot go through process.run (which waits); the test owns it
    proc = subprocess.Popen([SSHD, "-D", "-e", "-f", cfg], stdout=subprocess.DEVNULL,
                            stderr=open(d / "sshd.log", "wb"))
    deadline = time.time() + 10
    while time.time() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"sshd exited: {(d / 'sshd.log').read_text()[-500:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.1)
    opts = ["-i", str(d / "user_key"), "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "LogLevel=ERROR"]
    yield {"port": port, "options": opts, "key": d / "user_key"}
    proc.terminate()
    proc.wait(timeout=10)


PROG = r"""
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv) {
    int n = argc > 2 ? atoi(argv[2]) : 1;
    FILE *f = fopen(argv[1], "rb");
    if (!f) { perror(argv[1]); return 3; }
    unsigned long h = 5381; int c; long len = 0;
    while ((c = fgetc(f)) != EOF) { h = h * 33 + c; len++; }
    fclose(f);
    for (int r = 0; r < n * 200000; r++) h = h * 6364136223846793005UL + 1442695040888963407UL;
    FILE *o = fopen("result.txt", "w");
    fprintf(o, "%lu\n", h);
    fclose(o);
    printf("len %ld home %s\n", len, getenv("COSTTUNE_T") ? getenv("COSTTUNE_T") : "-");
    return 0;
}
"""


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    d = tmp_path_factory.mktemp("tiny") / "hasher"
    (d / "data").mkdir(parents=True)
    (d / "hasher.c").write_text(PROG)
    (d / "data" / "in.txt").write_text("hello costtune\n" * 50)
    (d / "bench.yaml").write_text(
        "sources: [hasher.c]\ninputs: [data/in.txt]\nargs: [in.txt, '{repeat}']\nrepeat: 2\n"
        "outputs: [result.txt]\nenv: {COSTTUNE_T: 'r{repeat}'}\ntimeout: 20\n")
    bench = DirectorySuite(d.parent, name="tmp").get("hasher")
    res = compile_benchmark(bench, "O2", "host")
    assert res.ok, res.describe()
    return bench, res.artifact


def test_ssh_wall_matches_reference(sshd, tiny):
    bench, art = tiny
    url = f"ssh://root@127.0.0.1:{sshd['port']}"
    with SshRunner(url, options=sshd["options"]) as runner:
        assert runner.check() == os.uname().machine
        m = measure(art, bench, "wall", runner=runner, wall=WallConfig(min_runs=3, max_runs=6))
        assert m.status == "ok", m.detail
        assert m.runner == url and m.host == "127.0.0.1"
        assert 3 <= m.n <= 6 and len(m.values) == m.n
        assert m.ci_halfwidth is not None and m.value > 0
        ref = reference_output(bench, "host")
        assert m.stdout_hash == ref.stdout_hash
        assert "home r2" in ref.stdout_head  # env rendered with {repeat}
        remote_dirs = list(runner._dirs.values())
        assert remote_dirs
    # close() removed the remote directory
    probe = SshRunner(url, options=sshd["options"])
    res = probe._ssh(f"test -e {remote_dirs[0]} && echo present || echo gone", timeout=30)
    assert res.stdout.decode().strip() == "gone"


def test_ssh_detects_wrong_output(sshd, tiny, tmp_path):
    bench, art = tiny
    # a reference taken with another repeat value: stdout and result.txt differ
    other = reference_output(bench, "host", repeat=1)
    url = f"ssh://root@127.0.0.1:{sshd['port']}?identity={sshd['key']}"
    os.environ["COSTTUNE_SSH_OPTS"] = "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR"
    try:
        m = measure(art, bench, "wall", runner=url, reference=other, wall=WallConfig(min_runs=1, max_runs=2))
    finally:
        del os.environ["COSTTUNE_SSH_OPTS"]
    assert m.status == "wrong_output", m
    assert m.value is None


def test_ssh_crash_and_timeout(sshd, tmp_path):
    d = tmp_path / "bad"
    d.mkdir()
    (d / "bad.c").write_text(
        "#include <stdlib.h>\nint main(int c, char **v){ if (atoi(v[1]) == 1) { volatile int *p = 0; return *p; }"
        " for (volatile unsigned long i = 0;; i++); }\n")
    (d / "bench.yaml").write_text("args: ['{repeat}']\nrepeat: 1\ntimeout: 5\n")
    bench = DirectorySuite(d, name="tmp").get("bad")
    res = compile_benchmark(bench, "O0", "host")
    assert res.ok, res.describe()
    with SshRunner(f"ssh://root@127.0.0.1:{sshd['port']}", options=sshd["options"]) as runner:
        crash = measure(res.artifact, bench, "wall", runner=runner, repeat=1, check=False)
        assert crash.status == "crash" and "SIGSEGV" in crash.detail, crash
        t0 = time.time()
        hang = measure(res.artifact, bench, "wall", runner=runner, repeat=2, check=False, timeout=1.0)
        assert hang.status == "timeout", hang
        assert time.time() - t0 < 15


def test_ssh_unreachable_is_one_clear_error(tmp_path):
    port = free_port()  # nothing listens there
    runner = SshRunner(f"ssh://root@127.0.0.1:{port}", options=["-o", "StrictHostKeyChecking=no"])
    with pytest.raises(MeasurementError) as err:
        runner.check()
    msg = str(err.value)
    assert "\n" not in msg and "127.0.0.1" in msg and "refused" in msg.lower()


def test_ssh_options_parsing():
    r = SshRunner("ssh://me@board:2222?identity=/k&option=Compression=yes", options=["-p", "2200", "-i/x"])
    assert r.spec == "ssh://me@board:2222" and r.destination == "me@board"
    opts = r.options
    assert opts[opts.index("BatchMode=yes") - 1] == "-o"
    assert ["-o", "Port=2222"] == opts[4:6]  # the URL's port comes before (and wins over) -p
    assert "Port=2200" in opts and "/k" in opts and "/x" in opts and "Compression=yes" in opts
    with pytest.raises(MeasurementError):
        SshRunner("ssh://board", options=["-v"])
    with pytest.raises(MeasurementError):
        SshRunner("http://board")
    assert shutil.which("ssh")
