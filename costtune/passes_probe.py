"""Generate the pass catalog from ``opt -print-passes`` and a crash probe; validate it.

``costtune passes refresh --llvm 19`` (:func:`probe`) rebuilds ``passes/llvm-19/passes.csv``
in four steps:

1. parse ``opt-N -print-passes`` (module, CGSCC, function, loop-nest and loop
   sections, with and without parameters; analyses and machine passes skipped);
2. curated rules (:data:`RULES`) mark the passes random search must not use,
   each with a reason string: printers and analyses, instrumentation,
   sanitizers, GPU/target-specific, codegen preparation, coroutine, ObjC ...;
3. probe A: every pass alone, opt only, on the linked bitcode of a few builtin
   programs, raw and after ``default<O2>``; a crash, timeout or verifier failure
   makes it unsafe with the evidence;
4. probe B: random safe sequences (20-60 passes, all levels), compiled and run
   under qemu (repeat=1) against the O0 reference output; a failing sequence is
   delta-debugged to a minimal failing subsequence and the culprit pass (the one
   opt's stack dump names, else the last of the minimal sequence) becomes unsafe.
   Passes listed in :data:`KNOWN` (crashers seen before) also get targeted sequences, so
   that each known crasher is confirmed (or reported as not reproduced).

``costtune passes validate --llvm 19 -n 1000`` (:func:`validate`) measures the
acceptance bar: the share of random safe pipelines that build and run
correctly on the builtin suite, every failure with its culprit pass.

``costtune passes o3-check --llvm 19`` (:func:`o3_check`) compares ``default<O3>``
with its flattened pass sequence rendered back through the catalog.
"""

from __future__ import annotations

import json
import random
import re
import shutil
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from costtune import process
from costtune.benchmarks import Benchmark, get_suite
from costtune.errors import BenchmarkError
from costtune.logging import get_logger
from costtune.passes import (LEVELS, Catalog, PassInfo, catalog_path, render, write_catalog)
from costtune.table import format_table
from costtune.toolchain import Toolchain, find

log = get_logger(__name__)

# --------------------------------------------------------------------------- step 1: opt -print-passes

_SECTIONS = {
    "Module passes": "module", "CGSCC passes": "cgscc", "Function passes": "function",
    "LoopNest passes": "loop-nest", "Loop passes": "loop",
}


@dataclass
class Listed:
    name: str
    level: str
    params: str = ""


def parse_print_passes(text: str) -> list[Listed]:
    """Pass names by level from ``opt -print-passes`` (first level wins for duplicates)."""
    out: dict[str, Listed] = {}
    level = None
    with_params = False
    for line in text.splitlines():
        if not line.startswith(" ") and line.rstrip().endswith(":"):
            head = line.rstrip()[:-1]
            with_params = head.endswith(" with params")
            level = _SECTIONS.get(head.removesuffix(" with params"))
            continue
        entry = line.strip()
        if not entry or level is None:
            continue
        name, params = entry, ""
        if with_params:
            m = re.match(r"^(.*)<([^<>]*)>$", entry)
            if m:
                name, params = m.group(1), m.group(2)
        if name not in out:
            out[name] = Listed(name, level, params)
    return list(out.values())


def print_passes(tc: Toolchain) -> list[Listed]:
    res = process.run([tc.opt, "-print-passes"], timeout=60)
    if not res.ok:
        raise RuntimeError(f"opt -print-passes failed: {res.describe()}")
    return parse_print_passes(res.stdout.decode())


# --------------------------------------------------------------------------- step 2: curated rules

