"""Summary statistics for repeated timings: median, mean, 95% confidence half-width."""

from __future__ import annotations

import math
import statistics


def t975(df: int) -> float:
    """The two-sided 95% Student-t quantile t(0.975, df) (inf for df < 1)."""
    if df < 1:
        return math.inf
    from scipy.stats import t  # a second's import: only where repeated timings are summarised

    return float(t.ppf(0.975, df))


def ci_halfwidth(values: list[float]) -> float | None:
    """Half-width of the 95% confidence interval of the mean (None for n < 2)."""
    n = len(values)
    if n < 2:
        return None
    return t975(n - 1) * statistics.stdev(values) / math.sqrt(n)


def converged(values: list[float], rel: float, min_n: int) -> bool:
    """True once n >= min_n and the CI half-width is below ``rel`` of the mean."""
    if len(values) < max(min_n, 2):
        return False
    hw = ci_halfwidth(values)
    mean = statistics.fmean(values)
    return hw is not None and mean > 0 and hw < rel * mean
