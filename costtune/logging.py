"""Library logging. The library never prints; it logs under the ``costtune`` logger."""

import logging as _logging
import os

_ROOT = "costtune"


def get_logger(name: str) -> _logging.Logger:
    if not name.startswith(_ROOT):
        name = f"{_ROOT}.{name}"
    return _logging.getLogger(name)


def configure(verbosity: int = 0) -> None:
    """Set up stderr logging for the CLI: 0 = warnings, 1 = info, 2+ = debug."""
    level = {0: _logging.WARNING, 1: _logging.INFO}.get(verbosity, _logging.DEBUG)
    env = os.environ.get("COSTTUNE_LOG")
    if env:
        level = getattr(_logging, env.upper(), level)
    handler = _logging.StreamHandler()
    handler.setFormatter(_logging.Formatter("%(levelname).1s %(name)s: %(message)s"))
    root = _logging.getLogger(_ROOT)
    root.handlers[:] = [handler]
    root.setLevel(level)
