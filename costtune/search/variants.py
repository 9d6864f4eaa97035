"""Per-function instruction counts of measured candidates, to predict new combinations.

A program's dynamic instruction count is the sum, over its functions, of the
instructions executed in each, plus the C library's share. A block profile of a
measured candidate (:func:`costtune.measure.block_profile`, one more qemu run)
splits its count by function. In the ``o3-edits`` space most new binaries differ
from O3 in a few functions only, and many recombine function *variants* (a
function's normalised text) that measured candidates already had: 22-47% of the
candidates TPE measured on cBench's blowfish-decode, qsort1, patricia and
stringsearch2 consisted entirely of variants seen in earlier ones. For such a
candidate the sum of its variants' counts predicts its own count - exactly, for 21
of 22 on blowfish-decode and 27 of 30 on stringsearch2. How often a function runs
also depends on its callers (inlined calls are not made), so a variant is keyed by
its text and its callers' texts first, and by its text alone when that context is
new (patricia: 0.7% median error without the context).

:class:`VariantTable` holds the counts of one program. With ``--variants`` the search's
proxy puts a candidate predicted to beat the best measurement ahead of the cost model's
ranking and one predicted not to behind it; and when a chosen candidate is predicted not
to beat the best, the prediction is told to the sampler and no measurement is spent.
"""

from __future__ import annotations

import hashlib
import math
import statistics

__all__ = ["VariantTable"]


def _h(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def variant_keys(functions: dict[str, str]) -> dict[str, tuple[str, str]]:
    """``{function: (text key, text-and-callers key)}``."""
    from costtune.model.profile import callers_of

    text = {f: _h(t) for f, t in functions.items()}
    callers = callers_of(functions)
    return {f: (f"{f}:{text[f]}", f"{f}:{text[f]}:" + _h("".join(text[c] for c in callers.get(f, ()))))
            for f in functions}


class VariantTable:
    """Counts per function variant, from the block profiles of one program's measured candidates."""

    def __init__(self):
        self.by_text: dict[str, list[float]] = {}
        self.by_context: dict[str, float] = {}
        self.library: list[float] = []  #: instructions outside the program's own functions, per candidate
        self.best = math.inf  #: the lowest measured count observed
        self.profiled: set[str] = set()  #: binary hashes already observed

    def observe(self, binary_hash: str, functions: dict[str, str], per_function: dict[str, int], total: float) -> None:
        """Record one measured candidate: its own functions and its profile's per-function counts."""
        self.profiled.add(binary_hash)
        own = 0.0
        for f, (tk, ck) in variant_keys(functions).items():
            n = float(per_function.get(f, 0))
            own += n
            self.by_text.setdefault(tk, []).append(n)
            self.by_context[ck] = n
        self.library.append(total - own)
        self.best = min(self.best, total)

    def predict(self, functions: dict[str, str]) -> float | None:
        """Predicted count of a candidate, or None when one of its function variants is new."""
        if not self.library:
            return None
        total = statistics.median(self.library)
        for tk, ck in variant_keys(functions).values():
            if ck in self.by_context:
                total += self.by_context[ck]
            elif tk in self.by_text:
                total += statistics.median(self.by_text[tk])
            else:
                return None
        return total


def profile_observer(table: VariantTable, bench, runner, repeat: int | None, toolchain=None):
    """``(artifact) -> None`` for the search's evaluator: profile a measured binary once, record it."""
    from costtune.asm import program_functions
    from costtune.measure import block_profile

    def observe(artifact) -> None:
        if artifact.binary_hash in table.profiled:
            return
        table.profiled.add(artifact.binary_hash)
        prof = block_profile(artifact, bench, repeat=repeat, runner=runner, toolchain=toolchain)
        if prof.ok:
            table.observe(artifact.binary_hash, program_functions(artifact, toolchain=toolchain), prof.functions,
                          prof.total)

    return observe


def no_gain_prediction(table: VariantTable, toolchain=None):
    """``(artifact) -> count | None``: the prediction of a candidate made of known variants
    that does not beat the best measurement - the search tells it to the sampler instead of
    spending a measurement on it. A predicted gain is measured (it has to be confirmed)."""
    from costtune.asm import program_functions

    def guess(artifact) -> float | None:
        if not table.library:
            return None
        p = table.predict(program_functions(artifact, toolchain=toolchain))
        return p if p is not None and p >= table.best else None

    return guess