#: (regex on the name, reason) - the first match makes a pass unsafe for random search
RULES: list[tuple[str, str]] = [
    (r"^(print|dot-|view-|aa-eval$|pa-eval$|instcount$|lint$|count-visits$|helloworld$)",
     "analysis/printer, no transform"),
    (r"^(verify|no-op-|invalidate<|trigger-|require<)", "pass-manager bookkeeping or test hook, no transform"),
    (r"^(debugify|check-debugify|declare-to-assign|strip|add-discriminators|redundant-dbg-inst-elim|"
     r"instnamer|metarenamer|annotation|name-anon-globals)",
     "debug-info or naming only, no optimisation (metarenamer renames main)"),
    (r"^(asan|hwasan|msan|tsan|dfsan|nsan|memprof|sancov|sanmd|kcfi|bounds-checking|safe-stack|"
     r"stack-protector|poison-checking|cfguard|cross-dso-cfi|lowertypetests)",
     "sanitizer/hardening instrumentation, needs a runtime"),
    (r"^(ee-instrument|insert-gcov|instrprof|instrorderfile|pgo-|ctx-instr|pseudo-probe|sample-profile|"
     r"memprof-use|synthetic-counts|jmc-instrumenter|pgo-memop-opt|cg-profile)",
     "profiling instrumentation or profile use, needs profile data"),
    (r"^(structurizecfg|fix-irreducible|unify-loop-exits|infer-address-spaces|amdgpu|nvptx|dxil|hipstdpar|"
     r"openmp-opt-postlink)",
     "GPU pass, changes the CFG for GPU backends (structurizecfg: binaries miscompile)"),
    (r"^(codegenprepare|select-optimize|atomic-expand|interleaved-access|interleaved-load-combine|"
     r"expand-large-|expand-memcmp|indirectbr-expand|dwarf-eh-prepare|sjlj-eh-prepare|wasm-eh-prepare|"
     r"win-eh-prepare|callbr-prepare|pre-isel-intrinsic-lowering|scalarize-masked-mem-intrin|"
     r"typepromotion|hardware-loops|tlshoist|lower-emutls|lower-global-dtors|lower-ifunc|"
     r"global-merge|safepoint|place-safepoints|rewrite-statepoints|gc-lowering|shadow-stack-gc|"
     r"strip-gc-relocates|embed-bitcode)",
     "codegen IR pass (llc runs it; needs a target machine or a GC/EH model; codegenprepare and "
     "select-optimize segfault opt-19)"),
    (r"^coro-", "coroutine lowering, needs coroutine intrinsics"),
    (r"^objc-arc", "Objective-C ARC, no effect on C"),
    (r"^(function-import|wholeprogramdevirt|internalize|memprof-context|"
     r"thinlto|lto)", "(Thin)LTO pass: needs a summary or internalizes main"),
    (r"^(inliner-ml-advisor|module-inline|inliner-wrapper|scc-oz-module-inliner)",
     "inliner pipeline wrapper or ML advisor; use inline"),
    (r"^(function-simplification|default|thinlto-pre-link|lto-pre-link)", "a preset pipeline, not a pass"),
    (r"^(extract-blocks|rewrite-symbols|canonicalize-aliases|forceattrs|make-guards-explicit|"
     r"lower-guard-intrinsic|lower-widenable-condition|guard-widening|loop-predication|"
     r"assume-builder|assume-simplify|lower-allow-check|lower-matrix-intrinsics)$",
     "acts on guards, assumptions, matrix or sanitizer intrinsics that plain C does not have"),
]

#: crashers and traps seen with random sequences before, each with what it did; the probe confirms them
#: with targeted sequences
KNOWN = {
    "chr": "segfaults opt-14 unless require<profile-summary> runs first (guarded in wrap)",
    "structurizecfg": "GPU pass, produced binaries that segfault",
    "unify-loop-exits": "crashes opt after other passes",
    "loop-bound-split": "crashes opt after other passes",
    "codegenprepare": "segfaults opt-19",
    "select-optimize": "segfaults opt-19",
    "instcombine": "opt-19 aborts 'did not reach a fixpoint' (use instcombine<no-verify-fixpoint>)",
    "asan": "needs a runtime", "tsan": "needs a runtime", "msan": "needs a runtime",
}

#: passes that need MemorySSA in their loop pipeline
MSSA_LOOP = {"licm", "lnicm"}
#: form (text rendered) per pass where the default is wrong for random search
FORMS = {
    19: {"instcombine": "instcombine<no-verify-fixpoint>"},
    14: {},
}
#: prerequisites per pass
PREREQ = {"chr": "require<profile-summary>"}


def curated_reason(name: str) -> str:
    for pattern, reason in RULES:
        if re.search(pattern, name):
            return reason
    return ""


def wrap_for(name: str, level: str) -> str:
    inner = {
        "module": "{pass}",
        "cgscc": "cgscc({pass})",
        "function": "function({pass})",
        "loop": "function(loop-mssa({pass}))" if name in MSSA_LOOP else "function(loop({pass}))",
        "loop-nest": "function(loop-mssa({pass}))" if name in MSSA_LOOP else "function(loop({pass}))",
    }[level]
    return f"{PREREQ[name]},{inner}" if name in PREREQ else inner


