"""Where costtune keeps content-addressed work: ``COSTTUNE_CACHE`` or ``~/.cache/costtune``."""

from __future__ import annotations

import os
import shutil
import time
from collections import Counter
from pathlib import Path

from costtune.logging import get_logger

log = get_logger(__name__)


def cache_root() -> Path:
    root = Path(os.environ.get("COSTTUNE_CACHE") or Path.home() / ".cache" / "costtune")
    root.mkdir(parents=True, exist_ok=True)
    return root


def cache_dir(*parts: str) -> Path:
    d = cache_root().joinpath(*parts)
    d.mkdir(parents=True, exist_ok=True)
    return d


def _files(d: Path) -> list[tuple[tuple[int, int], int]]:
    """((device, inode), bytes) of each file in a directory."""
    out = []
    for f in d.iterdir():
        try:
            st = f.lstat()
        except OSError:
            continue
        out.append(((st.st_dev, st.st_ino), st.st_size))
    return out


def _artifact_files() -> list[tuple[float, Path, list]]:
    """(last use, dir, its files) of every compile artifact in the cache."""
    root = cache_root() / "compile" / "artifacts"
    entries = []
    for shard in (root.iterdir() if root.is_dir() else ()):
        if not shard.is_dir():
            continue
        for d in shard.iterdir():
            if d.is_dir() and not d.name.startswith("."):
                try:
                    entries.append((d.stat().st_mtime, d, _files(d)))
                except OSError:
                    continue
    return entries


def _links(entries) -> Counter:
    """How many artifact directories hold each file: artifacts that share a backend share its files."""
    return Counter(key for _, _, files in entries for key, _ in files)


def compile_bytes(entries=None) -> int:
    """What the compile artifacts hold on disk, each file once however many artifacts share it."""
    entries = _artifact_files() if entries is None else entries
    return sum({key: size for _, _, files in entries for key, size in files}.values())


def compile_artifacts() -> list[tuple[float, int, Path]]:
    """(last use, bytes, dir) of every compile artifact in the cache; a file that n artifacts share
    counts about 1/n in each (:func:`compile_bytes` is the exact total)."""
    entries = _artifact_files()
    links = _links(entries)
    return [(mtime, sum(size // links[key] for key, size in files), d) for mtime, d, files in entries]


def prune_compile(max_bytes: int, min_age_s: float = 900.0) -> tuple[int, int]:
    """Delete least recently used compile artifacts until they hold at most ``max_bytes``.

    Artifacts used in the last ``min_age_s`` seconds stay (another process may be
    measuring them). A compile that finds its artifact gone simply compiles again; a
    backend entry pointing at a pruned artifact is rebuilt. A file shared with an artifact
    that stays frees nothing. Returns (deleted, bytes freed).
    """
    entries = _artifact_files()
    links = _links(entries)
    total = compile_bytes(entries)
    deleted = freed = 0
    now = time.time()
    for mtime, d, files in sorted(entries, key=lambda e: e[0]):
        if total - freed <= max_bytes or now - mtime < min_age_s:
            break
        shutil.rmtree(d, ignore_errors=True)
        deleted += 1
        for key, size in files:
            links[key] -= 1
            if not links[key]:  # its last holder in the cache went
                freed += size
    return deleted, freed


CAP_INTERVAL_S = 300.0  #: a process checks the cap at most this often (a walk of 46k artifacts takes ~4 s)
_last_cap = -CAP_INTERVAL_S


def cap_compile(max_gb: float) -> None:
    """Prune the compile cache to ``max_gb`` (0: no cap), logging what went; cheap to call
    often: it walks the cache at most once every CAP_INTERVAL_S seconds per process."""
    global _last_cap
    if max_gb <= 0 or time.monotonic() - _last_cap < CAP_INTERVAL_S:
        return
    _last_cap = time.monotonic()
    n, freed = prune_compile(int(max_gb * 2**30))
    if n:
        log.info("compile cache over %.1f GB: %d artifacts pruned (%.0f MB)", max_gb, n, freed / 2**20)
