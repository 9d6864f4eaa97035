"""A learned correction of the profile estimate: what measured profiles cannot tell.

The profile estimate (:class:`costtune.search.variants.VariantTable`) is exact for a
candidate made of function variants already measured, or of the same control-flow shape as
one, and falls back to scaling a measured variant's count by static length for a variant of
new shape - right for small rescheduling, wrong by up to 20x when an edit changes what is
inlined, unrolled or vectorised. :class:`ResidualModel` learns, on the training families,
the log ratio between a candidate's true count and that estimate from how the candidate
differs from the measured reference (O3): how much of the reference's work sits in
functions of new shape, in functions inlined away or newly outlined, and how those
functions' calls, loops, memory and vector instructions changed, each weighted by the
reference's profile. A candidate whose functions are all known keeps the estimate exactly.

Cost = estimate x exp(predicted residual). ``fit`` takes programs as (variant table of the
known candidates, reference functions, candidates with their true counts).
"""

from __future__ import annotations

import math
import re

from costtune.asm import count_instructions
from costtune.search.variants import VariantTable, block_shape, variant_keys

__all__ = ["ResidualModel", "residual_features", "FEATURES"]

_CALL = re.compile(r"^(bl|blr)\s")
_BACK = re.compile(r"^(b|b\.\w+|cbn?z|tbn?z)\s.*\b(L\d+)$")
_MEM = re.compile(r"^(ld|st)")
_VEC = re.compile(r"\b[vq]\d+\b|\.\d+[bhsd]\b")

FEATURES = ("est_vs_ref", "new_share", "n_new", "n_shape", "inlined_share", "outlined_n", "outlined_share",
            "static_ratio", "new_len_ratio", "d_calls", "d_loops", "d_mem", "d_vec", "d_branches",
            "ref_hot_density")


def _stats(text: str) -> tuple[int, int, int, int, int, int]:
    """(instructions, calls, backward branches, memory ops, vector ops, branches) of one function."""
    n = calls = back = mem = vec = br = 0
    seen_labels: set[str] = set()
    for line in text.splitlines()[1:]:
        s = line.strip()
        if not s:
            continue
        if s.endswith(":"):
            seen_labels.add(s[:-1])
            continue
        n += 1
        calls += bool(_CALL.match(s))
        m = _BACK.match(s)
        if m:
            br += 1
            back += m.group(2) in seen_labels  # a branch to a label above it closes a loop
        elif s.startswith(("b ", "b.", "cb", "tb")):
            br += 1
        mem += bool(_MEM.match(s))
        vec += bool(_VEC.search(s))
    return n, calls, back, mem, vec, br


def residual_features(table: VariantTable, reference: dict[str, str], ref_counts: dict[str, float],
                      functions: dict[str, str], estimate: float) -> list[float]:
    """The features of one candidate (see :data:`FEATURES`), against the reference build."""
    ref_total = max(sum(ref_counts.get(f, 0.0) for f in reference), 1.0)
    keys = variant_keys(functions)
    new, shape = [], 0
    for f, (tk, ck) in keys.items():
        if ck in table.by_context or tk in table.by_text:
            continue
        if (f, block_shape(functions[f])[1]) in table.by_shape:
            shape += 1
            continue
        new.append(f)
    inlined = [f for f in reference if f not in functions]
    outlined = [f for f in functions if f not in reference]
    w = {f: ref_counts.get(f, 0.0) / ref_total for f in reference}
    d = [0.0] * 5
    new_len = ref_len = 0
    for f in new:
        a = _stats(functions[f])
        b = _stats(reference[f]) if f in reference else (0,) * 6
        new_len += a[0]
        ref_len += b[0]
        weight = w.get(f, 0.0)
        for i in range(5):
            d[i] += weight * math.log((a[i + 1] + 1) / (b[i + 1] + 1))
    static_new = sum(count_instructions(t) for t in functions.values())
    static_ref = sum(count_instructions(t) for t in reference.values())
    hot = max(w.items(), key=lambda kv: kv[1])[0] if w else None
    density = (ref_counts.get(hot, 0.0) / max(count_instructions(reference[hot]), 1)) if hot else 0.0
    return [math.log(max(estimate, 1.0) / ref_total), sum(w.get(f, 0.0) for f in new), len(new), shape,
            sum(w[f] for f in inlined), len(outlined), sum(w.get(f, 0.0) for f in outlined),
            math.log((static_new + 1) / (static_ref + 1)), math.log((new_len + 1) / (ref_len + 1)), *d,
            math.log1p(density)]


class ResidualModel:
    """LightGBM on :func:`residual_features` -> log(true count / profile estimate)."""

    def __init__(self, seed: int = 0, rounds: int = 300):
        self.seed = seed
        self.rounds = rounds
        self.booster = None

    @staticmethod
    def _rows(table, reference, ref_counts, cands):
        xs, ests, new = [], [], []
        for functions in cands:
            est = table.estimate(functions) or 1.0
            xs.append(residual_features(table, reference, ref_counts, functions, est))
            ests.append(est)
            new.append(xs[-1][2] > 0 or xs[-1][4] > 0 or xs[-1][5] > 0)
        return xs, ests, new

    def fit(self, programs) -> "ResidualModel":
        """``programs``: (table, reference functions, reference per-function counts,
        [(functions, true count)]) per training program."""
        import lightgbm as lgb
        import numpy as np

        X, y = [], []
        for table, reference, ref_counts, cands in programs:
            xs, ests, new = self._rows(table, reference, ref_counts, [f for f, _ in cands])
            for x, est, changed, (_, true) in zip(xs, ests, new, cands):
                if changed:
                    X.append(x)
                    y.append(max(min(math.log(true / est), 3.0), -3.0))
        self.n_train = len(y)
        if len(y) < 20:  # too little to learn from: the estimate stands
            return self
        params = {"objective": "huber", "alpha": 0.2, "learning_rate": 0.03, "num_leaves": 15,
                  "min_data_in_leaf": 20, "feature_fraction": 0.9, "seed": self.seed, "deterministic": True,
                  "num_threads": 1, "verbose": -1}
        self.booster = lgb.train(params, lgb.Dataset(np.asarray(X), np.asarray(y)), num_boost_round=self.rounds)
        return self

    def score(self, table, reference, ref_counts, cands: list[dict[str, str]]) -> list[float]:
        import numpy as np

        xs, ests, new = self._rows(table, reference, ref_counts, cands)
        if self.booster is None:
            return ests
        pred = self.booster.predict(np.asarray(xs)) if xs else []
        return [est * math.exp(p) if changed else est for est, p, changed in zip(ests, pred, new)]
