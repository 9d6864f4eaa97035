"""Configuration dataclasses that load from YAML (``tuner_configs/``), save, and take overrides."""

from __future__ import annotations

import os
import types
import typing
from dataclasses import asdict, fields
from pathlib import Path

import yaml

from costtune.errors import ConfigError


def yaml_error(path, e: yaml.YAMLError) -> str:
    """``FILE:LINE:COL: invalid YAML (what)`` for a YAML file that does not parse."""
    mark = getattr(e, "problem_mark", None)
    where = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
    return f"{path}{where}: invalid YAML ({getattr(e, 'problem', None) or e.__class__.__name__})"


class YamlConfig:
    """Mixin: ``load(path)`` from YAML, ``save(path)`` to YAML, ``override(**kw)``."""

    @classmethod
    def load(cls, path) -> "YamlConfig":
        """From a YAML file, or a shipped config by its bare name (``search_quick``)."""
        p = Path(path)
        if not p.exists() and p.name == str(path):
            from costtune.resources import tuner_config

            p = tuner_config(str(path))
        try:
            data = yaml.safe_load(p.read_text()) or {}
        except OSError as e:
            raise ConfigError(f"cannot read config {p}: {e.strerror or e}") from None
        except yaml.YAMLError as e:
            raise ConfigError(yaml_error(p, e)) from None
        if not isinstance(data, dict):
            raise ConfigError(f"config {p} must be a mapping of field: value")
        return cls.from_dict(data, source=str(p))

    @classmethod
    def from_dict(cls, data: dict, source: str = "config"):
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"{source}: unknown field(s) {', '.join(unknown)} for {cls.__name__}")
        hints = typing.get_type_hints(cls)
        for name, value in data.items():
            if not _has_type(value, hints.get(name)):
                raise ConfigError(f"{source}: {name} must be {_type_name(hints[name])}, not {value!r}")
        try:
            return cls(**data)
        except (TypeError, ValueError) as e:
            raise ConfigError(f"{source}: {e}") from None

    def save(self, path) -> None:
        Path(path).write_text(yaml.safe_dump(asdict(self), sort_keys=False))

    def override(self, **kw):
        """A copy with the fields in ``kw`` replaced (``None`` values are ignored)."""
        data = asdict(self)
        data.update({k: v for k, v in kw.items() if v is not None})
        return type(self).from_dict(data, source="override")


_SIMPLE = (bool, int, float, str, list, tuple, dict)


def _has_type(value, hint) -> bool:
    """Whether a YAML value fits a field's annotation (int for float, list for tuple, a path for str;
    other hints pass)."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return any(_has_type(value, h) for h in typing.get_args(hint))
    hint = typing.get_origin(hint) or hint
    if hint is type(None):
        return value is None
    if hint not in _SIMPLE:
        return True
    if isinstance(value, bool):
        return hint is bool
    if hint is float:
        return isinstance(value, (int, float))
    if hint is str:
        return isinstance(value, (str, os.PathLike))
    return isinstance(value, (list, tuple) if hint in (list, tuple) else hint)


def _type_name(hint) -> str:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return " or ".join(_type_name(h) for h in typing.get_args(hint))
    hint = typing.get_origin(hint) or hint
    return {type(None): "null", bool: "true/false", int: "an integer", float: "a number", str: "a string",
            list: "a list", tuple: "a list", dict: "a mapping"}.get(hint, getattr(hint, "__name__", str(hint)))