def base_rows(tc: Toolchain) -> list[PassInfo]:
    rows = []
    forms = FORMS.get(tc.llvm, {})
    for item in print_passes(tc):
        reason = curated_reason(item.name)
        rows.append(PassInfo(item.name, item.level, wrap_for(item.name, item.level),
                             forms.get(item.name, item.name), item.params, not reason, reason))
    return rows


# --------------------------------------------------------------------------- building and running

@dataclass
class Outcome:
    status: str  #: ok | opt_crash | compile_error | timeout | run_error | wrong_output
    step: str = ""
    culprit: str = ""  #: pass named by opt's stack dump, if any
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def base_name_of(item: str) -> str:
    return item.split("<", 1)[0]


def _culprit_from_stderr(stderr: str) -> str:
    names = re.findall(r'Running pass "([^"]+)"', stderr)
    for n in reversed(names):
        if "(" not in n:
            return n.split("<", 1)[0]
    return ""


def _last_line(text: str) -> str:
    """The most telling line of a tool's stderr (an error message, else the failing pass)."""
    lines = [l.strip() for l in text.strip().splitlines() if l.strip()]
    for l in lines:
        if "error" in l.lower() and not l.startswith("#"):
            return l[:200]
    for l in reversed(lines):
        if l.startswith(tuple(f"{i}." for i in range(10))) and "Running pass" in l:
            return l[:200]
    rest = [l for l in lines if not l.startswith(("#", "Stack dump", "PLEASE"))]
    return (rest[-1] if rest else "")[:200]


class Lab:
    """Builds (through :func:`costtune.compile.compile_benchmark`) and runs programs, with O0 references."""

    #: a candidate may run this many times longer than the O0 reference before it counts as hung
    SLOWDOWN = 8.0

    def __init__(self, tc: Toolchain, benches: list[Benchmark], run_timeout: float = 60.0):
        self.tc = tc
        self.benches = benches
        self.run_timeout = run_timeout  #: for the reference run
        self._refs: dict[str, tuple] = {}
        self._limits: dict[str, float] = {}
        self._lock = threading.Lock()

    def linked_bc(self, bench: Benchmark) -> Path:
        from costtune.compile import frontend
        from costtune.toolchain import get_target

        bc, _, _ = frontend(bench, get_target("aarch64"), self.tc, 300)
        return bc

    def opt_only(self, pipeline: str, bc: Path, timeout: float = 60) -> Outcome:
        res = process.run([self.tc.opt, f"-passes={pipeline}", bc, "-o", "/dev/null"], timeout=timeout)
        if res.timed_out:
            return Outcome("timeout", "opt", "", f"opt timed out after {timeout:.0f}s")
        if not res.ok:
            err = res.stderr_tail(6000)
            return Outcome("opt_crash", "opt", _culprit_from_stderr(err), f"{res.describe()}: {_last_line(err)}")
        return Outcome("ok")

    def _run(self, bench: Benchmark, binary: Path, timeout: float | None = None) -> tuple:
        with tempfile.TemporaryDirectory(prefix="ct-probe-") as d:
            for f in bench.inputs:
                shutil.copy2(f, Path(d) / f.name)
            env = dict(process.MINIMAL_ENV)
            env.update(bench.render_env(1))
            res = process.run([self.tc.qemu, binary, *bench.render_args(1)],
                              timeout=timeout or self.run_timeout, cwd=d, env=env)
            outs = tuple((Path(d) / o).read_bytes() if (Path(d) / o).exists() else None for o in bench.outputs)
        return res, outs

    def reference(self, bench: Benchmark) -> tuple:
        with self._lock:
            if bench.id in self._refs:
                return self._refs[bench.id]
        from costtune.compile import compile_benchmark

        cr = compile_benchmark(bench, "O0", "aarch64", self.tc)
        if not cr.ok:
            raise RuntimeError(f"O0 build of {bench.id} failed: {cr.describe()}")
        res, outs = self._run(bench, cr.artifact.binary)
        if res.timed_out or res.returncode != 0:
            raise RuntimeError(f"O0 run of {bench.id} failed: {res.describe()}")
        ref = (res.returncode, res.stdout if bench.compare_stdout else b"", res.stderr if bench.compare_stderr else b"",
               outs)
        with self._lock:
            self._refs[bench.id] = ref
            self._limits[bench.id] = max(5.0, self.SLOWDOWN * res.seconds)
        return ref

    def build_and_run(self, bench: Benchmark, names: list[str], catalog: Catalog) -> Outcome:
        from costtune.compile import compile_benchmark

        pipeline = render(names, catalog)
        if "(" not in pipeline:  # module passes only: keep compile from re-reading names via the CSV
            pipeline = f"module({pipeline})"
        cr = compile_benchmark(bench, pipeline, "aarch64", self.tc)
        if not cr.ok:
            if cr.step == "opt" and cr.status != "timeout":
                # compile keeps only the stderr tail; rerun opt for the pass its stack dump names
                o = self.opt_only(pipeline, self.linked_bc(bench))
                if not o.ok:
                    return o
            status = "timeout" if cr.status == "timeout" else ("opt_crash" if cr.step == "opt" else "compile_error")
            return Outcome(status, cr.step, _culprit_from_stderr(cr.stderr_tail) if cr.step == "opt" else "",
                           _last_line(cr.stderr_tail))
        ref = self.reference(bench)
        limit = self._limits[bench.id]
        res, outs = self._run(bench, cr.artifact.binary, limit)
        if res.timed_out:
            return Outcome("timeout", "run", "", f"run took over {limit:.0f}s ({self.SLOWDOWN:g}x the O0 run)")
        got = (res.returncode, res.stdout if bench.compare_stdout else b"", res.stderr if bench.compare_stderr else b"",
               outs)
        if res.returncode != ref[0]:
            return Outcome("run_error", "run", "", f"{res.describe()} (reference exit 0)")
        if got != ref:
            return Outcome("wrong_output", "run", "", "output differs from the O0 reference")
        return Outcome("ok")


