"""Where costtune keeps content-addressed work: ``COSTTUNE_CACHE`` or ``~/.cache/costtune``."""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    root = Path(os.environ.get("COSTTUNE_CACHE") or Path.home() / ".cache" / "costtune")
    root.mkdir(parents=True, exist_ok=True)
    return root


def cache_dir(*parts: str) -> Path:
    d = cache_root().joinpath(*parts)
    d.mkdir(parents=True, exist_ok=True)
    return d
