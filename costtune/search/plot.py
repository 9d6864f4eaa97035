"""The search's progress plot: best-so-far / O3 against real measurements (OUT/progress.png)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["plot_progress", "progress_figure"]


def plot_progress(programs: list, path: Path, budget: int | None = None) -> Path:
    """:func:`progress_figure` of ``programs`` (:class:`~costtune.search.results.ProgramResult`) as a PNG."""
    from costtune.plots import _save

    return _save(progress_figure(programs, budget), path)


def progress_figure(programs: list, budget: int | None = None):
    """Best-so-far / O3 against real measurements, the x axis from 1 to the budget (the
    measurements the search may spend), never past it.

    Not ``optuna.visualization.matplotlib.plot_optimization_history``: that one plots a
    study's every trial against its trial number ("Trial", from 0) on pyplot's global figure,
    and a search's trials include binaries reused from earlier records and predictions told
    to the sampler, which cost no measurement. Here the x axis counts real measurements only
    (``ProgramResult.history``), so a search that spent its budget ends at the budget, and
    several programs share one axis on a figure of its own."""
    from matplotlib.ticker import MaxNLocator

    from costtune.plots import _canvas

    fig = _canvas()
    ax = fig.add_subplot(1, 1, 1)
    for p in programs:
        ys = [1.0 if v is None else v for v in p.history]
        if p.o3_value and p.best_value is not None and not ys:
            ys = [p.best_value / p.o3_value]
        ax.step(range(1, len(ys) + 1), ys, where="post", label=p.benchmark)
    ax.axhline(1.0, color="grey", lw=0.8, ls="--")
    ax.set_xlabel("real measurements")
    ax.set_ylabel("best so far / O3 (instructions)")
    ax.set_title("costtune search: best-so-far against measurements")
    ax.legend(fontsize=7)
    last = budget or max((len(p.history) for p in programs), default=1)
    ax.set_xlim(1, max(last, 2))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    return fig
