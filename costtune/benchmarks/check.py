"""Check that a suite's programs build and give their expected output, and keep the verdicts.

``costtune benchmarks check`` builds each supported program at O0 and O3 (or
``passes``) for AArch64, runs it once under qemu with the instruction counter,
and checks the output against the suite's expected output (llvm-test-suite) or
the O0 build's output (other suites). A program passes when every pass gives
the expected output within ``max_insns`` guest instructions and ``max_seconds``
of qemu time. The verdict is stored as JSON under ``<cache>/verdicts/``, keyed
by :func:`verdict_key` (everything that decides it: sources, flags, args,
inputs, expected output, toolchain), so it is taken again only when one of them
changes. Suites that read verdicts (:class:`~costtune.benchmarks.testsuite.TestSuite`)
list a program whose verdict failed as unsupported with the verdict's reason.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from costtune.benchmarks._base import Benchmark
from costtune.cache import cache_dir
from costtune.compile import compile_benchmark
from costtune.logging import get_logger
from costtune.measure import measure
from costtune.measure.local import QemuRunner
from costtune.measure.reference import expected_reference
from costtune.toolchain import find

log = get_logger(__name__)

VERSION = 1
DEFAULT_PASSES = ("O0", "O3")
MAX_INSNS = 2e9  #: more AArch64 instructions than this at any pass: too slow
MAX_SECONDS = 20.0  #: more qemu seconds than this: too slow


def verdict_key(bench: Benchmark, fingerprint: str) -> str:
    """Hash of everything that decides whether ``bench`` passes: content, rules, toolchain."""
    h = hashlib.sha256()
    for part in (f"verdict-v{VERSION}", bench.id, bench.source_hash(), "\0".join(bench.ldflags),
                 "\0".join(bench.render_args()), json.dumps(sorted(bench.render_env().items())),
                 repr((bench.fp_tolerance, bench.fp_abstolerance, bench.hash_output, bench.append_exit_status,
                       bench.merge_stderr, bench.compare_stdout, bench.outputs)), fingerprint):
        h.update(part.encode() + b"\0")
    for p in (*bench.inputs, *(x for x in (bench.stdin, bench.expected_output) if x is not None)):
        h.update(Path(p).name.encode() + b"\0")
        h.update(hashlib.sha256(Path(p).read_bytes()).digest())
    return h.hexdigest()


def _path(key: str) -> Path:
    return cache_dir("verdicts") / f"{key}.json"


def load_verdict(key: str) -> dict | None:
    path = _path(key)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        log.warning("ignoring unreadable verdict %s", path)
        return None
    return data if isinstance(data, dict) and data.get("version") == VERSION else None


def save_verdict(key: str, verdict: dict) -> None:
    path = _path(key)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(json.dumps({**verdict, "version": VERSION}, indent=1))
    os.replace(tmp, path)


def verdict_for(bench: Benchmark, fingerprint: str) -> dict | None:
    try:
        return load_verdict(verdict_key(bench, fingerprint))
    except OSError:  # an input vanished: no verdict
        return None


def check_benchmark(bench: Benchmark, passes=DEFAULT_PASSES, toolchain=None, max_insns: float = MAX_INSNS,
                    max_seconds: float = MAX_SECONDS) -> dict:
    """Build and run ``bench`` at each pass; the verdict as a dict (``status`` ok | fail, ``reason``)."""
    tc = toolchain or find()
    ref = expected_reference(bench) if bench.expected_output is not None else None
    verdict: dict = {"bench": bench.id, "status": "ok", "reason": "", "passes": {}}
    for p in passes:
        cr = compile_benchmark(bench, p, "aarch64", tc)
        if not cr.ok:
            verdict.update(status="fail", reason=f"does not build at {p}: {cr.describe()}"[:300])
            break
        with QemuRunner(pin=False) as runner:
            m = measure(cr.artifact, bench, "insns", runner=runner, reference=ref, toolchain=tc,
                        timeout=max_seconds * 1.5)
        verdict["passes"][p] = {"status": m.status, "insns": m.value, "seconds": m.seconds,
                                "detail": m.detail[:300]}
        if m.status == "timeout":
            verdict.update(status="fail", reason=f"too slow under qemu at {p} ({m.detail})")
        elif m.status != "ok":
            verdict.update(status="fail", reason=f"fails its reference at {p}: {m.status}: {m.detail}"[:300])
        elif m.value is not None and m.value > max_insns:
            verdict.update(status="fail", reason=f"too slow under qemu at {p}: {m.value:.2g} instructions "
                                                 f"(limit {max_insns:.2g})")
        elif m.seconds > max_seconds:
            verdict.update(status="fail", reason=f"too slow under qemu at {p}: {m.seconds:.1f} s "
                                                 f"(limit {max_seconds:g} s)")
        if verdict["status"] != "ok":
            break
    return verdict
