"""Ranking metrics within one program: pairwise accuracy, Kendall tau, top-k score.

Lower is better for both the true costs (latencies) and the predicted scores.
"""

from __future__ import annotations

import math

__all__ = ["pairwise_counts", "kendall_tau", "topk_score", "program_metrics"]


def pairwise_counts(true: list[float], pred: list[float], eps: float) -> tuple[int, int]:
    """(correct, total) over pairs whose true costs' relative gap ``(slow - fast) / slow``
    exceeds ``eps`` (:func:`costtune.dataset.gap_pairs`, the dataset's definition).

    A tie in the prediction counts as half correct.
    """
    from costtune.dataset import gap_pairs

    pairs = gap_pairs(true, eps)
    correct2 = sum(2 if pred[i] > pred[j] else (1 if pred[i] == pred[j] else 0) for i, j in pairs)
    return correct2 / 2, len(pairs)


def kendall_tau(true: list[float], pred: list[float]) -> float:
    """Kendall's tau-b (ties in either list handled); 0.0 when undefined (fewer than two
    candidates, or either list constant)."""
    import warnings

    from scipy.stats import kendalltau

    if len(true) < 2:
        return 0.0
    with warnings.catch_warnings():  # a constant list is undefined: 0.0, not a warning
        warnings.simplefilter("ignore")
        tau = kendalltau(true, pred, variant="b").statistic
    return float(tau) if math.isfinite(tau) else 0.0


def topk_score(true: list[float], pred: list[float], k: int) -> float:
    """best true cost / true cost of the best among the k candidates predicted best (1.0 = found it)."""
    order = sorted(range(len(pred)), key=lambda i: (pred[i], i))[:k]
    return min(true) / min(true[i] for i in order)


def program_metrics(true: list[float], pred: list[float], eps: float) -> dict:
    c, t = pairwise_counts(true, pred, eps)
    return {"n": len(true), "pairs": t, "correct": c, "pair_acc": c / t if t else float("nan"),
            "kendall_tau": kendall_tau(true, pred), "top1": topk_score(true, pred, 1),
            "top5": topk_score(true, pred, 5)}
