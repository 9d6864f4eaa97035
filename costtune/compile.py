"""Compile a benchmark with a pass pipeline: clang frontend -> opt -> llc -> as -> link.

Every stage is cached by content under ``<cache>/compile``: the frontend result
(linked, unoptimised bitcode) is keyed by (sources, flags, target, toolchain)
and shared by every pipeline; the optimised artifact is keyed by (frontend key,
pipeline); the backend (llc, assembler, link) by the optimised IR, so pipelines
that end in the same IR share it. A second compile of the same inputs does no work. Failures are
results (:class:`CompileResult` with ``status`` ``compile_error`` or
``timeout``), cached too, so a crashing pipeline costs its crash once. A failure
the machine caused (no space, an unwritable cache, a tool killed by SIGBUS/SIGKILL)
is no result: it raises :class:`~costtune.errors.EnvironmentFailure` and leaves
nothing in the cache, so the next run builds again.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from costtune import process
from costtune.cache import cache_dir
from costtune.errors import EnvironmentFailure
from costtune.logging import get_logger
from costtune.toolchain import Target, Toolchain, find, get_target

if TYPE_CHECKING:  # compile takes a benchmark; the suites that make them come above it
    from costtune.benchmarks._base import Benchmark

log = get_logger(__name__)

#: frontend flags that leave all optimisation to opt: -O0 without the optnone attribute clang puts on
#: every function at -O0, so opt's passes act on them (CompilerGym's -O1 -disable-llvm-passes does the same)
FRONTEND_FLAGS = ("-O0", "-Xclang", "-disable-O0-optnone", "-emit-llvm", "-c", "-w", "-g0")
#: old K&R C is a hard error for clang >= 16 without these
KR_FLAGS = ("-Wno-implicit-function-declaration", "-Wno-int-conversion",
            "-Wno-incompatible-pointer-types")
LLC_OPT = "-O2"
DEFAULT_STEP_TIMEOUT = float(os.environ.get("COSTTUNE_STEP_TIMEOUT", "300"))
ARTIFACT_FILE = "artifact.json"
FILES = {"linked_bc": "linked.bc", "opt_ll": "opt.ll", "asm": "prog.s", "obj": "prog.o", "binary": "prog"}


@dataclass
class Artifact:
    """The products of one compile, all in ``dir``."""

    dir: Path
    bench_id: str
    target: str
    pipeline: str  #: the new-PM text given to opt ("" = no passes)
    spec: str  #: what the user asked for (O3, a name list, a raw pipeline)
    ir_hash: str
    text_hash: str
    binary_hash: str
    commands: list[list[str]]
    versions: dict[str, str]
    seconds: dict[str, float]
    cached: bool = False

    @property
    def linked_bc(self) -> Path:
        return self.dir / FILES["linked_bc"]

    @property
    def opt_ll(self) -> Path:
        return self.dir / FILES["opt_ll"]

    @property
    def asm(self) -> Path:
        return self.dir / FILES["asm"]

    @property
    def obj(self) -> Path:
        return self.dir / FILES["obj"]

    @property
    def binary(self) -> Path:
        return self.dir / FILES["binary"]

    def to_json(self) -> dict:
        d = asdict(self)
        d["dir"] = str(self.dir)
        d.pop("cached")
        return d

    def copy_to(self, out: Path) -> None:
        out.mkdir(parents=True, exist_ok=True)
        for name in FILES.values():
            shutil.copy2(self.dir / name, out / name)
        (out / ARTIFACT_FILE).write_text(json.dumps(self.to_json(), indent=2))


@dataclass
class CompileResult:
    status: str  #: ok | compile_error | timeout
    bench_id: str
    target: str
    spec: str
    pipeline: str
    step: str = ""  #: frontend | link-ir | opt | llc | as | link (the failing step)
    stderr_tail: str = ""
    artifact: Artifact | None = None
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def describe(self) -> str:
        if self.ok:
            return "ok"
        return f"{self.step} failed ({self.status}): {first_error(self.stderr_tail, 300)}"


def first_error(text: str, width: int = 200) -> str:
    """A tool's first diagnostic (clang's ``file:line:col: error: ...``, lld's ``error: ...``) says
    what is wrong; "1 error generated." does not. Else the output's last line."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return next((ln for ln in lines if "error:" in ln), lines[-1] if lines else "")[:width]


