"""Configuration dataclasses that load from YAML (``tuner_configs/``), save, and take overrides."""

from __future__ import annotations

from dataclasses import asdict, fields
from pathlib import Path

import yaml

from costtune.errors import ConfigError


class YamlConfig:
    """Mixin: ``load(path)`` from YAML, ``save(path)`` to YAML, ``override(**kw)``."""

    @classmethod
    def load(cls, path) -> "YamlConfig":
        p = Path(path)
        try:
            data = yaml.safe_load(p.read_text()) or {}
        except (OSError, yaml.YAMLError) as e:
            raise ConfigError(f"cannot read config {p}: {e}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"config {p} must be a mapping of field: value")
        return cls.from_dict(data, source=str(p))

    @classmethod
    def from_dict(cls, data: dict, source: str = "config"):
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"{source}: unknown field(s) {', '.join(unknown)} for {cls.__name__}")
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
