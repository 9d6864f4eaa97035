"""Estimated cycles on a named core: executed blocks x llvm-mca's cost of each block.

``cycles`` is the metric ``cycles:CORE`` (``cycles`` alone is ``cycles:cortex-a57``,
the Jetson TX2's big core). One counting run under qemu reports every executed
translation block (start address, instructions, executions); each block's
instructions are read from the static binary, and the estimate is

    sum over blocks of  executions x cost(block on CORE)

How a block is costed (the rule behind the figure, see :data:`RULE`):

* **Text.** ``llvm-objdump -d`` of the whole binary, sliced by address (a block
  is ``n`` instructions from its start). Branch, call and ``adr``/``adrp``
  targets become one placeholder symbol - a block's cost does not depend on
  where it jumps - so equal code at different addresses is one text.
* **Cost.** ``llvm-mca -mtriple=T -mcpu=CORE --call-latency=1`` on the block as
  one code region. ``latency`` (the default) is the total cycles of a single
  iteration from an empty pipeline (dispatch, the dependency chain, retire);
  ``rthru`` is total cycles / iterations over 100 back-to-back iterations (the
  block's steady-state cost when its neighbours overlap with it). Both are
  computed and cached. ``benchmarks/bench_cycles.py`` measured both against
  native wall time on the x86-64 host (znver3 model, 6 builtin programs, 50
  distinct binaries): pooled pair accuracy 0.725 (latency) vs 0.705 (rthru)
  against the median run, 0.686 vs 0.677 against the fastest run - within
  the noise of that machine, so the default is a narrow call.
* **The C library** is part of the static binary: its blocks are costed by the
  same rule, as the code qemu ran (glibc picks its string routines for qemu's
  CPU model, which has SVE and LSE - see the fallback).
* **Fallback.** An instruction llvm-mca cannot parse or has no scheduling data
  for on CORE (e.g. SVE ``ld1b`` on cortex-a57, ``svc``-style system code on
  some cores) is dropped from its block's analysis and counted as 1 cycle; a
  block whose address is not in the binary costs 1 cycle per instruction. It is
  logged once per process and block, and :attr:`CycleEstimate.fallback_insns`
  (in the measurement's detail) says how many executed instructions it covered;
  never zero.

Costs are cached by content in ``<cache>/measure/mca/blocks.sqlite``: block
bytes -> normalised text (per target), text -> cost (per triple, core, llvm-mca
version and :data:`RULE`), so a block seen in any earlier binary is analysed
once, and a binary whose blocks are all known is neither disassembled nor
analysed again. The same binary always gives the same figure.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import sqlite3
import struct
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from costtune import process
from costtune.cache import cache_dir
from costtune.errors import EnvironmentFailure, MeasurementError
from costtune.logging import get_logger

log = get_logger(__name__)

CYCLES = "cycles"
DEFAULT_CPU = "cortex-a57"
MODES = ("rthru", "latency")
DEFAULT_MODE = "latency"
#: names the costing rule in every cache key: change it when the rule or the text normalisation changes
RULE = "mca-v1:call-latency=1:iters=100,1"
#: llvm-mca's -mtriple per costtune target
TRIPLES = {"aarch64": "aarch64", "host": "x86_64"}
#: longest instruction in bytes per target (a block's bytes are read up to n x this)
MAX_INSN_BYTES = {"aarch64": 4, "host": 15}
ITERATIONS = 100
BATCH = 1500  #: code regions per llvm-mca process
MCA_TIMEOUT = 600.0

_said: set[str] = set()


# ---------------------------------------------------------------------------
# the metric name


def is_cycles(metric: str) -> bool:
    return metric == CYCLES or metric.startswith(CYCLES + ":")


def metric_name(metric: str, cpu: str | None = None) -> str:
    """The canonical metric: ``insns``/``wall`` unchanged, ``cycles`` -> ``cycles:CORE``.

    ``cpu`` (``--cpu``) is only valid with cycles and must agree with a core already
    named in ``metric``. Raises MeasurementError.
    """
    if not is_cycles(metric):
        if cpu:
            raise MeasurementError(f"--cpu needs --metric cycles (the metric is '{metric}')")
        return metric
    named = metric.partition(":")[2]
    if named and cpu and named != cpu:
        raise MeasurementError(f"metric '{metric}' names core {named} but --cpu is {cpu}")
    core = named or cpu or DEFAULT_CPU
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._+-]*", core):
        raise MeasurementError(f"'{core}' is not a core name (e.g. {DEFAULT_CPU})")
    return f"{CYCLES}:{core}"


def cycles_metric(metric: str, target: str, toolchain=None) -> str:
    """``cycles:CORE`` with CORE checked against llvm-mca's list for ``target`` (one line if unknown)."""
    from costtune.toolchain import find

    if target != "aarch64":
        raise MeasurementError("cycles need an aarch64 build (a static binary whose blocks can be read)")
    return f"{CYCLES}:{check_cpu(cpu_of(metric), target, toolchain or find(require_qemu=False))}"


