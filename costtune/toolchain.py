"""Find the LLVM tools and qemu, their versions and the targets they serve.

The LLVM major version comes from ``--llvm N``, else ``COSTTUNE_LLVM``, else the
newest installed of :data:`SUPPORTED`. Tools are looked up as ``NAME-N`` then in
``/usr/lib/llvm-N/bin``. Everything else in costtune gets tool paths from a
:class:`Toolchain` object, never from PATH directly.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from costtune import process
from costtune.errors import ToolchainNotFound

SUPPORTED = (19, 14)  # newest first; the default is the newest installed

#: tool -> Debian package (``{v}`` = LLVM major)
PACKAGES = {
    "clang": "clang-{v}",
    "opt": "llvm-{v}",
    "llc": "llvm-{v}",
    "llvm-link": "llvm-{v}",
    "llvm-objdump": "llvm-{v}",
    "llvm-objcopy": "llvm-{v}",
    "ld.lld": "lld-{v}",
    "qemu-aarch64": "qemu-user",
}

#: AArch64 static linking needs the cross C library and GCC's crt files
AARCH64_SYSROOT = Path("/usr/aarch64-linux-gnu")


@dataclass(frozen=True)
class Target:
    name: str  # "aarch64" | "host"
    triple: str
    frontend_flags: tuple[str, ...]
    llc_flags: tuple[str, ...]
    link_flags: tuple[str, ...]
    emulated: bool  # run under qemu-aarch64


TARGETS = {
    "aarch64": Target(
        "aarch64",
        "aarch64-linux-gnu",
        ("--target=aarch64-linux-gnu", f"--sysroot={AARCH64_SYSROOT}"),
        ("-mtriple=aarch64-linux-gnu",),
        ("--target=aarch64-linux-gnu", "-fuse-ld=lld", "-static"),
        True,
    ),
    "host": Target(
        "host",
        "x86_64-linux-gnu",
        ("--target=x86_64-linux-gnu",),
        ("-mtriple=x86_64-linux-gnu", "-relocation-model=pic"),
        ("--target=x86_64-linux-gnu", "-fuse-ld=lld"),
        False,
    ),
}


def get_target(name: str) -> Target:
    try:
        return TARGETS[name]
    except KeyError:
        raise ToolchainNotFound(f"unknown target '{name}' (choose from {', '.join(TARGETS)})") from None


@dataclass(frozen=True)
class Toolchain:
    llvm: int
    tools: dict[str, Path] = field(hash=False)

    def __getitem__(self, tool: str) -> Path:
        return self.tools[tool]

    @property
    def clang(self) -> Path:
        return self.tools["clang"]

    @property
    def opt(self) -> Path:
        return self.tools["opt"]

    @property
    def llc(self) -> Path:
        return self.tools["llc"]

    @property
    def qemu(self) -> Path:
        return self.tools["qemu-aarch64"]

    @functools.cached_property
    def versions(self) -> dict[str, str]:
        out = {}
        for name, path in self.tools.items():
            res = process.run([path, "--version"], timeout=30)
            text = (res.stdout or res.stderr).decode("utf-8", "replace")
            m = re.search(r"(?:version|LLVM version|LLD)\s+([0-9][^\s,)]*)", text)
            out[name] = m.group(1) if m else "unknown"
        return out

    @functools.cached_property
    def fingerprint(self) -> str:
        """Stable hash of tool versions; part of every cache key."""
        text = "\n".join(f"{k}={v}" for k, v in sorted(self.versions.items()))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def targets(self) -> dict[str, str]:
        """Which targets can be built and run here, with the reason when not."""
        out = {}
        for name, t in TARGETS.items():
            problems = []
            if t.emulated and not (AARCH64_SYSROOT / "include" / "stdio.h").exists():
                problems.append("no AArch64 C library (apt-get install libc6-dev-arm64-cross)")
            if t.emulated and not list(Path("/usr/lib/gcc-cross").glob("aarch64-linux-gnu/*/crtbeginT.o")):
                problems.append("no AArch64 crt files (apt-get install gcc-aarch64-linux-gnu)")
            out[name] = "ok" if not problems else "; ".join(problems)
        return out


def _find_tool(name: str, version: int) -> Path | None:
    for candidate in (f"{name}-{version}",):
        found = shutil.which(candidate)
        if found:
            return Path(found)
    p = Path(f"/usr/lib/llvm-{version}/bin/{name}")
    return p if p.exists() else None


def installed_versions() -> list[int]:
    return [v for v in SUPPORTED if _find_tool("opt", v)]


@functools.lru_cache(maxsize=None)
def find(llvm: int | None = None, require_qemu: bool = True) -> Toolchain:
    """Locate every tool for LLVM ``llvm`` (default: COSTTUNE_LLVM or newest)."""
    if llvm is None and os.environ.get("COSTTUNE_LLVM"):
        try:
            llvm = int(os.environ["COSTTUNE_LLVM"])
        except ValueError:
            raise ToolchainNotFound(f"COSTTUNE_LLVM={os.environ['COSTTUNE_LLVM']!r} is not a number") from None
    if llvm is None:
        versions = installed_versions()
        if not versions:
            raise ToolchainNotFound(
                f"no LLVM found (tried {', '.join(map(str, SUPPORTED))}): apt-get install clang-19 llvm-19 lld-19"
            )
        llvm = versions[0]
    if llvm not in SUPPORTED:
        raise ToolchainNotFound(f"LLVM {llvm} is not supported (supported: {', '.join(map(str, SUPPORTED))})")
    tools: dict[str, Path] = {}
    for name, pkg in PACKAGES.items():
        if name == "qemu-aarch64":
            found = shutil.which("qemu-aarch64")
            path = Path(found) if found else None
            if path is None and not require_qemu:
                continue
        else:
            path = _find_tool(name, llvm)
        if path is None:
            raise ToolchainNotFound(f"{name} (LLVM {llvm}) not found: apt-get install {pkg.format(v=llvm)}")
        tools[name] = path
    return Toolchain(llvm, tools)