# --------------------------------------------------------------------------- delta debugging

def ddmin(seq: list[str], fails) -> list[str]:
    """Zeller's ddmin: a 1-minimal subsequence of ``seq`` for which ``fails`` holds."""
    n = 2
    while len(seq) >= 2:
        chunk = max(1, len(seq) // n)
        subsets = [seq[i:i + chunk] for i in range(0, len(seq), chunk)]
        reduced = False
        for i in range(len(subsets)):
            complement = [x for j, s in enumerate(subsets) if j != i for x in s]
            if complement and fails(complement):
                seq, n, reduced = complement, max(n - 1, 2), True
                break
        if not reduced:
            if n >= len(seq):
                break
            n = min(len(seq), n * 2)
    return seq


def culprit_of(lab: Lab, bench: Benchmark, names: list[str], catalog: Catalog, first: Outcome,
               max_tests: int = 120, suspects: set[str] = frozenset()) -> tuple[str, list[str]]:
    """Reduce a failing sequence; return (culprit pass, minimal failing sequence).

    The culprit is a pass of the minimal sequence already known to be unsafe
    (``suspects``, or unsafe in the catalog: without it there is no failure);
    else the pass opt's stack dump names; else the last pass of the minimal sequence (the one that turns a
    working prefix into a failure).
    """
    tests = [0]
    opt_level = first.status == "opt_crash"
    bc = lab.linked_bc(bench) if opt_level else None

    def fails(sub: list[str]) -> bool:
        tests[0] += 1
        if tests[0] > max_tests:
            return False
        if opt_level:
            o = lab.opt_only(render(sub, catalog), bc)
        else:
            o = lab.build_and_run(bench, sub, catalog)
        return o.status == first.status

    minimal = ddmin(list(names), fails)
    known_bad = [n for n in minimal if base_name_of(n) in suspects or (n in catalog and not catalog[n].safe)]
    culprit = base_name_of(known_bad[-1]) if known_bad else ""
    if not culprit and first.culprit in catalog.by_name:
        culprit = first.culprit
    if not culprit:
        # the last pass of the minimal sequence turns a working prefix into a failure
        culprit = minimal[-1]
    return culprit, minimal


# --------------------------------------------------------------------------- the probe

@dataclass
class ProbeReport:
    llvm: int
    passes: int = 0
    curated_unsafe: int = 0
    probe_a_unsafe: dict = field(default_factory=dict)
    probe_b_unsafe: dict = field(default_factory=dict)
    known: dict = field(default_factory=dict)
    sequences: int = 0
    sequence_failures: int = 0
    seconds: float = 0.0
    path: str = ""


def _programs(names: list[str] | None) -> list[Benchmark]:
    """Builtin programs that load (the suite may be half-written while others work on it)."""
    from costtune.benchmarks import BUILTIN_DIR, load_program
    from costtune.errors import CostTuneError

    if names:
        suite = get_suite("builtin")
        return [suite.get(n) for n in names]
    benches = []
    for d in sorted(p.parent for p in BUILTIN_DIR.glob("*/bench.yaml")):
        try:
            b = load_program(d, "builtin")
        except CostTuneError as e:
            log.warning("skipping %s: %s", d.name, e)
            continue
        if b.status == "ok":
            benches.append(b)
    return benches


def _usable(lab: "Lab") -> list[Benchmark]:
    ok = []
    for b in lab.benches:
        try:
            lab.reference(b)
            ok.append(b)
        except RuntimeError as e:
            log.warning("skipping %s: %s", b.id, e)
    if not ok:
        raise BenchmarkError(f"none of the {len(lab.benches)} builtin programs built and ran at O0: "
                             "no program to probe the passes on")
    lab.benches = ok
    return ok


def _set_unsafe(rows: dict[str, PassInfo], name: str, reason: str) -> None:
    r = rows[name]
    joined = f"{r.reason}; {reason}" if r.reason else reason
    rows[name] = PassInfo(r.name, r.level, r.wrap, r.form, r.params, False, joined)


def probe(llvm: int, sequences: int = 30, jobs: int = 2, seed: int = 0, programs: list[str] | None = None,
          n_alone: int = 2, targeted: int = 8, write: bool = True, progress=None) -> ProbeReport:
    """Rebuild the catalog for LLVM ``llvm`` (see the module docstring)."""
    start = time.time()
    tc = find(llvm)
    rows = {r.name: r for r in base_rows(tc)}
    report = ProbeReport(llvm, passes=len(rows), curated_unsafe=sum(not r.safe for r in rows.values()))
    lab = Lab(tc, _programs(programs))
    benches = _usable(lab)
    rng = random.Random(seed)
    alone_benches = benches[:n_alone]

    # probe A: each transform pass alone, raw and after default<O2>
    inputs = []
    tmpdir = Path(tempfile.mkdtemp(prefix="ct-probe-a-"))
    try:
        for b in alone_benches:
            bc = lab.linked_bc(b)
            o2 = tmpdir / f"{b.name}-O2.bc"
            res = process.run([tc.opt, "-passes=default<O2>", bc, "-o", o2], timeout=120)
            inputs.append((b.name, bc))
            if res.ok:
                inputs.append((f"{b.name}@O2", o2))
        candidates = [r for r in rows.values() if not r.reason.startswith(("analysis/printer", "pass-manager"))]

        def alone(r: PassInfo):
            cat = Catalog(llvm, list(rows.values()))
            for label, bc in inputs:
                o = lab.opt_only(render([r.name], cat), bc)
                if not o.ok:
                    return r.name, f"probe: {o.status} alone on builtin/{label}: {o.detail}"
            return r.name, ""

        with ThreadPoolExecutor(jobs) as ex:
            for name, evidence in ex.map(alone, candidates):
                if evidence:
                    report.probe_a_unsafe[name] = evidence
                    _set_unsafe(rows, name, evidence)
        if progress:
            progress(f"probe A: {len(candidates)} passes alone, {len(report.probe_a_unsafe)} failed")
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)

    # probe B: random sequences, compiled and run; culprits become unsafe
    def one_sequence(i: int, names: list[str], cat: Catalog):
        bench = benches[i % len(benches)]
        o = lab.build_and_run(bench, names, cat)
        return bench, names, o

    def handle_failure(bench, names, o, cat, label):
        culprit, minimal = culprit_of(lab, bench, names, cat, o)
        evidence = (f"probe: {o.status} in {label} on {bench.id} ({o.detail}); "
                    f"minimal: {','.join(minimal)}")
        return culprit, evidence

    cat = Catalog(llvm, list(rows.values()))
    batch = []
    for i in range(sequences):
        batch.append((i, [rng.choice(cat.safe_names()) for _ in range(rng.randint(20, 60))]))
    report.sequences = len(batch)
    with ThreadPoolExecutor(jobs) as ex:
        results = list(ex.map(lambda t: one_sequence(t[0], t[1], cat), batch))
    for k, (bench, names, o) in enumerate(results):
        if o.ok:
            continue
        report.sequence_failures += 1
        cat = Catalog(llvm, list(rows.values()))
        if not all(rows[n].safe for n in names):
            continue  # a culprit already found explains it
        culprit, evidence = handle_failure(bench, names, o, cat, f"random sequence {k}")
        if culprit in rows and rows[culprit].safe:
            report.probe_b_unsafe[culprit] = evidence
            _set_unsafe(rows, culprit, evidence)
        if progress:
            progress(f"probe B: sequence {k} failed -> {culprit}")

    # targeted: known crashers inside random sequences
    cat = Catalog(llvm, list(rows.values()))
    for name, fact in KNOWN.items():
        if name not in rows:
            report.known[name] = "not in this LLVM version"
            continue
        seqs = []
        for j in range(targeted):
            names = [rng.choice(cat.safe_names()) for _ in range(rng.randint(20, 60))]
            for _ in range(3):
                names.insert(rng.randrange(len(names) + 1), name)
            seqs.append(names)
        trials = [(benches[j % len(benches)],
                   # plain instcombine verifies its fixpoint: the abort KNOWN describes
                   [f"{n}<verify-fixpoint>" if n == "instcombine" and llvm >= 18 else n for n in names])
                  for j, names in enumerate(seqs)]
        with ThreadPoolExecutor(jobs) as ex:
            outcomes = list(ex.map(lambda t: lab.build_and_run(t[0], t[1], cat), trials))
        found = ""
        for (bench, trial), o in zip(trials, outcomes):
            if o.ok:
                continue
            culprit, minimal = culprit_of(lab, bench, trial, cat, o, suspects={name})
            evidence = f"{o.status} on {bench.id} ({o.detail}); minimal: {','.join(minimal)}"
            if base_name_of(culprit) == name:
                found = f"confirmed by probe: {evidence}"
                break
            if culprit in rows and rows[culprit].safe:  # another pass is to blame
                report.probe_b_unsafe[culprit] = f"probe: {evidence}"
                _set_unsafe(rows, culprit, f"probe: {evidence}")
        if not found and name in report.probe_b_unsafe:
            found = f"confirmed by probe B: {report.probe_b_unsafe[name]}"
        if not found and name == "chr":
            raw = lab.opt_only("function(chr)", lab.linked_bc(benches[0]))
            found = (f"confirmed by probe without the guard: {raw.status} ({raw.detail})" if not raw.ok else
                     "guard kept (O3 runs require<profile-summary> first)")
        report.known[name] = found or f"not reproduced in {len(seqs)} targeted sequences"
        r = rows[name]
        if name == "instcombine" or name == "chr":
            continue  # guarded by form/wrap; stays safe
        if found and r.safe:
            _set_unsafe(rows, name, f"{fact}; {found}")
        elif not r.safe:
            rows[name] = PassInfo(r.name, r.level, r.wrap, r.form, r.params, False,
                                  f"{r.reason}; known: {fact}; {found or 'not reproduced here'}"
                                  if not r.reason.startswith("probe") else f"{r.reason}; known: {fact}")
        else:
            _set_unsafe(rows, name, f"known: {fact}; not reproduced in the probe, kept out to be safe")
    if progress:
        progress(f"known crashers: {report.known}")

    # evidence kept from earlier validation runs (passes/llvm-N/evidence/*.json)
    for name, ev in load_evidence(llvm).items():
        if name in rows and rows[name].safe:
            report.probe_b_unsafe[name] = ev
            _set_unsafe(rows, name, ev)

    ordered = sorted(rows.values(), key=lambda r: (LEVELS.index(r.level), r.name))
    path = catalog_path(llvm)
    if write:
        write_catalog(ordered, path)
    report.path = str(path)
    report.seconds = round(time.time() - start, 1)
    return report


