"""The files costtune reads at run time from its own package (``costtune/data/``).

``costtune/data/passes``, ``builtin`` and ``tuner_configs`` are symbolic links to the
repository's top-level ``passes/``, ``benchmarks/builtin/`` and ``tuner_configs/``: a checkout
(editable install) reads those folders, and a wheel build follows the links and carries copies.
``costtune/data/default_model`` is the shipped cost model itself.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from costtune.errors import ConfigError


def data_path(name: str) -> Path:
    """``costtune/data/NAME`` as a file-system path (a wheel installs as files, so the package's
    Traversable is a pathlib.Path; links resolved, so messages name the repository's folder)."""
    return Path(files("costtune") / "data" / name).resolve()


def passes_dir() -> Path:
    """The shipped pass catalogs (``llvm-N/passes.csv`` and their evidence)."""
    return data_path("passes")


def builtin_dir() -> Path:
    """The builtin benchmark suite (program folders and ``manifest.yaml``)."""
    return data_path("builtin")


def default_model_dir() -> Path:
    return data_path("default_model")


def variant_model_dir() -> Path:
    """The shipped function-variant model (``--model variant``)."""
    return data_path("variant_model")


def tuner_config(name: str) -> Path:
    """A shipped YAML config by name: ``search_quick`` or ``search_quick.yaml``."""
    d = data_path("tuner_configs")
    p = d / (name if name.endswith((".yaml", ".yml")) else f"{name}.yaml")
    if not p.is_file():
        names = sorted(f.stem for f in d.glob("*.yaml"))
        strategies = ", ".join(n for n in names if not n.startswith("model_"))
        training = ", ".join(n for n in names if n.startswith("model_"))
        raise ConfigError(f"no config file {name} and no shipped config of that name "
                          f"(search strategies: {strategies}; training configs: {training})")
    return p


def shipped_strategies() -> dict[str, str]:
    """The shipped search strategies: ``tuner_configs/*.yaml`` but the ``model_*`` training configs,
    name -> what its header's first line says after ``# NAME:``."""
    out = {}
    for path in sorted(data_path("tuner_configs").glob("*.yaml")):
        if path.stem.startswith("model_"):
            continue
        first = path.read_text().split("\n", 1)[0]
        out[path.stem] = first.removeprefix(f"# {path.stem}:").strip()
    return out
