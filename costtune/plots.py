"""PNG plots of measured latencies (matplotlib, Agg canvas, no pyplot global state)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

_METRIC_UNITS = {"insns": "AArch64 instructions", "wall": "seconds"}


def _canvas(width: float = 7.0, height: float = 4.0):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    fig.subplots_adjust(left=0.12, right=0.97, top=0.9, bottom=0.14)  # fixed: tight_layout draws twice
    return fig


def _save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fig.savefig(tmp, format="png")
    os.replace(tmp, path)
    return path


def latency_histogram(values: Sequence[float], path: str | os.PathLike, *, title: str,
                      metric: str = "insns", bins: int | None = None) -> Path:
    """Histogram of ``values`` written as a PNG at ``path``."""
    fig = _canvas()
    ax = fig.add_subplot(1, 1, 1)
    n = len(values)
    ax.hist(values, bins=bins or max(5, min(50, n // 2 or 1)), color="#4c72b0", edgecolor="white")
    ax.set_title(f"{title} ({n} candidates)")
    ax.set_xlabel(_METRIC_UNITS.get(metric, metric))
    ax.set_ylabel("candidates")
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, Path(path))


def sorted_latencies(values: Sequence[float], path: str | os.PathLike, *, title: str,
                     metric: str = "insns", highlight: Sequence[int] = ()) -> Path:
    """Bar chart of ``values`` sorted ascending; bars at the positions in ``highlight``
    (indices into the sorted order, e.g. the step-sampled candidates) in a second colour."""
    order = sorted(values)
    marked = set(highlight)
    colors = ["#dd8452" if i in marked else "#4c72b0" for i in range(len(order))]
    fig = _canvas()
    ax = fig.add_subplot(1, 1, 1)
    ax.bar(range(len(order)), order, width=1.0, color=colors, linewidth=0)
    ax.set_title(f"{title}: sorted ({len(marked)} sampled, orange)" if marked else f"{title}: sorted")
    ax.set_xlabel("candidate rank")
    ax.set_ylabel(_METRIC_UNITS.get(metric, metric))
    lo = min(order) if order else 0
    ax.set_ylim(bottom=lo * 0.9 if lo > 0 else 0)
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, Path(path))
