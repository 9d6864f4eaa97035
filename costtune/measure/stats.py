"""Summary statistics for repeated timings: median, mean, 95% confidence half-width."""

from __future__ import annotations

import math
import statistics

#: two-sided 95% Student-t quantiles t(0.975, df) for df = 1..30
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
         2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
         2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)


def t975(df: int) -> float:
    if df < 1:
        return math.inf
    if df <= len(_T975):
        return _T975[df - 1]
    if df <= 40:
        return 2.021
    if df <= 60:
        return 2.000
    if df <= 120:
        return 1.980
    return 1.960


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
