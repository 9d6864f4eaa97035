"""Plain-text tables: the one helper every command's table is printed with."""

from __future__ import annotations

from numbers import Number
from typing import Any, Sequence

__all__ = ["format_table"]


def _cell(v: Any) -> str:
    return "-" if v is None else str(v)


def format_table(rows: Sequence[Sequence[Any]], headers: Sequence[str], *, align: str | None = None,
                 sep: str = "  ") -> str:
    """``rows`` under ``headers``, each column as wide as its widest cell, the last one unpadded.

    ``align`` has one character per column, ``<`` (left) or ``>`` (right); by default a column
    whose cells are all numbers is right-aligned, any other left-aligned. Cells are shown with
    ``str`` (format numbers before passing them for a fixed precision); None shows as ``-``.
    """
    n = len(headers)
    if align is None:
        align = "".join(">" if rows and all(isinstance(r[i], Number) or r[i] is None for r in rows) else "<"
                        for i in range(n))
    if len(align) != n or any(len(r) != n for r in rows):
        raise ValueError("every row and the alignment need one entry per header")
    cells = [[str(h) for h in headers]] + [[_cell(v) for v in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(n)]
    lines = []
    for row in cells:
        parts = [f"{c:{a}{w}}" for c, a, w in zip(row, align, widths)]
        if align[-1] == "<":
            parts[-1] = row[-1]
        lines.append(sep.join(parts).rstrip())
    return "\n".join(lines)