def evidence_dir(llvm: int) -> Path:
    return catalog_path(llvm).parent / "evidence"


def load_evidence(llvm: int) -> dict[str, str]:
    """Culprits recorded by earlier ``costtune passes validate`` runs saved under passes/llvm-N/evidence/."""
    out: dict[str, str] = {}
    for f in sorted(evidence_dir(llvm).glob("*.json")):
        data = json.loads(f.read_text())
        for fail in data.get("failures", []):
            c = fail.get("culprit")
            if c and c not in out:
                out[c] = (f"probe (validation {f.name}): {fail['status']} on {fail['bench']} "
                          f"({fail['detail'][:120]}); minimal: {','.join(fail['minimal'])}")
    return out


# --------------------------------------------------------------------------- validation (acceptance bar)

@dataclass
class ValidationReport:
    llvm: int
    pipelines: int
    programs: list[str]
    builds: int = 0
    ok_builds: int = 0
    ok_pipelines: int = 0
    failures: list = field(default_factory=list)
    by_status: dict = field(default_factory=dict)
    by_culprit: dict = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def pipeline_rate(self) -> float:
        return self.ok_pipelines / max(1, self.pipelines)


def validate(llvm: int, n: int = 1000, seed: int = 1, jobs: int = 2, programs: list[str] | None = None,
             per_pipeline: int | None = None, out: Path | None = None, progress=None) -> ValidationReport:
    """Build and run ``n`` random safe pipelines (20-60 passes) on the builtin suite.

    Each pipeline runs on ``per_pipeline`` programs (rotating over the suite;
    default: all of them). A pipeline counts as correct when every program it ran
    on builds and prints the O0 reference output. Failures are reduced to their
    culprit pass. ``out`` gets the JSON report, rewritten as results arrive.
    """
    from costtune.passes import load_catalog

    start = time.time()
    tc = find(llvm)
    cat = load_catalog(llvm)
    lab = Lab(tc, _programs(programs))
    benches = _usable(lab)
    rng = random.Random(seed)
    per = per_pipeline or len(benches)
    work = []
    for i in range(n):
        names = [rng.choice(cat.safe_names()) for _ in range(rng.randint(20, 60))]
        chosen = [benches[(i * per + k) % len(benches)] for k in range(min(per, len(benches)))]
        work.append((i, names, chosen))
    rep = ValidationReport(llvm, n, [b.id for b in benches])
    lock = threading.Lock()

    def one(item):
        i, names, chosen = item
        fails = []
        for b in chosen:
            o = lab.build_and_run(b, names, cat)
            if not o.ok:
                culprit, minimal = culprit_of(lab, b, names, cat, o, max_tests=60)
                fails.append({"pipeline": i, "bench": b.id, "status": o.status, "step": o.step,
                              "detail": o.detail, "culprit": culprit, "minimal": minimal,
                              "passes": names})
        with lock:
            rep.builds += len(chosen)
            rep.ok_builds += len(chosen) - len(fails)
            rep.ok_pipelines += not fails
            for f in fails:
                rep.failures.append(f)
                rep.by_status[f["status"]] = rep.by_status.get(f["status"], 0) + 1
                rep.by_culprit[f["culprit"]] = rep.by_culprit.get(f["culprit"], 0) + 1
            if out and (len(fails) or rep.builds % (10 * len(chosen)) == 0):
                _dump(rep, out, start)
        if progress:
            progress(i, not fails)

    with ThreadPoolExecutor(jobs) as ex:
        list(ex.map(one, work))
    rep.seconds = round(time.time() - start, 1)
    if out:
        _dump(rep, out, start)
    return rep