def cpu_of(metric: str) -> str:
    """The core of a canonical ``cycles:CORE`` metric."""
    return metric_name(metric).partition(":")[2]


# ---------------------------------------------------------------------------
# llvm-mca


def mca_path(toolchain) -> Path:
    """``llvm-mca`` of the toolchain's LLVM (next to its llvm-objdump)."""
    objdump = Path(toolchain["llvm-objdump"])
    return objdump.with_name(objdump.name.replace("objdump", "mca"))


@functools.lru_cache(maxsize=None)
def _mca_info(mca: str) -> tuple[str, str]:
    """(version, host cpu) of an llvm-mca binary."""
    res = process.run([mca, "--version"], timeout=30)
    if not res.ok:
        raise MeasurementError(f"{mca} does not run ({res.describe()}): install llvm (apt-get install llvm-19)")
    text = res.stdout.decode("utf-8", "replace")
    version = re.search(r"LLVM version\s+(\S+)", text)
    host = re.search(r"Host CPU:\s*(\S+)", text)
    return (version.group(1) if version else "unknown"), (host.group(1) if host else "")


@functools.lru_cache(maxsize=None)
def known_cpus(mca: str, triple: str) -> tuple[str, ...]:
    """The cores llvm-mca knows for ``triple`` (``-mcpu=help``)."""
    res = process.run([mca, f"-mtriple={triple}", "-mcpu=help"], timeout=30, stdin=b"")
    text = (res.stdout + res.stderr).decode("utf-8", "replace")
    cpus, inside = [], False
    for line in text.splitlines():
        if line.startswith("Available CPUs"):
            inside = True
        elif line.startswith("Available features"):
            break
        elif inside and line.strip():
            cpus.append(line.split()[0])
    return tuple(cpus)


def check_cpu(cpu: str, target: str, toolchain) -> str:
    """``cpu`` if llvm-mca knows it for ``target`` (``native``: the host's core); else one line listing them."""
    mca = os.fspath(mca_path(toolchain))
    if not Path(mca).is_file():
        raise MeasurementError(f"llvm-mca not found next to {toolchain['llvm-objdump']} (apt-get install llvm-19)")
    triple = TRIPLES[target]
    if cpu == "native":
        cpu = _mca_info(mca)[1]
    cpus = known_cpus(mca, triple)
    if cpu not in cpus:
        raise MeasurementError(f"unknown core '{cpu}' for {triple}; llvm-mca knows: {' '.join(cpus)}")
    return cpu


# ---------------------------------------------------------------------------
# block bytes and text


class ElfImage:
    """The loaded bytes of a static ELF64 little-endian executable, by virtual address."""

    def __init__(self, path: Path):
        data = path.read_bytes()
        if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
            raise MeasurementError(f"{path} is not a 64-bit little-endian ELF file")
        self.data = data
        phoff, = struct.unpack_from("<Q", data, 0x20)
        phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
        self.segments = []  # (vaddr, filesz, offset) of executable PT_LOAD segments
        for i in range(phnum):
            p_type, p_flags, p_offset, p_vaddr, _paddr, p_filesz = struct.unpack_from(
                "<IIQQQQ", data, phoff + i * phentsize)
            if p_type == 1 and p_flags & 1:
                self.segments.append((p_vaddr, p_filesz, p_offset))

    def read(self, vaddr: int, size: int) -> bytes | None:
        for start, filesz, offset in self.segments:
            if start <= vaddr < start + filesz:
                size = min(size, start + filesz - vaddr)
                return self.data[offset + vaddr - start: offset + vaddr - start + size]
        return None