def _sha(*parts: str | bytes) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p if isinstance(p, bytes) else p.encode())
        h.update(b"\0")
    return h.hexdigest()


def _file_sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def ir_hash(ll_text: str) -> str:
    """Hash of optimised IR, ignoring the module name lines."""
    lines = [l for l in ll_text.splitlines() if not l.startswith(("; ModuleID", "source_filename"))]
    return _sha("\n".join(lines))


class _StepFailed(Exception):
    def __init__(self, step: str, res: process.ProcessResult):
        self.step, self.res = step, res


def _step(step: str, argv: list, commands: list, seconds: dict, timeout: float, cwd=None) -> None:
    commands.append([os.fspath(a) for a in argv])
    res = process.run(argv, timeout=timeout, cwd=cwd)
    seconds[step] = seconds.get(step, 0.0) + res.seconds
    if not res.ok:
        raise _StepFailed(step, res)


def _environment(e: _StepFailed | OSError, tmp: Path | None, what: str) -> None:
    """Raise EnvironmentFailure (after removing ``tmp``) when the machine caused ``e``;
    return when the failure may be the candidate's own."""
    if isinstance(e, _StepFailed):
        cause = process.environment_cause(e.res, tmp)
        if cause is None:
            return
        cause = f"{e.step} failed: {cause}"
    else:
        cause = f"{e.strerror or type(e).__name__}: {e.filename or ''}".rstrip(": ")
    if tmp is not None:
        shutil.rmtree(tmp, ignore_errors=True)
    raise EnvironmentFailure(f"{what}: {cause} (nothing recorded or cached; free space and run again)") from None


def _environment_cached(path: Path, field: str) -> bool:
    """Whether a cached failure was the machine's (cached by a costtune that did not tell them
    apart): it is dropped and built again."""
    try:
        payload = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    return payload.get("status") not in ("ok", None) and any(
        m in str(payload.get(field, "")) for m in process.ENVIRONMENT_MESSAGES)


def _publish(tmp: Path, final: Path) -> None:
    """Atomically move a finished build directory into the cache."""
    try:
        os.rename(tmp, final)
    except OSError:  # another process won the race; its result is equivalent
        shutil.rmtree(tmp, ignore_errors=True)


def frontend(bench: Benchmark, target: Target, tc: Toolchain, timeout: float) -> tuple[Path, list, dict]:
    """Linked, unoptimised bitcode for ``bench`` (cached, shared by all pipelines)."""
    key = _sha("frontend-v2", bench.source_hash(), target.name, tc.fingerprint, *FRONTEND_FLAGS)
    try:
        return _frontend(bench, target, tc, timeout, key)
    except OSError as e:
        _environment(e, None, f"{bench.id}: frontend")
        raise


def _frontend(bench: Benchmark, target: Target, tc: Toolchain, timeout: float, key: str) -> tuple[Path, list, dict]:
    final = cache_dir("compile", "frontend") / key
    done = final / "frontend.json"
    if done.exists() and _environment_cached(done, "stderr"):
        shutil.rmtree(final, ignore_errors=True)
    if done.exists():
        meta = json.loads(done.read_text())
        if meta["status"] != "ok":
            raise _StepFailed(meta["step"], process.ProcessResult(meta["argv"], 1, b"", meta["stderr"].encode(), 0.0))
        return final / "linked.bc", meta["commands"], {}
    tmp = Path(tempfile.mkdtemp(prefix=f".{key[:12]}-", dir=final.parent))
    commands: list = []
    seconds: dict = {}
    try:
        bcs = []
        for i, src in enumerate(bench.source_paths()):
            bc = tmp / f"{i:03d}-{src.stem}.bc"
            # the program's own path never reaches the binary (assert's __FILE__): the same
            # sources build the same binary in any checkout
            _step("frontend", [tc.clang, *target.frontend_flags, *FRONTEND_FLAGS, *KR_FLAGS,
                               f"-ffile-prefix-map={bench.root}=.", *bench.cflags, src, "-o", bc],
                  commands, seconds, timeout, cwd=bench.root)
            bcs.append(bc)
        _step("link-ir", [tc["llvm-link"], *bcs, "-o", tmp / "linked.bc"], commands, seconds, timeout)
        for bc in bcs:
            bc.unlink()
        status = {"status": "ok", "commands": commands}
    except _StepFailed as e:
        _environment(e, tmp, f"{bench.id}: frontend")
        status = {"status": "timeout" if e.res.timed_out else "compile_error", "step": e.step,
                  "argv": e.res.argv, "stderr": e.res.stderr_tail(), "commands": commands}
    (tmp / "frontend.json").write_text(json.dumps(status))
    _publish(tmp, final)
    if status["status"] != "ok":
        raise _StepFailed(status["step"], process.ProcessResult(status["argv"], 1, b"", status["stderr"].encode(),
                                                                 0.0, status["status"] == "timeout"))
    return final / "linked.bc", commands, seconds