def _dump(rep: ValidationReport, out: Path, start: float) -> None:
    d = asdict(rep)
    d["pipeline_rate"] = rep.pipeline_rate
    d["elapsed"] = round(time.time() - start, 1)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(d, indent=1))
    tmp.replace(out)


def format_validation(rep: ValidationReport) -> str:
    lines = [f"LLVM {rep.llvm}: {rep.ok_pipelines}/{rep.pipelines} pipelines correct "
             f"({100 * rep.pipeline_rate:.2f}%), {rep.ok_builds}/{rep.builds} builds, {rep.seconds:.0f}s",
             f"programs: {', '.join(rep.programs)}"]
    if rep.failures:
        lines.append(format_table(sorted(rep.by_status.items()), ("status", "count")))
        lines.append(format_table(sorted(rep.by_culprit.items(), key=lambda kv: -kv[1]), ("culprit", "count")))
    return "\n".join(lines)


def format_probe(rep: ProbeReport) -> str:
    lines = [f"LLVM {rep.llvm}: {rep.passes} passes, {rep.curated_unsafe} excluded by curated rules, "
             f"{len(rep.probe_a_unsafe)} by probe A, {len(rep.probe_b_unsafe)} by probe B "
             f"({rep.sequence_failures}/{rep.sequences} random sequences failed), {rep.seconds:.0f}s -> {rep.path}"]
    for name, ev in {**rep.probe_a_unsafe, **rep.probe_b_unsafe}.items():
        lines.append(f"  unsafe {name}: {ev[:160]}")
    for name, ev in rep.known.items():
        lines.append(f"  known {name}: {ev[:160]}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- O3 round trip

@dataclass
class O3Row:
    bench: str
    o3_insns: float | None
    flat_insns: float | None  #: parse_pipeline(O3) rendered back, catalog default params
    flat_params_insns: float | None  #: the same, keeping O3's own parameters
    o3_static: int = 0
    flat_static: int = 0
    flat_params_static: int = 0
    status: str = ""


def _static_count(tc: Toolchain, binary: Path) -> int:
    res = process.run([tc["llvm-objdump"], "-d", "--no-show-raw-insn", binary], timeout=120)
    return sum(1 for l in res.stdout.decode(errors="replace").splitlines() if re.match(r"^\s+[0-9a-f]+:\t", l))


def o3_check(llvm: int, programs: list[str] | None = None, repeat: int | None = None) -> tuple[str, list[O3Row]]:
    """Compare default<O3> with its flattened sequence rendered back, in dynamic instructions."""
    from costtune.compile import compile_benchmark
    from costtune.measure import measure
    from costtune.passes import load_catalog, parse_pipeline

    tc = find(llvm)
    cat = load_catalog(llvm)
    benches = _programs(programs)
    res = process.run([tc.opt, "-passes=default<O3>", "-print-pipeline-passes", "-disable-output",
                       Lab(tc, benches).linked_bc(benches[0])], timeout=120)
    printed = res.stdout.decode().strip()
    flat = render(parse_pipeline(printed, cat), cat)
    flat_params = render(parse_pipeline(printed, cat, keep_params=True), cat)
    rows = []
    for b in benches:
        row = O3Row(b.id, None, None, None)
        vals = []
        for spec in ("O3", flat, flat_params):
            cr = compile_benchmark(b, spec, "aarch64", tc)
            if not cr.ok:
                row.status = f"{spec[:20]}: {cr.describe()}"
                vals.append((None, 0))
                continue
            m = measure(cr.artifact, b, metric="insns", repeat=repeat, toolchain=tc)
            if m.status != "ok":
                row.status = f"{spec[:20]}: {m.status} {m.detail}"
            vals.append((m.value if m.status == "ok" else None, _static_count(tc, cr.artifact.binary)))
        (row.o3_insns, row.o3_static), (row.flat_insns, row.flat_static), \
            (row.flat_params_insns, row.flat_params_static) = vals
        row.status = row.status or "ok"
        rows.append(row)
    return flat_params, rows


def format_o3(rows: list[O3Row]) -> str:
    def pct(a, b):
        return f"{100 * (a / b - 1):+.1f}%" if a and b else "-"

    lines = [format_table([(r.bench, f"{r.o3_insns or 0:.0f}", pct(r.flat_insns, r.o3_insns),
                            pct(r.flat_params_insns, r.o3_insns), r.o3_static, pct(r.flat_static, r.o3_static),
                            pct(r.flat_params_static, r.o3_static), r.status) for r in rows],
                          ("bench", "O3 insns", "flat", "flat+params", "static O3", "flat", "flat+params", "status"),
                          align="<>>>>>><")]
    import math

    def geo(key):
        xs = [getattr(r, key) / r.o3_insns for r in rows if getattr(r, key) and r.o3_insns]
        return f"{100 * (math.exp(sum(map(math.log, xs)) / len(xs)) - 1):+.1f}%" if xs else "-"

    lines.append(f"geomean dynamic insns vs default<O3>: flat {geo('flat_insns')}, "
                 f"flat+params {geo('flat_params_insns')}")
    return "\n".join(lines)
