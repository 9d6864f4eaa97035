"""Block and function profiles of a build (for weighting per-function model scores).

:func:`block_profile` runs an aarch64 artifact once under qemu with the plugin's
``blocks=on`` and returns every executed translation block (start address,
instructions, executions); :func:`aggregate_by_function` maps the blocks to the
functions of the static binary's symbol table (``llvm-nm``). The weights add up
to the total instruction count exactly.
"""

from __future__ import annotations

import bisect
from dataclasses import asdict, dataclass, field
from pathlib import Path

from costtune import process
from costtune.errors import MeasurementError
from costtune.measure._base import Runner
from costtune.measure.reference import job_for
from costtune.measure.registry import get_runner

UNKNOWN = "[unknown]"


@dataclass
class Symbol:
    start: int
    size: int | None
    name: str


@dataclass
class BlockProfile:
    status: str  #: ok | crash | timeout | error (no output check is done here)
    total: int = 0  #: instructions executed (the plugin's total)
    blocks: list[tuple[int, int, int]] = field(default_factory=list)  #: (vaddr, n_insns, execs)
    functions: dict[str, int] = field(default_factory=dict)  #: name -> instructions, largest first
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def fractions(self) -> dict[str, float]:
        return {k: v / self.total for k, v in self.functions.items()} if self.total else {}

    def to_dict(self) -> dict:
        d = asdict(self)
        d["blocks"] = [[hex(a), n, e] for a, n, e in self.blocks]
        return d


def parse_nm(text: str) -> list[Symbol]:
    """Text symbols from ``llvm-nm -n -S --defined-only`` output, sorted, one per address."""
    by_addr: dict[int, Symbol] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 4:
            addr, size, kind, name = parts
        elif len(parts) == 3:
            (addr, kind, name), size = parts, None
        else:
            continue
        if kind not in "TtWw" or name.startswith("$"):
            continue
        start = int(addr, 16)
        sym = Symbol(start, int(size, 16) if size else None, name)
        old = by_addr.get(start)
        # aliases share an address: keep the first name, but take a known size
        if old is None or (old.size is None and sym.size is not None):
            by_addr[start] = sym
    return [by_addr[a] for a in sorted(by_addr)]


def read_symbols(binary: Path, toolchain=None) -> list[Symbol]:
    from costtune.toolchain import find

    tc = toolchain or find(require_qemu=False)
    nm = Path(tc["llvm-objdump"]).with_name(Path(tc["llvm-objdump"]).name.replace("objdump", "nm"))
    res = process.run([nm, "-n", "-S", "--defined-only", binary], timeout=60)
    if not res.ok:
        raise MeasurementError(f"llvm-nm failed on {binary}: {res.stderr_tail(300).strip()}")
    return parse_nm(res.stdout.decode("utf-8", "replace"))


def aggregate_by_function(blocks: list[tuple[int, int, int]], symbols: list[Symbol]) -> dict[str, int]:
    """Instructions per function (block start inside [start, start+size)); the rest is ``[unknown]``."""
    starts = [s.start for s in symbols]
    out: dict[str, int] = {}
    for vaddr, n, execs in blocks:
        i = bisect.bisect_right(starts, vaddr) - 1
        name = UNKNOWN
        if i >= 0:
            s = symbols[i]
            nxt = symbols[i + 1].start if i + 1 < len(symbols) else None
            end = s.start + s.size if s.size else nxt
            if end is None or vaddr < end:
                name = s.name
        out[name] = out.get(name, 0) + n * execs
    return dict(sorted(out.items(), key=lambda kv: (-kv[1], kv[0])))


def outside_share(functions: dict[str, int], own) -> float | None:
    """The share of the instructions in ``functions`` (per-function counts of a run) executed
    outside ``own``, the program's own functions: the C library (printf, memcpy, qsort) and
    anything unknown - code no pipeline changes and the cost model never reads. None without counts."""
    total = sum(functions.values())
    if not total:
        return None
    return sum(n for f, n in functions.items() if f not in own) / total


def block_profile(artifact, bench, repeat: int | None = None, runner: str | Runner | None = None,
                  timeout: float | None = None, *, toolchain=None, target: str | None = None) -> BlockProfile:
    """Per-block and per-function instruction counts of one run (aarch64 static builds)."""
    binary = Path(getattr(artifact, "binary", artifact))
    target = target or getattr(artifact, "target", None) or "aarch64"
    if target != "aarch64":
        raise MeasurementError("block profiles need an aarch64 (static, fixed-address) build")
    owned = not isinstance(runner, Runner)
    run_with = get_runner(runner, target, "insns")
    try:
        if not run_with.supports("insns"):
            raise MeasurementError(f"the {run_with.name} runner cannot profile blocks (use 'qemu')")
        limit = timeout if timeout is not None else bench.timeout * run_with.timeout_factor
        (r,) = run_with.run(job_for(bench, binary, target, repeat, limit), 1, count_insns=True, blocks=True)
    finally:
        if owned:
            run_with.close()
    if r.timed_out:
        return BlockProfile("timeout", detail=r.describe())
    if r.returncode != 0:
        return BlockProfile("crash", detail=r.describe())
    if r.insns is None or r.blocks is None:
        return BlockProfile("error", detail="the counting plugin reported no blocks")
    blocks = sorted(r.blocks)
    functions = aggregate_by_function(blocks, read_symbols(binary, toolchain))
    return BlockProfile("ok", r.insns, blocks, functions)
