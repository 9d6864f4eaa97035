"""The ``ssh://user@host[:port]`` runner: runs and times binaries on another machine.

Protocol (three ssh invocations per measured binary, all argv lists through
:mod:`costtune.process`):

1. *upload* - a tar stream on stdin holds ``prog``, ``in/<inputs>``,
   ``outputs.txt`` and the wrapper ``run.sh``; the remote makes a private
   ``mktemp -d`` directory and unpacks it there.
2. *run* (once per batch) - ``run.sh N TIMEOUT ARGS...`` runs the program N
   times, each in a fresh ``run/`` directory with copies of the inputs, with a
   fixed minimal environment, and times each run on the remote side with bash's
   ``$EPOCHREALTIME`` (microseconds; needs bash >= 5). It answers with a tar
   stream of ``res/``: times, exit codes, the first run's stdout/stderr and the
   named output files.
3. *cleanup* - ``rm -rf`` of the directory, in :meth:`SshRunner.close`.

Extra ssh options (identity file, port, host-key policy) come from, in order:
the constructor's ``options``, the URL (port, ``?identity=PATH``,
``?option=Key=Value``, repeatable) and ``COSTTUNE_SSH_OPTS`` (shell words, e.g.
``"-i ~/.ssh/board -o StrictHostKeyChecking=no"``). ``BatchMode=yes`` is always
set, so a missing key fails at once instead of prompting.
"""

from __future__ import annotations

import io
import os
import shlex
import tarfile
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from costtune import process
from costtune.errors import MeasurementError
from costtune.logging import get_logger
from costtune.measure._base import Runner, RunJob, RunResult, sha256

log = get_logger(__name__)

#: seconds for connection set-up and file transfer (on top of the runs' own limits)
SSH_OVERHEAD_TIMEOUT = 60.0

REMOTE_SCRIPT = r"""#!/bin/bash
# costtune remote runner: run.sh N TIMEOUT ARGS...  (see costtune/measure/ssh.py)
set -u
n=$1; limit=$2; shift 2
D=$(cd "$(dirname "$0")" && pwd)
if [ -z "${EPOCHREALTIME:-}" ]; then
  echo "costtune: the remote bash has no \$EPOCHREALTIME (bash >= 5 needed)" >&2; exit 90
fi
tcmd=()
if command -v timeout >/dev/null 2>&1; then tcmd=(timeout -k 2 "$limit"); fi
rm -rf "$D/res"; mkdir "$D/res"
for ((k = 0; k < n; k++)); do
  rm -rf "$D/run"; mkdir "$D/run"
  cp -R "$D/in/." "$D/run/"; cp "$D/prog" "$D/run/prog"
  cd "$D/run"
  t0=$EPOCHREALTIME
  "${tcmd[@]}" ./prog "$@" </dev/null >"$D/res/stdout.$k" 2>"$D/res/stderr.$k"
  rc=$?
  t1=$EPOCHREALTIME
  cd "$D"
  echo "$k $rc $t0 $t1" >>"$D/res/times"
  if [ "$k" -eq 0 ]; then
    mkdir "$D/res/out"
    while IFS= read -r f; do
      [ -n "$f" ] && [ -f "$D/run/$f" ] && cp "$D/run/$f" "$D/res/out/$f"
    done <"$D/outputs.txt"
  else
    rm -f "$D/res/stdout.$k"
  fi
  tail -c 1000 "$D/res/stderr.$k" >"$D/res/stderr.$k.tail"
  if [ "$k" -ne 0 ]; then rm -f "$D/res/stderr.$k"; fi
done
rm -rf "$D/run"
tar -cf - -C "$D" res
"""


