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

A new variant whose control-flow *shape* matches a measured variant of the same function
- the same basic blocks in the same order, each ending the same way and branching to
the same block - is predicted from that variant's block counts: each block runs as often
as its counterpart, so the function's count is the sum of block executions x the new
block lengths. Pass edits that reschedule, select or fold instructions without changing
control flow give such variants. ``benchmarks/bench_variants.py`` replays the candidates
of finished searches in measurement order: of the 100 TPE measured on cBench's qsort1, 47
were made of known variants and 25 more of known or same-shape ones, 21 of those 25
predicted exactly (the largest error 1e-6), ordered pairwise 99.5% right (static count:
91%); blowfish-decode 31 same-shape (29 exact, 100% against 53%), stringsearch2 39 (35,
96% against 46%), patricia 36 (21, largest error 1.3%, 69% against 33%).

:class:`VariantTable` holds the counts of one program. With ``--variants`` the search's
proxy puts a candidate predicted to beat the best measurement ahead of the cost model's
ranking and one predicted not to behind it; and when a chosen candidate is predicted not
to beat the best, the prediction is told to the sampler and no measurement is spent.

:meth:`VariantTable.estimate` goes on where :meth:`~VariantTable.predict` gives up: a
function variant of a new shape is estimated from the measured variant of the same function
nearest to it in static length, its count scaled by the ratio of the two lengths (a
function that runs hot stays hot; cold code weighs nothing). ``--model profile`` ranks the
screen by this estimate. Replayed on TPE's candidates of seven cBench programs
(``benchmarks/bench_variants.py``), it orders pairs of the candidates that ``predict`` cannot
predict right 72% of the time on average, against 53% for the static instruction count
(qsort1 0.77/0.57, blowfish-decode 0.73/0.62, patricia 0.55/0.29, stringsearch2 0.83/0.52,
rijndael-decode 0.80/0.80, adpcm-c 0.77/0.45, crc32 0.61/0.47).
"""

from __future__ import annotations

import hashlib
import math
import re
import statistics

from costtune.asm import count_instructions

__all__ = ["VariantTable", "block_shape"]

_COND = re.compile(r"(b\.\w+|cbn?z|tbn?z)\s")
_JUMP = re.compile(r"b\s")
_LABEL = re.compile(r"\bL\d+\b")
#: a function that ran less than this share of the program's lowest count in each of its profiled
#: variants is scaled from its nearest variant, not predicted: the model's time goes where counts are
COLD_SHARE = 1e-4
#: measured candidates that the function model and the length scaling estimated differently, before
#: the model's trust is judged by how well each ordered them (:meth:`VariantTable.model_trusted`)
MIN_CHECKS = 4
#: :meth:`VariantTable.adapt` fine-tunes on at most this many examples, those of the hottest functions
ADAPT_MAX = 128


def _h(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def block_shape(text: str) -> tuple[list[int], tuple]:
    """A function's basic blocks (normalised AArch64 text, one instruction a line, labels
    ``L<n>:``): the length of each, and the shape - per block, how it ends (conditional
    branch, jump, return, fall-through) and the block a branch goes to."""
    blocks: list[list[str]] = []
    cur: list[str] = []
    label_block: dict[str, int] = {}
    for line in text.splitlines()[1:]:  # the first line is <name>:
        line = line.strip()
        if not line:
            continue
        if line.endswith(":"):
            if cur:
                blocks.append(cur)
                cur = []
            label_block[line[:-1]] = len(blocks)
            continue
        cur.append(line)
        if _COND.match(line) or _JUMP.match(line) or line.startswith(("ret", "br ")):
            blocks.append(cur)
            cur = []
    if cur:
        blocks.append(cur)
    shape = []
    for b in blocks:
        last = b[-1]
        kind = "c" if _COND.match(last) else "j" if _JUMP.match(last) else "r" if last.startswith(("ret", "br ")) else "f"
        m = _LABEL.search(last) if kind in "cj" else None
        shape.append((kind, label_block.get(m.group(0)) if m else None))
    return [len(b) for b in blocks], tuple(shape)


def variant_keys(functions: dict[str, str]) -> dict[str, tuple[str, str]]:
    """``{function: (text key, text-and-callers key)}``."""
    from costtune.model.profile import callers_of

    text = {f: _h(t) for f, t in functions.items()}
    callers = callers_of(functions)
    return {f: (f"{f}:{text[f]}", f"{f}:{text[f]}:" + _h("".join(text[c] for c in callers.get(f, ()))))
            for f in functions}


class VariantTable:
    """Counts per function variant, from the block profiles of one program's measured candidates.

    With a ``function_model`` (:class:`costtune.model.variant_model.VariantModel`), a variant of
    new shape is predicted by the model from the block-profiled variant of its function nearest
    in static length, instead of scaling that variant's count by the length ratio. Each measured
    candidate is estimated both ways before it joins the table: once :data:`MIN_CHECKS` candidates
    were estimated differently, the model is used only while it orders them (pairwise, by their
    measured counts) at least as well as the scaling (:meth:`model_trusted`) - in a search on which
    the model ranks worse than the estimate it sits in, the estimate takes over."""

    def __init__(self, function_model=None):
        self.by_text: dict[str, list[float]] = {}
        self.by_context: dict[str, float] = {}
        self.library: list[float] = []  #: instructions outside the program's own functions, per candidate
        self.best = math.inf  #: the lowest measured count observed
        self.by_shape: dict[tuple, list[int]] = {}  #: (function, shape) -> executions of each block
        self.profiled: set[str] = set()  #: binary hashes already observed
        self.by_length: dict[str, list[tuple[int, float]]] = {}  #: function -> (static length, count) measured
        #: function -> (static length, annotated tokens, count) of its block-profiled variants
        self.references: dict[str, list[tuple[int, list[str], float]]] = {}
        self.function_model = function_model
        self._learned: dict[tuple[str, str], float] = {}  #: (function, text hash) -> predicted count
        #: (estimate with the model, with the length scaling, measured count) of measured candidates
        #: that the two estimated differently
        self.checks: list[tuple[float, float, float]] = []
        self._trusted = True
        #: the measured variants the model read (reference and new tokens, target log ratio, weight):
        #: what :meth:`adapt` fine-tunes it on
        self.examples: list[dict] = []

    def observe(self, binary_hash: str, functions: dict[str, str], per_function: dict[str, int], total: float,
                block_counts: dict[str, list[int]] | None = None) -> None:
        """Record one measured candidate: its own functions, its profile's per-function counts and,
        where known, how often each function's blocks ran (in :func:`block_shape`'s order)."""
        if self.library and self.function_model is not None:
            self._check(functions, per_function, total)
        self.profiled.add(binary_hash)
        own = 0.0
        for f, (tk, ck) in variant_keys(functions).items():
            n = float(per_function.get(f, 0))
            own += n
            self.by_text.setdefault(tk, []).append(n)
            self.by_context[ck] = n
            self.by_length.setdefault(f, []).append((count_instructions(functions[f]), n))
        for f, counts in (block_counts or {}).items():
            self.by_shape.setdefault((f, block_shape(functions[f])[1]), counts)
            if self.function_model is not None:
                from costtune.model.variant_model import annotate

                callees = {g: float(per_function.get(g, 0)) for g in functions}
                self.references.setdefault(f, []).append(
                    (count_instructions(functions[f]), annotate(functions[f], counts, float(per_function.get(f, 0)),
                                                                 callees), float(per_function.get(f, 0))))
                # a new reference may be nearer to a variant predicted before: predict those again
                self._learned = {k: v for k, v in self._learned.items() if k[0] != f}
        self.library.append(total - own)
        self.best = min(self.best, total)

    def predict(self, functions: dict[str, str]) -> float | None:
        """Predicted count of a candidate, or None when one of its function variants is new."""
        return self._count(functions, exact=True)

    def estimate(self, functions: dict[str, str]) -> float | None:
        """:meth:`predict` where it can; a variant of a new shape counts as the measured variant
        of its function nearest in static length, scaled by the length ratio; a function never
        measured counts as the measured functions' instructions per static instruction x its
        length. None before the first observation."""
        return self._count(functions, exact=False)

    def estimate_many(self, candidates: list[dict[str, str]]) -> list[float | None]:
        """:meth:`estimate` of each candidate; the function model (if any) runs once, batched,
        over every new variant among them."""
        if self.function_model is not None and self.library and self.model_trusted():
            todo = {}
            for functions in candidates:
                for f, (tk, ck) in variant_keys(functions).items():
                    if not self.needs_model(f, tk, ck, functions[f]):
                        continue
                    key = (f, tk)
                    if key not in self._learned and key not in todo:
                        todo[key] = functions[f]
            self._predict(todo)
        return [self.estimate(c) for c in candidates]

    def needs_model(self, f: str, text_key: str, context_key: str, text: str) -> bool:
        """Whether the function model predicts this variant of ``f``: text and shape never measured,
        and a block-profiled variant of ``f`` to read beside it that is not cold (:data:`COLD_SHARE`)."""
        return (self._model_reads(f) and context_key not in self.by_context and text_key not in self.by_text
                and (f, block_shape(text)[1]) not in self.by_shape)

    def _model_reads(self, f: str) -> bool:
        refs = self.references.get(f) if self.function_model is not None else None
        return bool(refs) and max(c for _, _, c in refs) >= COLD_SHARE * self.best

    def model_trusted(self) -> bool:
        """Whether new variants are predicted by the function model: until :data:`MIN_CHECKS`
        measured candidates were estimated differently with and without it, yes; then while the
        estimates with the model order those candidates' pairs at least as well as without."""
        return self._trusted

    def _judge(self) -> bool:
        if len(self.checks) < MIN_CHECKS:
            return True
        right = [0, 0]
        for i, a in enumerate(self.checks):
            for b in self.checks[i + 1:]:
                if a[2] != b[2]:
                    for k in (0, 1):
                        right[k] += (a[k] < b[k]) == (a[2] < b[2]) and a[k] != b[k]
        return right[0] >= right[1]

    def _check(self, functions: dict[str, str], per_function: dict[str, int], total: float) -> None:
        """Before a measured candidate joins: its estimates with the model and with the scaling,
        and an example for :meth:`adapt` of each new variant the model read."""
        from costtune.model.variant_model import tokenize

        read = {(f, tk): functions[f] for f, (tk, ck) in variant_keys(functions).items()
                if self.needs_model(f, tk, ck, functions[f])}
        self._predict({k: text for k, text in read.items() if k not in self._learned})
        for (f, _), text in read.items():
            if f in per_function:
                tokens, count = self._nearest(f, text)
                true = float(per_function[f])
                self.examples.append({"ref": tokens, "new": tokenize(text), "target": math.log((true + 1) / (count + 1)),
                                      "weight": min(1.0, 0.01 + math.sqrt(max(true, count) / self.best))})
        with_model, scaled = self._count(functions, False, model=True), self._count(functions, False, model=False)
        if with_model != scaled:
            self.checks.append((with_model, scaled, total))
            self._trusted = self._judge()

    def adapt(self, epochs: int = 2, lr: float = 1e-4) -> bool:
        """Fine-tune a copy of the function model on :attr:`examples` (the measured variants it
        read so far, at most :data:`ADAPT_MAX` of the largest weight); new variants are predicted
        again. False when there is nothing to learn from."""
        if self.function_model is None or not self.examples:
            return False
        from costtune.model.variant_model import adapted

        hottest = sorted(self.examples, key=lambda e: -e["weight"])[:ADAPT_MAX]
        if hasattr(self.function_model, "adapted"):  # a served model: tuned here, served from its new directory
            self.function_model = self.function_model.adapted(hottest, epochs=epochs, lr=lr)
        else:
            self.function_model = adapted(self.function_model, hottest, epochs=epochs, lr=lr)
        self._learned.clear()
        return True

    def _nearest(self, f: str, text: str) -> tuple[list[str], float]:
        """The annotated tokens of ``f``'s block-profiled variant nearest in static length, and the
        count the model's prediction is relative to: that variant's, or it scaled by the ratio of
        the two lengths (a model of ``base`` ``scaled``)."""
        n = count_instructions(text)
        length, tokens, count = min(self.references[f], key=lambda r: abs(r[0] - n))
        if getattr(self.function_model, "base", "reference") == "scaled":
            return tokens, count * n / max(length, 1)
        return tokens, count

    def _predict(self, todo: dict[tuple[str, str], str]) -> None:
        from costtune.model.variant_model import tokenize

        keys = list(todo)
        pairs, refs = [], []
        for f, tk in keys:
            tokens, count = self._nearest(f, todo[(f, tk)])
            pairs.append((tokens, tokenize(todo[(f, tk)])))
            refs.append(count)
        for key, ref, lr in zip(keys, refs, self.function_model.predict(pairs) if pairs else []):
            self._learned[key] = max((ref + 1) * math.exp(lr) - 1, 0.0)

    def _count(self, functions: dict[str, str], exact: bool, model: bool | None = None) -> float | None:
        """The count of ``functions`` (see :meth:`estimate`); ``model``: whether new variants are
        predicted by the function model (default: while :meth:`model_trusted`)."""
        if not self.library:
            return None
        total = statistics.median(self.library)
        for f, (tk, ck) in variant_keys(functions).items():
            if ck in self.by_context:
                total += self.by_context[ck]
            elif tk in self.by_text:
                total += statistics.median(self.by_text[tk])
            else:
                lengths, shape = block_shape(functions[f])
                counts = self.by_shape.get((f, shape))
                if counts is not None:
                    total += sum(c * n for c, n in zip(counts, lengths))
                elif exact:
                    return None
                elif self._model_reads(f) and (self.model_trusted() if model is None else model):
                    if (f, tk) not in self._learned:
                        self._predict({(f, tk): functions[f]})
                    total += self._learned[(f, tk)]
                else:
                    total += self._scaled(f, count_instructions(functions[f]))
        return total

    def _scaled(self, function: str, length: int) -> float:
        seen = self.by_length.get(function)
        if seen:
            n, count = min(seen, key=lambda o: abs(o[0] - length))
            return count * length / max(n, 1)
        lengths = sum(n for obs in self.by_length.values() for n, _ in obs)
        counts = sum(c for obs in self.by_length.values() for _, c in obs)
        return length * counts / max(lengths, 1)


