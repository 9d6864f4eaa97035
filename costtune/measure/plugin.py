"""Build and read the instruction-counting qemu plugin (``insn_plugin.c``).

The shared object is built lazily with the system C compiler into
``<cache>/measure/plugin/insn-<source hash>.so``; a second call finds it there.
Its report lines go to qemu's log file (``-d plugin -D FILE``), so the guest's
stdout stays untouched.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from costtune import process
from costtune.cache import cache_dir
from costtune.errors import MeasurementError
from costtune.logging import get_logger

log = get_logger(__name__)

SOURCE = Path(files("costtune.measure") / "insn_plugin.c")
CC_FLAGS = ("-shared", "-fPIC", "-O2", "-fvisibility=hidden")


def build_plugin(cc: str | None = None) -> Path:
    """Path of the built plugin, building it on first use. Raises MeasurementError."""
    try:
        src = SOURCE.read_bytes()
    except OSError as e:
        raise MeasurementError(f"qemu plugin source missing: {SOURCE} ({e.strerror})") from None
    cc = cc or os.environ.get("CC") or "cc"
    key = hashlib.sha256(src + "\0".join(CC_FLAGS).encode()).hexdigest()[:16]
    out_dir = cache_dir("measure", "plugin")
    out = out_dir / f"insn-{key}.so"
    if out.is_file():
        return out
    cc_path = shutil.which(cc)
    if not cc_path:
        raise MeasurementError(f"cannot build the qemu counting plugin: no C compiler '{cc}' "
                               "(apt-get install gcc, or set CC)")
    fd, tmp = tempfile.mkstemp(prefix=".insn-", suffix=".so", dir=out_dir)
    os.close(fd)
    res = process.run([cc_path, *CC_FLAGS, "-o", tmp, SOURCE, "-lpthread"], timeout=120)
    if not res.ok:
        Path(tmp).unlink(missing_ok=True)
        lines = res.stderr_tail().strip().splitlines() or [res.describe()]
        raise MeasurementError(f"cannot build the qemu counting plugin with {cc}: {lines[-1]}")
    os.replace(tmp, out)  # atomic: concurrent builders publish equal files
    log.info("built qemu plugin %s", out)
    return out


@dataclass
class PluginReport:
    insns: int | None
    blocks: list[tuple[int, int, int]] | None  #: (vaddr, n_insns, execs)


def parse_report(text: str) -> PluginReport:
    """Read the plugin's log lines (other qemu log lines are ignored)."""
    insns = None
    blocks: list[tuple[int, int, int]] | None = None
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == "insns":
            insns = int(parts[1])
        elif len(parts) == 2 and parts[0] == "blocks":
            blocks = blocks if blocks is not None else []
        elif len(parts) == 4 and parts[0] == "block":
            if blocks is None:
                blocks = []
            blocks.append((int(parts[1], 16), int(parts[2]), int(parts[3])))
    return PluginReport(insns, blocks)
