"""Baselines the cost model is compared against, on the same candidates and pairs.

Each baseline is a :class:`Scorer`: ``fit(train candidates)`` then ``score(candidates of
one program) -> costs`` (lower = predicted faster).
"""

from __future__ import annotations

import math
import random
import re
from abc import ABC, abstractmethod
from collections import Counter

from costtune.dataset import Candidate

__all__ = ["Scorer", "StaticCount", "OpcodeGBM", "RandomScorer", "BASELINES", "opcode_histogram"]


class Scorer(ABC):
    """Contract: ``fit`` may look only at the candidates given (the training split);
    ``score`` gets the candidates of one program and returns one float each, lower =
    predicted faster; it is deterministic for a fixed seed."""

    name = "scorer"

    def fit(self, train: list[Candidate]) -> "Scorer":
        return self

    @abstractmethod
    def score(self, cands: list[Candidate]) -> list[float]: ...


_LABEL = re.compile(r"^(<.*>|[A-Za-z_.$][\w.$]*):$")


def _insns(text: str):
    for line in text.splitlines():
        s = line.strip()
        if s and not _LABEL.match(s) and not s.startswith("<"):
            yield s.split(None, 1)[0]


class StaticCount(Scorer):
    """Static instruction count of the program's own functions."""

    name = "static_insns"

    @staticmethod
    def count(text: str) -> int:
        return sum(1 for _ in _insns(text))

    def score(self, cands):
        return [float(sum(self.count(t) for t in c.functions.values())) for c in cands]


def opcode_histogram(c: Candidate) -> Counter:
    return Counter(op for t in c.functions.values() for op in _insns(t))


class OpcodeGBM(Scorer):
    """LightGBM regression on opcode histograms -> log latency minus the program's mean."""

    name = "opcode_gbm"

    def __init__(self, seed: int = 0, max_ops: int = 200):
        self.seed = seed
        self.max_ops = max_ops
        self.ops: list[str] = []
        self.model = None

    def _x(self, cands):
        import numpy as np

        rows = []
        for c in cands:
            h = opcode_histogram(c)
            tot = sum(h.values())
            rows.append([h.get(o, 0) for o in self.ops] + [tot, len(c.functions)])
        return np.asarray(rows, dtype=float)

    def fit(self, train):
        import lightgbm as lgb
        import numpy as np

        counts = Counter()
        for c in train:
            counts.update(opcode_histogram(c))
        self.ops = [o for o, _ in counts.most_common(self.max_ops)]
        by: dict[str, list[Candidate]] = {}
        for c in train:
            by.setdefault(c.program, []).append(c)
        xs, ys = [], []
        for g in by.values():
            logs = [math.log(c.latency) for c in g]
            mu = sum(logs) / len(logs)
            xs.append(self._x(g))
            ys += [v - mu for v in logs]
        params = {"objective": "regression", "learning_rate": 0.05, "num_leaves": 15, "min_data_in_leaf": 5,
                  "seed": self.seed, "deterministic": True, "num_threads": 1, "verbose": -1}
        self.model = lgb.train(params, lgb.Dataset(np.vstack(xs), np.asarray(ys)), num_boost_round=200)
        return self

    def score(self, cands):
        return [float(v) for v in self.model.predict(self._x(cands))]


class RandomScorer(Scorer):
    name = "random"

    def __init__(self, seed: int = 0):
        self.rng = random.Random(seed)

    def score(self, cands):
        return [self.rng.random() for _ in cands]


BASELINES = (StaticCount, OpcodeGBM, RandomScorer)