def profile_observer(table: VariantTable, bench, runner, repeat: int | None, toolchain=None):
    """``(artifact) -> None`` for the search's evaluator: profile a measured binary once, record it."""
    from costtune.asm import program_functions
    from costtune.measure import block_profile
    from costtune.measure.profile import read_symbols

    def observe(artifact) -> None:
        if artifact.binary_hash in table.profiled:
            return
        table.profiled.add(artifact.binary_hash)
        prof = block_profile(artifact, bench, repeat=repeat, runner=runner, toolchain=toolchain)
        if prof.ok:
            functions = program_functions(artifact, toolchain=toolchain)
            table.observe(artifact.binary_hash, functions, prof.functions, prof.total,
                          block_counts(functions, prof.blocks, read_symbols(artifact.binary, toolchain)))

    return observe


def block_counts(functions: dict[str, str], blocks, symbols) -> dict[str, list[int]]:
    """Executions of each block of each function (:func:`block_shape`'s blocks), from a block
    profile's translation blocks ``(address, instructions, executions)`` and the binary's
    symbols: a block runs as often as its first instruction (4 bytes an instruction)."""
    per_insn: dict[int, int] = {}
    for addr, n, execs in blocks:
        for j in range(n):
            per_insn[addr + 4 * j] = per_insn.get(addr + 4 * j, 0) + execs
    starts = {s.name: s.start for s in symbols}
    out = {}
    for f, text in functions.items():
        if f not in starts:
            continue
        counts, offset = [], starts[f]
        for n in block_shape(text)[0]:
            counts.append(per_insn.get(offset, 0))
            offset += 4 * n
        out[f] = counts
    return out


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
