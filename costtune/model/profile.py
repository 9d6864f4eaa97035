"""Per-function weights from a profile of the reference build ("how often it runs").

Dynamic instruction count = sum over functions of (work per run of the function's code)
x (how often that code runs). The second factor is a property of the program and its
input, mostly not of the pipeline, and it is hard to read from one function's text. A
one-off block profile of the reference build (``O0``: every function still separate)
gives it: ``w_f`` = the fraction of instructions executed in ``f``. A candidate's
function set differs from the reference's (inlining, cloning, dead functions): the
weight of a reference function that is gone moves to its callers in the reference call
graph (recursively, until a function the candidate has); a new function named
``g.something`` (a clone) takes ``g``'s weight; anything else gets the smallest weight.
The model's score of a function is then *code quality per unit of reference work*, and
program cost = logsumexp_f (s_f + log w_f).
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from costtune.errors import MeasurementError
from costtune.logging import get_logger

log = get_logger(__name__)

__all__ = ["ReferenceProfile", "reference_profile", "candidate_weights", "callers_of"]

_CALL = re.compile(r"^\s*(?:bl|b)\s+([A-Za-z_.$][\w.$]*)\s*$")
#: weight floor (fraction of the program's instructions) for functions the profile never saw run
FLOOR = 1e-4


@dataclass
class ReferenceProfile:
    program: str
    pipeline: str
    weights: dict[str, float]  #: own function -> fraction of executed instructions (sums to <= 1)
    callers: dict[str, list[str]] = field(default_factory=dict)  #: function -> its callers in the reference

    def to_dict(self) -> dict:
        return asdict(self)


def callers_of(functions: dict[str, str]) -> dict[str, list[str]]:
    """``{function: [its callers]}`` from direct calls and tail calls in normalised assembly."""
    out: dict[str, set[str]] = {}
    for caller, text in functions.items():
        for line in text.splitlines():
            m = _CALL.match(line)
            if m and m.group(1) in functions and m.group(1) != caller:
                out.setdefault(m.group(1), set()).add(caller)
    return {k: sorted(v) for k, v in out.items()}


def reference_profile(bench, pipeline: str = "O0", cache_dir: str | Path | None = None) -> ReferenceProfile:
    """Compile ``bench`` with ``pipeline``, run it once under the block-counting plugin."""
    from costtune.asm import program_functions
    from costtune.compile import compile_benchmark
    from costtune.measure import block_profile

    cache = Path(cache_dir) / f"{bench.id.replace('/', '__')}.{pipeline}.profile.json" if cache_dir else None
    if cache and cache.is_file():
        return ReferenceProfile(**json.loads(cache.read_text()))
    cr = compile_benchmark(bench, pipeline)
    if not cr.ok:
        raise MeasurementError(f"reference build of {bench.id} [{pipeline}] failed: {cr.describe()}")
    prof = block_profile(cr.artifact, bench)
    if not prof.ok:
        raise MeasurementError(f"profile of {bench.id} [{pipeline}]: {prof.status} {prof.detail}")
    fns = program_functions(cr.artifact)
    total = sum(v for k, v in prof.functions.items() if k in fns) or 1
    weights = {k: prof.functions.get(k, 0) / total for k in fns}
    rp = ReferenceProfile(bench.id, pipeline, weights, callers_of(fns))
    if cache:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(rp.to_dict()))
    return rp


def candidate_weights(functions, ref: ReferenceProfile) -> dict[str, float]:
    """Weights of a candidate's functions (see the module docstring)."""
    have = set(functions)
    w = {f: 0.0 for f in have}

    def land(f: str, amount: float, seen: frozenset) -> None:
        if f in have:
            w[f] += amount
            return
        callers = [c for c in ref.callers.get(f, []) if c not in seen]
        if not callers:
            return  # unreachable in the candidate (or recursion): its work is gone or unknown
        for c in callers:
            land(c, amount / len(callers), seen | {f})

    for f, frac in ref.weights.items():
        if f in have:
            w[f] += frac
        else:
            land(f, frac, frozenset())
    for f in have:
        if f not in ref.weights:
            base = f.split(".", 1)[0]
            w[f] += ref.weights.get(base, 0.0)
    return {f: max(v, FLOOR) for f, v in w.items()}