#: AArch64 PC-relative forms (mask, match, bits holding the offset): their targets are
#: placeholders in the text, so their offsets are masked out of a block's byte key too
_PC_RELATIVE = (
    (0x7C000000, 0x14000000, 0x03FFFFFF),  # b, bl
    (0xFF000010, 0x54000000, 0x00FFFFE0),  # b.cond
    (0x7E000000, 0x34000000, 0x00FFFFE0),  # cbz, cbnz
    (0x7E000000, 0x36000000, 0x0007FFE0),  # tbz, tbnz
    (0x1F000000, 0x10000000, 0x60FFFFE0),  # adr, adrp
    (0x3B000000, 0x18000000, 0x00FFFFE0),  # ldr (literal), ldrsw, prfm
)


def byte_key(raw: bytes, target: str, n: int) -> str:
    """Content key of a block's bytes; AArch64 branch/adr offsets do not count (the text has none)."""
    if target == "aarch64":
        words = list(struct.unpack(f"<{len(raw) // 4}I", raw[:len(raw) // 4 * 4]))
        for i, w in enumerate(words):
            for mask, match, field_ in _PC_RELATIVE:
                if w & mask == match:
                    words[i] = w & ~field_
                    break
        raw = struct.pack(f"<{len(words)}I", *words)
    return _sha(RULE, target, str(n), raw)


_INSN_LINE = re.compile(r"^\s*([0-9a-f]+):\s+(\S.*)$")
#: a bare hex number is an address (immediates carry '#' or '$', displacements a '(' after them)
_ADDRESS = re.compile(r"(?<![\w#$:.+-])0x[0-9a-fA-F]+(?![\w(])")
_TARGET = "ct_target"


def normalise(insn: str, target: str) -> str:
    """One objdump instruction as assembly llvm-mca parses: no comment, no ``<sym>``,
    every address the placeholder symbol."""
    insn = insn.split("#" if target == "host" else "//", 1)[0]
    insn = re.sub(r"\s*<[^>]*>", "", insn)
    insn = _ADDRESS.sub(_TARGET, insn)
    return " ".join(insn.split())


def disassembly(binary: Path, target: str, toolchain, start: int | None = None,
                stop: int | None = None) -> tuple[list[int], dict[int, str]]:
    """(sorted instruction addresses, address -> normalised instruction) of the executable
    sections, between ``start`` and ``stop`` when given (one objdump run)."""
    argv = [toolchain["llvm-objdump"], "-d", "--no-show-raw-insn"]
    if start is not None:
        argv += [f"--start-address={start:#x}", f"--stop-address={stop:#x}"]
    res = process.run([*argv, binary], timeout=MCA_TIMEOUT)
    why = process.environment_cause(res)
    if why:
        raise EnvironmentFailure(f"llvm-objdump: {why}")
    if not res.ok:
        raise MeasurementError(f"llvm-objdump failed on {binary}: {res.stderr_tail(300).strip()}")
    insns: dict[int, str] = {}
    for line in res.stdout.decode("utf-8", "replace").splitlines():
        m = _INSN_LINE.match(line)
        if m:
            insns[int(m.group(1), 16)] = normalise(m.group(2), target)
    return sorted(insns), insns


def block_text(vaddr: int, n: int, addrs: list[int], insns: dict[int, str]) -> str | None:
    """The ``n`` instructions from ``vaddr`` (None if ``vaddr`` is not an instruction start)."""
    import bisect

    i = bisect.bisect_left(addrs, vaddr)
    if i >= len(addrs) or addrs[i] != vaddr or i + n > len(addrs):
        return None
    return "\n".join(insns[a] for a in addrs[i:i + n])


# ---------------------------------------------------------------------------
# the cost cache


def _sha(*parts: str | bytes) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p if isinstance(p, bytes) else p.encode())
        h.update(b"\0")
    return h.hexdigest()[:32]


@dataclass
class BlockCost:
    n: int  #: instructions given to llvm-mca
    analysed: int  #: instructions llvm-mca analysed (the rest count 1 cycle each)
    rthru: float  #: cycles per iteration, 100 iterations back to back
    latency: float  #: cycles of one iteration from an empty pipeline
    first_skipped: str = ""  #: the first instruction llvm-mca could not analyse

    def cycles(self, mode: str) -> float:
        base = self.rthru if mode == "rthru" else self.latency
        return (base if self.analysed else 0.0) + (self.n - self.analysed)


class CostCache:
    """``<cache>/measure/mca/blocks.sqlite``: block bytes -> text hash, (text hash, model) -> cost."""

    def __init__(self, path: Path | None = None):
        self.path = path or cache_dir("measure", "mca") / "blocks.sqlite"
        try:
            self.db = sqlite3.connect(self.path, timeout=120)
            with self.db:
                self.db.execute("CREATE TABLE IF NOT EXISTS texts (bkey TEXT PRIMARY KEY, tkey TEXT NOT NULL)")
                self.db.execute("CREATE TABLE IF NOT EXISTS costs (tkey TEXT NOT NULL, model TEXT NOT NULL, "
                                "n INTEGER, analysed INTEGER, rthru REAL, latency REAL, first_skipped TEXT, "
                                "PRIMARY KEY (tkey, model))")
        except sqlite3.Error as e:
            raise EnvironmentFailure(f"block-cost cache {self.path}: {e}") from None

    def _query(self, sql: str, keys: list[str], *args) -> list[tuple]:
        rows = []
        try:
            for i in range(0, len(keys), 500):
                chunk = keys[i:i + 500]
                marks = ",".join("?" * len(chunk))
                rows += self.db.execute(sql.format(marks), [*chunk, *args]).fetchall()
        except sqlite3.Error as e:
            raise EnvironmentFailure(f"block-cost cache {self.path}: {e}") from None
        return rows

    def texts(self, bkeys: list[str]) -> dict[str, str]:
        return dict(self._query("SELECT bkey, tkey FROM texts WHERE bkey IN ({})", bkeys))

    def costs(self, tkeys: list[str], model: str) -> dict[str, BlockCost]:
        rows = self._query("SELECT tkey, n, analysed, rthru, latency, first_skipped FROM costs "
                           "WHERE tkey IN ({}) AND model = ?", tkeys, model)
        return {r[0]: BlockCost(*r[1:]) for r in rows}

    def put(self, texts: dict[str, str], costs: dict[str, BlockCost], model: str) -> None:
        try:
            with self.db:
                self.db.executemany("INSERT OR IGNORE INTO texts VALUES (?, ?)", texts.items())
                self.db.executemany("INSERT OR IGNORE INTO costs VALUES (?, ?, ?, ?, ?, ?, ?)",
                                    [(k, model, c.n, c.analysed, c.rthru, c.latency, c.first_skipped)
                                     for k, c in costs.items()])
        except sqlite3.Error as e:
            raise EnvironmentFailure(f"block-cost cache {self.path}: {e}") from None

    def close(self) -> None:
        self.db.close()


# ---------------------------------------------------------------------------
# running llvm-mca


def _run_mca(mca: str, triple: str, cpu: str, source: str, iterations: int) -> dict[str, dict]:
    """{region name: region} of one llvm-mca run over ``source``."""
    argv = [mca, f"-mtriple={triple}", f"-mcpu={cpu}", f"--iterations={iterations}", "--call-latency=1",
            "--skip-unsupported-instructions=any", "--json", "--instruction-info=false",
            "--resource-pressure=false", "-"]
    res = process.run(argv, timeout=MCA_TIMEOUT, stdin=source.encode())
    why = process.environment_cause(res)
    if why:
        raise EnvironmentFailure(f"llvm-mca: {why}")
    if not res.ok:
        tail = res.stderr_tail(400).strip().splitlines()
        raise MeasurementError(f"llvm-mca failed ({res.describe()}): {tail[-1] if tail else ''}")
    try:
        regions = json.loads(res.stdout)["CodeRegions"]
    except (ValueError, KeyError) as e:
        raise MeasurementError(f"llvm-mca printed no JSON report ({e})") from None
    return {r["Name"]: r for r in regions}


def analyse(texts: dict[str, str], triple: str, cpu: str, mca: str) -> dict[str, BlockCost]:
    """{text key: cost} of block texts, llvm-mca run in batches of code regions."""
    out: dict[str, BlockCost] = {}
    items = sorted(texts.items())
    for i in range(0, len(items), BATCH):
        chunk = items[i:i + BATCH]
        source = "".join(f"# LLVM-MCA-BEGIN r{j}\n{text}\n# LLVM-MCA-END r{j}\n" for j, (_, text) in enumerate(chunk))
        many = _run_mca(mca, triple, cpu, source, ITERATIONS)
        once = _run_mca(mca, triple, cpu, source, 1)
        for j, (key, text) in enumerate(chunk):
            lines = text.split("\n")
            r, r1 = many.get(f"r{j}"), once.get(f"r{j}")
            if r is None or r1 is None:  # nothing in the block could be analysed
                out[key] = BlockCost(len(lines), 0, 0.0, 0.0, lines[0])
                continue
            kept = r["Instructions"]
            skipped = ""
            if len(kept) < len(lines):
                kept_set = {" ".join(k.split()) for k in kept}
                skipped = next((ln for ln in lines if " ".join(ln.split()) not in kept_set), lines[0])
            s, s1 = r["SummaryView"], r1["SummaryView"]
            out[key] = BlockCost(len(lines), len(kept), s["TotalCycles"] / s["Iterations"],
                                 float(s1["TotalCycles"]), skipped)
    return out


# ---------------------------------------------------------------------------
# the estimate


@dataclass
class CycleEstimate:
    cycles: float  #: the estimate under ``mode``
    cpu: str
    mode: str
    insns: int  #: executed instructions (sum over the blocks)
    blocks: int  #: distinct executed blocks
    fallback_insns: int = 0  #: executed instructions counted at 1 cycle (not analysable)
    fallback_blocks: int = 0  #: distinct blocks holding such instructions
    analysed: int = 0  #: block texts llvm-mca analysed in this call (not in the cache)
    disassembled: bool = False  #: whether the binary had to be disassembled (a block not in the cache)
    seconds: float = 0.0
    by_mode: dict | None = None  #: the estimate under every mode in :data:`MODES`

    def describe(self) -> str:
        fb = (f"; {self.fallback_insns} executed insns ({self.fallback_insns / self.insns:.3%}) in "
              f"{self.fallback_blocks} blocks counted 1 cycle each (llvm-mca cannot analyse them)"
              if self.fallback_insns else "")
        return f"{self.cycles:.0f} cycles on {self.cpu} ({self.mode}), {self.insns} insns{fb}"

    def to_dict(self) -> dict:
        return asdict(self)


SPAN_GAP = 16 << 10  #: blocks closer than this are disassembled in one objdump run
MAX_SPANS = 8  #: more spans than this: one run from the first block to the last


def _disassemble_blocks(binary: Path, target: str, toolchain, blocks: list[tuple[int, int]]):
    """Disassembly covering ``blocks`` (vaddr, n): a few objdump runs over the spans they fall in."""
    spans: list[list[int]] = []
    for v, n in sorted(blocks):
        end = v + n * MAX_INSN_BYTES[target]
        if spans and v - spans[-1][1] < SPAN_GAP:
            spans[-1][1] = max(spans[-1][1], end)
        else:
            spans.append([v, end])
    if len(spans) > MAX_SPANS:
        spans = [[spans[0][0], max(e for _, e in spans)]]
    addrs: list[int] = []
    insns: dict[int, str] = {}
    for start, stop in spans:
        a, i = disassembly(binary, target, toolchain, start, stop)
        addrs += a
        insns.update(i)
    return sorted(set(addrs)), insns


def estimate(binary: str | os.PathLike, blocks: list[tuple[int, int, int]], *, target: str = "aarch64",
             cpu: str = DEFAULT_CPU, toolchain=None, mode: str = DEFAULT_MODE,
             cache: CostCache | None = None) -> CycleEstimate:
    """Cycles of one run of a static ``binary`` whose executed ``blocks`` are (vaddr, n, execs)."""
    from costtune.toolchain import find

    t0 = time.perf_counter()
    if mode not in MODES:
        raise MeasurementError(f"unknown cycle mode '{mode}' (choose from {', '.join(MODES)})")
    if target not in TRIPLES:
        raise MeasurementError(f"no llvm-mca triple for target '{target}'")
    tc = toolchain or find(require_qemu=False)
    cpu = check_cpu(cpu, target, tc)
    mca = os.fspath(mca_path(tc))
    triple = TRIPLES[target]
    model = f"{triple}/{cpu}/{_mca_info(mca)[0]}/{RULE}"
    binary = Path(binary)
    image = ElfImage(binary)
    width = MAX_INSN_BYTES[target]
    own = cache is None
    cache = cache or CostCache()
    try:
        bkeys: dict[tuple[int, int], str | None] = {}
        for vaddr, n, _ in blocks:
            if (vaddr, n) not in bkeys:
                raw = image.read(vaddr, n * width)
                bkeys[(vaddr, n)] = None if raw is None else byte_key(raw, target, n)
        known = cache.texts([k for k in bkeys.values() if k])
        tkeys: dict[tuple[int, int], str | None] = {b: known.get(k) if k else None for b, k in bkeys.items()}
        new_texts: dict[str, str] = {}  # bkey -> tkey to remember
        texts: dict[str, str] = {}  # tkey -> text of blocks not yet known
        unknown = [b for b, k in bkeys.items() if k and k not in known]
        disassembled = bool(unknown)
        if unknown:
            addrs, insns = _disassemble_blocks(binary, target, tc, unknown)
            for (vaddr, n), bkey in bkeys.items():
                if bkey and bkey not in known:
                    text = block_text(vaddr, n, addrs, insns)
                    if text is not None:
                        tkeys[(vaddr, n)] = new_texts[bkey] = _sha(RULE, target, text)
                        texts[tkeys[(vaddr, n)]] = text
        wanted = sorted({k for k in tkeys.values() if k})
        costs = cache.costs(wanted, model)
        missing = {k: texts[k] for k in wanted if k not in costs and k in texts}
        again = [b for b, k in tkeys.items() if k and k not in costs and k not in texts]
        if again:  # the text is known, its cost on this core is not
            addrs, insns = _disassemble_blocks(binary, target, tc, again)
            disassembled = True
            for (vaddr, n), tkey in tkeys.items():
                if tkey and tkey not in costs and tkey not in missing:
                    text = block_text(vaddr, n, addrs, insns)
                    if text is not None:
                        missing[tkey] = text
        fresh = analyse(missing, triple, cpu, mca) if missing else {}
        costs.update(fresh)
        if new_texts or fresh:
            cache.put(new_texts, fresh, model)
    finally:
        if own:
            cache.close()
    totals = dict.fromkeys(MODES, 0.0)
    insns_total = fb_insns = 0
    fb_blocks: set[tuple[int, int]] = set()
    unsaid: list[str] = []
    for vaddr, n, execs in sorted(blocks):
        insns_total += n * execs
        tkey = tkeys.get((vaddr, n))
        cost = costs.get(tkey) if tkey else None
        if cost is None:
            cost = BlockCost(n, 0, 0.0, 0.0, f"the block at {vaddr:#x} is not in {binary.name}")
        if cost.analysed < cost.n:
            fb_insns += (cost.n - cost.analysed) * execs
            fb_blocks.add((vaddr, n))
            said = f"{model}:{tkey or vaddr}"
            if said not in _said:
                _said.add(said)
                unsaid.append(cost.first_skipped)
        for mode_ in MODES:
            totals[mode_] += execs * cost.cycles(mode_)
    if unsaid:  # said once per process and block
        log.warning("llvm-mca cannot analyse some instructions of %d block(s) on %s (e.g. '%s'): "
                    "each counted as 1 cycle", len(unsaid), cpu, " ".join(unsaid[0].split()))
    by_mode = {k: round(v, 1) for k, v in totals.items()}
    return CycleEstimate(by_mode[mode], cpu, mode, insns_total, len(bkeys), fb_insns, len(fb_blocks),
                         len(fresh), disassembled, round(time.perf_counter() - t0, 4), by_mode)