def _normalise_opts(words: list[str]) -> list[str]:
    """ssh options as ``-o``/``-i`` words (``-p N`` becomes ``-o Port=N``)."""
    out: list[str] = []
    it = iter(words)
    for w in it:
        if w == "-p":
            out += ["-o", f"Port={next(it, '')}"]
        elif w.startswith("-p") and w[2:].isdigit():
            out += ["-o", f"Port={w[2:]}"]
        elif w in ("-i", "-o", "-F", "-J"):
            out += [w, next(it, "")]
        elif w.startswith(("-i", "-o", "-F", "-J")) and len(w) > 2:
            out += [w[:2], w[2:]]
        else:
            raise MeasurementError(f"unsupported ssh option '{w}' (use -i, -p, -o, -F or -J)")
    return out


class SshRunner(Runner):
    """Run host-architecture binaries of the remote machine over ssh (metric ``wall``)."""

    name = "ssh"
    metrics = ("wall",)
    batch = 5

    def __init__(self, url: str, options: list[str] | None = None, ssh: str = "ssh",
                 timeout_factor: float = 1.0, connect_timeout: int = 10):
        parts = urlsplit(url)
        if parts.scheme != "ssh" or not parts.hostname:
            raise MeasurementError(f"bad ssh runner '{url}' (expected ssh://user@host[:port])")
        self.user = unquote(parts.username) if parts.username else None
        self.hostname = parts.hostname
        try:
            self.port = parts.port
        except ValueError:
            raise MeasurementError(f"bad port in '{url}'") from None
        opts = _normalise_opts(list(options or []))
        query = parse_qs(parts.query)
        for ident in query.get("identity", []):
            opts += ["-i", ident]
        for o in query.get("option", []):
            opts += ["-o", o]
        opts += _normalise_opts(shlex.split(os.environ.get("COSTTUNE_SSH_OPTS", "")))
        if self.port:
            opts = ["-o", f"Port={self.port}", *opts]
        self.options = ["-o", "BatchMode=yes", "-o", f"ConnectTimeout={connect_timeout}", *opts]
        self.ssh = ssh
        self.timeout_factor = timeout_factor
        self._dirs: dict[str, str] = {}  # upload key -> remote directory

    @property
    def host(self) -> str:
        return self.hostname

    @property
    def spec(self) -> str:
        user = f"{self.user}@" if self.user else ""
        port = f":{self.port}" if self.port else ""
        return f"ssh://{user}{self.hostname}{port}"

    @property
    def destination(self) -> str:
        return f"{self.user}@{self.hostname}" if self.user else self.hostname

    def _ssh(self, remote_cmd: str, *, stdin: bytes | None = None, timeout: float) -> process.ProcessResult:
        argv = [self.ssh, *self.options, "-T", self.destination, remote_cmd]
        res = process.run(argv, timeout=timeout, stdin=stdin, env=None)
        if res.returncode == 255:
            lines = res.stderr_tail().strip().splitlines() or [res.describe()]
            raise MeasurementError(f"ssh {self.spec}: {lines[-1]}")
        if res.timed_out:
            raise MeasurementError(f"ssh {self.spec}: no answer within {timeout:.0f}s")
        return res

    def check(self) -> str:
        """Connect once and return the remote ``uname -m`` (raises MeasurementError)."""
        res = self._ssh("uname -m", timeout=SSH_OVERHEAD_TIMEOUT)
        if not res.ok:
            raise MeasurementError(f"ssh {self.spec}: uname failed: {res.stderr_tail(300).strip()}")
        return res.stdout.decode().strip()

    def _upload(self, job: RunJob) -> str:
        key = sha256(b"\0".join([job.binary.read_bytes(), *(Path(p).read_bytes() for p in job.inputs),
                                 "\n".join(job.outputs).encode(), *(os.fsencode(Path(p).name) for p in job.inputs)]))
        if key in self._dirs:
            return self._dirs[key]
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            def add(name: str, data: bytes, mode: int = 0o644):
                info = tarfile.TarInfo(name)
                info.size, info.mode = len(data), mode
                tar.addfile(info, io.BytesIO(data))
            add("prog", job.binary.read_bytes(), 0o755)
            info = tarfile.TarInfo("in")
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
            for p in job.inputs:
                add(f"in/{Path(p).name}", Path(p).read_bytes())
            add("outputs.txt", "".join(f"{o}\n" for o in job.outputs).encode())
            add("run.sh", REMOTE_SCRIPT.encode(), 0o755)
        cmd = 'd=$(mktemp -d "${TMPDIR:-/tmp}/costtune.XXXXXX") && tar -xf - -C "$d" && echo "$d"'
        res = self._ssh(cmd, stdin=buf.getvalue(), timeout=SSH_OVERHEAD_TIMEOUT)
        remote = res.stdout.decode().strip()
        if not res.ok or not remote.startswith("/"):
            raise MeasurementError(f"ssh {self.spec}: upload failed: {res.stderr_tail(300).strip()}")
        self._dirs[key] = remote
        log.info("uploaded %s to %s:%s", job.binary.name, self.spec, remote)
        return remote

    def run(self, job: RunJob, n: int = 1, *, count_insns: bool = False, blocks: bool = False) -> list[RunResult]:
        if count_insns or blocks:
            raise MeasurementError("the ssh runner measures wall time only (use runner 'qemu' for insns)")
        if job.stdin is not None or job.merge_stderr:
            raise MeasurementError("the ssh runner cannot feed stdin or merge stderr into stdout "
                                   "(llvm-test-suite programs): use runner 'qemu' or 'local'")
        remote = self._upload(job)
        env = " ".join(shlex.quote(f"{k}={v}") for k, v in sorted(job.env.items()))
        cmd = (f"cd {shlex.quote(remote)} && exec env -i {env} bash ./run.sh {int(n)} "
               f"{job.timeout:.3f} {shlex.join(job.args)}")
        res = self._ssh(cmd, timeout=n * (job.timeout + 5) + SSH_OVERHEAD_TIMEOUT)
        if not res.ok:
            raise MeasurementError(f"ssh {self.spec}: remote runner failed ({res.describe()}): "
                                   f"{res.stderr_tail(300).strip()}")
        return self._parse(res.stdout, n, job)

    def _parse(self, tar_bytes: bytes, n: int, job: RunJob) -> list[RunResult]:
        files: dict[str, bytes] = {}
        try:
            with tarfile.open(fileobj=io.BytesIO(tar_bytes), mode="r:") as tar:
                for m in tar.getmembers():
                    if m.isfile():
                        files[m.name] = tar.extractfile(m).read()
        except tarfile.TarError as e:
            raise MeasurementError(f"ssh {self.spec}: unreadable answer from the remote runner ({e})") from None
        results: list[RunResult] = []
        for line in files.get("res/times", b"").decode().splitlines():
            k, rc, t0, t1 = line.split()
            k, rc = int(k), int(rc)
            seconds = float(t1.replace(",", ".")) - float(t0.replace(",", "."))
            # `timeout` answers 124 (limit reached) or 128+sig (killed); bash reports signals as 128+sig too
            timed_out = rc in (124, 137) and seconds >= job.timeout * 0.99
            returncode = None if timed_out else (-(rc - 128) if 128 < rc < 160 else rc)
            r = RunResult(returncode, timed_out, seconds,
                          stderr_tail=files.get(f"res/stderr.{k}.tail", b"").decode("utf-8", "replace"))
            if k == 0:
                r.stdout = files.get("res/stdout.0", b"")
                r.stderr = files.get("res/stderr.0", b"")
                r.outputs = {o: files.get(f"res/out/{o}") for o in job.outputs}
            results.append(r)
        if len(results) != n:
            raise MeasurementError(f"ssh {self.spec}: expected {n} runs, the remote reported {len(results)}")
        return results

    def close(self) -> None:
        dirs, self._dirs = list(self._dirs.values()), {}
        if not dirs:
            return
        try:
            self._ssh("rm -rf " + " ".join(shlex.quote(d) for d in dirs), timeout=SSH_OVERHEAD_TIMEOUT)
        except MeasurementError as e:
            log.warning("could not clean up %s: %s", self.spec, e)
