import sys
import time

from costtune import process


def test_ok_and_output():
    r = process.run([sys.executable, "-c", "print('hi')"], timeout=30)
    assert r.ok and r.stdout == b"hi\n" and r.returncode == 0


def test_failure_is_a_value_not_an_exception():
    r = process.run([sys.executable, "-c", "import sys; sys.stderr.write('boom'); sys.exit(3)"], timeout=30)
    assert not r.ok and r.returncode == 3 and r.stderr_tail() == "boom"
    assert r.describe() == "exit code 3"


def test_missing_executable():
    r = process.run(["/nonexistent/tool", "x"], timeout=5)
    assert r.returncode == 127 and not r.ok


def test_timeout_kills_the_whole_group():
    # the child starts a grandchild that would outlive a naive kill
    code = "import subprocess,sys,time; subprocess.Popen([sys.executable,'-c','import time; time.sleep(60)']); time.sleep(60)"
    start = time.monotonic()
    r = process.run([sys.executable, "-c", code], timeout=1)
    assert r.timed_out and r.returncode is None and not r.ok
    assert time.monotonic() - start < 10
    assert "timed out" in r.describe()


def test_signal_is_reported():
    r = process.run([sys.executable, "-c", "import os,signal; os.kill(os.getpid(), signal.SIGSEGV)"], timeout=30)
    assert r.signal == 11 and "SIGSEGV" in r.describe()