def compile_benchmark(
    bench: Benchmark,
    pipeline: str,
    target: str = "aarch64",
    toolchain: Toolchain | None = None,
    step_timeout: float | None = None,
) -> CompileResult:
    """Compile ``bench`` with ``pipeline`` (a preset, catalog names, or new-PM text)."""
    from costtune.passes import resolve_pipeline

    tc = toolchain or find()
    tgt = get_target(target)
    timeout = step_timeout or DEFAULT_STEP_TIMEOUT
    text = resolve_pipeline(pipeline, tc.llvm)
    base = CompileResult("ok", bench.id, tgt.name, pipeline, text)
    try:
        linked, fe_commands, fe_seconds = frontend(bench, tgt, tc, timeout)
    except _StepFailed as e:
        base.status = "timeout" if e.res.timed_out else "compile_error"
        base.step, base.stderr_tail = e.step, e.res.stderr_tail()
        return base
    fe_key = linked.parent.name
    key = _sha("artifact-v1", fe_key, text, LLC_OPT, *tgt.llc_flags, *tgt.link_flags, *bench.ldflags)
    try:
        return _optimise(bench, pipeline, tgt, tc, timeout, text, linked, fe_commands, fe_seconds, key)
    except OSError as e:
        _environment(e, None, f"{bench.id} [{pipeline[:60]}]")
        raise


