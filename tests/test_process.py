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


def test_children_die_with_a_killed_parent(tmp_path):
    """A costtune process killed with SIGKILL leaves no tool running (collect resumes cleanly)."""
    import os
    import signal
    import subprocess

    pidfile = tmp_path / "child.pid"
    child_py = tmp_path / "child.py"
    child_py.write_text(f"import os, time\nopen({str(pidfile)!r}, 'w').write(str(os.getpid()))\ntime.sleep(120)\n")
    code = f"import sys; from costtune import process; process.run([sys.executable, {str(child_py)!r}], timeout=300)"
    parent = subprocess.Popen([sys.executable, "-c", code])
    deadline = time.monotonic() + 30
    while not (pidfile.exists() and pidfile.read_text()) and time.monotonic() < deadline:
        time.sleep(0.1)
    child = int(pidfile.read_text())
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.kill(child, signal.SIGKILL)
    raise AssertionError("child outlived its killed parent")