def _optimise(bench, pipeline, tgt, tc, timeout, text, linked, fe_commands, fe_seconds, key) -> CompileResult:
    fe_key = linked.parent.name
    final = cache_dir("compile", "artifacts", key[:2]) / key
    result_file = final / ARTIFACT_FILE
    if result_file.exists() and _environment_cached(result_file, "stderr"):
        shutil.rmtree(final, ignore_errors=True)
    if result_file.exists():
        try:
            os.utime(final)  # recently used: the cache's size cap evicts the least recently used
        except OSError:
            pass
        return _load_result(final, pipeline, cached=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{key[:12]}-", dir=final.parent))
    commands = list(fe_commands)
    seconds = dict(fe_seconds)
    try:
        _share(linked, tmp / FILES["linked_bc"])
        opt_argv = [tc.opt, "-S", tmp / FILES["linked_bc"], "-o", tmp / FILES["opt_ll"]]
        if text:
            opt_argv.insert(1, f"-passes={text}")
        _step("opt", opt_argv, commands, seconds, timeout)
        ih = ir_hash((tmp / FILES["opt_ll"]).read_text(errors="replace"))
        backend_key = _sha("backend-v1", fe_key, ih, LLC_OPT, *tgt.llc_flags, *tgt.link_flags, *bench.ldflags)
        hashes = _backend(tmp, backend_key, tgt, tc, bench, commands, seconds, timeout)
        art = Artifact(
            dir=final, bench_id=bench.id, target=tgt.name, pipeline=text, spec=pipeline, ir_hash=ih,
            text_hash=hashes["text_hash"], binary_hash=hashes["binary_hash"],
            commands=[[os.fspath(a) for a in c] for c in commands], versions=tc.versions,
            seconds={k: round(v, 4) for k, v in seconds.items()},
        )
        payload = {"status": "ok", "artifact": art.to_json()}
    except _StepFailed as e:
        _environment(e, tmp, f"{bench.id} [{pipeline[:60]}]")
        payload = {"status": "timeout" if e.res.timed_out else "compile_error", "step": e.step,
                   "stderr": e.res.stderr_tail(), "commands": [[os.fspath(a) for a in c] for c in commands],
                   "bench_id": bench.id, "target": tgt.name, "pipeline": text,
                   "seconds": {k: round(v, 4) for k, v in seconds.items()}}
        for name in FILES.values():  # keep failures small
            (tmp / name).unlink(missing_ok=True)
    (tmp / ARTIFACT_FILE).write_text(json.dumps(payload, indent=1))
    _publish(tmp, final)
    if payload["status"] == "ok":
        _remember_backend(backend_key, final, hashes)
    log.info("compiled %s [%s] -> %s (%s)", bench.id, pipeline, final, payload["status"])
    return _load_result(final, pipeline, cached=False)


def _backend(tmp: Path, key: str, tgt: Target, tc: Toolchain, bench: Benchmark, commands: list, seconds: dict,
             timeout: float) -> dict:
    """opt.ll in ``tmp`` -> prog.s, prog.o, prog; their hashes.

    llc writes the assembly and clang's integrated assembler turns exactly that
    text into the object (byte-identical to ``llc -filetype=obj``, measured on
    every cBench program, at a quarter of its cost), so the code the model reads
    is the code that runs. Pipelines that leave the same optimised IR share one
    backend result (keyed by the IR hash): an edit that changes nothing costs
    only its opt run.
    """
    asm, obj, binary = (tmp / FILES[k] for k in ("asm", "obj", "binary"))
    argvs = {"llc": [tc.llc, LLC_OPT, *tgt.llc_flags, "-filetype=asm", tmp / FILES["opt_ll"], "-o", asm],
             "as": [tc.clang, f"--target={tgt.triple}", "-c", asm, "-o", obj],
             "link": [tc.clang, *tgt.link_flags, obj, "-o", binary, *bench.ldflags]}
    entry = _backend_entry(key)
    if entry.exists():
        prev = json.loads(entry.read_text())
        src = Path(prev["dir"])
        try:
            for k in ("asm", "obj", "binary"):
                _share(src / FILES[k], tmp / FILES[k])
            commands.extend([os.fspath(a) for a in argv] for argv in argvs.values())
            seconds["backend_reused"] = 0.0
            return {"text_hash": prev["text_hash"], "binary_hash": prev["binary_hash"]}
        except OSError:  # the artifact it points to was pruned: build again
            pass
    for step, argv in argvs.items():
        _step(step, argv, commands, seconds, timeout)
    text_bin = tmp / "text.bin"
    _step("hash", [tc["llvm-objcopy"], "-O", "binary", "--only-section=.text", binary, text_bin],
          commands, seconds, timeout)
    hashes = {"text_hash": _file_sha(text_bin), "binary_hash": _file_sha(binary)}
    text_bin.unlink()
    return hashes


def _share(src: Path, dst: Path) -> None:
    """``dst`` becomes ``src``'s content: a hard link (cache files are never written in place;
    the runners copy the binary they run), a copy where the file system cannot link.

    Without links, every search candidate kept its own copy of the linked bitcode and of a
    shared backend's binary, and three parallel cBench searches filled 28 GB in two hours.
    """
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _backend_entry(key: str) -> Path:
    """The cache file that points backend ``key`` at the artifact holding its products."""
    return cache_dir("compile", "backend", key[:2]) / f"{key}.json"


def _remember_backend(key: str, final: Path, hashes: dict) -> None:
    """Point backend ``key`` at the published artifact ``final`` (atomic write)."""
    entry = _backend_entry(key)
    if entry.exists() and Path(json.loads(entry.read_text())["dir"], FILES["binary"]).exists():
        return
    tmp = entry.with_name(f".{entry.name}.{os.getpid()}")
    tmp.write_text(json.dumps({"dir": str(final), **hashes}))
    os.replace(tmp, entry)


def _load_result(final: Path, spec: str, cached: bool) -> CompileResult:
    payload = json.loads((final / ARTIFACT_FILE).read_text())
    if payload["status"] != "ok":
        return CompileResult(payload["status"], payload["bench_id"], payload["target"], spec,
                             payload["pipeline"], payload["step"], payload["stderr"], None,
                             payload.get("seconds", {}))
    a = dict(payload["artifact"])
    a["dir"] = final
    a["spec"] = spec
    art = Artifact(**a, cached=cached)
    return CompileResult("ok", art.bench_id, art.target, spec, art.pipeline, artifact=art,
                         seconds={} if cached else art.seconds)


def command_lines(art: Artifact) -> list[str]:
    return [shlex.join(c) for c in art.commands]
