"""Evaluate a cost model on held-out programs beside the baselines (``costtune eval``).

Every scorer sees the same candidates and the same pairs. Metrics per program and
overall: pairwise accuracy (pairs with a relative gap > eps, pooled over programs),
Kendall tau, top-1 and top-5 score (means over programs). The top-k score is a
score, not a hit rate: best latency / latency of the best of the k candidates the
scorer ranks first (1.0: the best candidate is among them).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field

from costtune.errors import DatasetError
from costtune.logging import get_logger
from costtune.model.baselines import OpcodeGBM, RandomScorer, StaticCount
from costtune.dataset import Candidate, group_by_program
from costtune.model.metrics import program_metrics

log = get_logger(__name__)

__all__ = ["EvalReport", "evaluate", "evaluate_scorers", "evaluate_variant", "format_table"]


@dataclass
class EvalReport:
    eps: float
    programs: list[str]
    overall: dict = field(default_factory=dict)  #: scorer -> metrics
    per_program: dict = field(default_factory=dict)  #: scorer -> program -> metrics
    seconds: dict = field(default_factory=dict)  #: scorer -> scoring seconds
    skipped: dict = field(default_factory=dict)  #: scorer -> why it was not run

    def to_dict(self) -> dict:
        return asdict(self)


def _overall(per: dict[str, dict]) -> dict:
    ms = list(per.values())
    pairs = sum(m["pairs"] for m in ms)
    correct = sum(m["correct"] for m in ms)

    def mean(k):
        vals = [m[k] for m in ms if not math.isnan(m[k])]
        return sum(vals) / len(vals) if vals else float("nan")

    return {"programs": len(ms), "candidates": sum(m["n"] for m in ms), "pairs": pairs,
            "pair_acc": correct / pairs if pairs else float("nan"), "kendall_tau": mean("kendall_tau"),
            "top1": mean("top1"), "top5": mean("top5")}


def evaluate_scorers(scorers: dict, test: list[Candidate], eps: float) -> EvalReport:
    """``scorers``: name -> callable(list[Candidate]) -> costs (lower = faster)."""
    groups = {p: g for p, g in sorted(group_by_program(test).items()) if len(g) >= 2}
    if not groups:
        raise DatasetError("no held-out program has two or more candidates to rank")
    rep = EvalReport(eps, sorted(groups))
    for name, fn in scorers.items():
        t0 = time.time()
        per = {}
        for p, g in groups.items():
            per[p] = program_metrics([c.latency for c in g], list(fn(g)), eps)
        rep.per_program[name] = per
        rep.overall[name] = _overall(per)
        rep.seconds[name] = round(time.time() - t0, 2)
    return rep


def evaluate(model_dir, test: list[Candidate], train: list[Candidate] | None, *, eps: float = 0.02,
             seed: int = 0, device: str = "cpu", threads: int = 1) -> EvalReport:
    """The model in ``model_dir`` and the baselines on ``test`` (GBM fitted on ``train``; without
    training programs the GBM is skipped and the report says why)."""
    from costtune.model.costmodel import CostModel

    model = CostModel.from_pretrained(model_dir, device=device, threads=threads)
    refs = {}
    if model.config.weights == "profile":
        from costtune.model.train import profiles_for

        refs = profiles_for(test, model.config.profile_pipeline)
    scorers = {"model": lambda g: model.score([c.functions for c in g], refs.get(g[0].program))}
    scorers["static_insns"] = StaticCount().score
    if refs:  # the same profile the model gets, on static counts: what the weights alone buy
        from costtune.model.profile import candidate_weights

        def weighted_static(g):
            out = []
            for c in g:
                w = candidate_weights(c.functions, refs[c.program])
                out.append(sum(w[f] * StaticCount.count(t) for f, t in c.functions.items()))
            return out

        scorers["static_x_profile"] = weighted_static
    return _with_baselines(scorers, test, train, eps, seed)


def _with_baselines(scorers: dict, test: list[Candidate], train: list[Candidate] | None, eps: float,
                    seed: int) -> EvalReport:
    """``scorers`` and the opcode GBM (fitted on ``train``; skipped without it) and random, on ``test``."""
    if train:
        scorers["opcode_gbm"] = OpcodeGBM(seed=seed).fit(train).score
    scorers["random"] = RandomScorer(seed).score
    rep = evaluate_scorers(scorers, test, eps)
    if not train:
        rep.skipped["opcode_gbm"] = "no training programs in the data (the GBM is fitted on them)"
    return rep


def evaluate_variant(model_dir, data, *, programs: list[str] | None = None, eps: float = 0.02, seed: int = 0,
                     threads: int = 1) -> EvalReport:
    """A function-variant model in the cold setting (:mod:`costtune.model.heldout`) on ``data``, a
    dataset built with ``--from-corpus``: each program's O0 and O3 builds are known with their block
    profiles, and the profile estimate with the model ranks every other candidate, beside the
    profile estimate alone, the static count, the opcode GBM (fitted on the data's training split)
    and random. ``programs``: default, the data's test split."""
    from costtune.benchmarks import get_benchmark
    from costtune.model.heldout import known_and_ranked, load, profiled, variant_table
    from costtune.model.variant_model import load as load_variant_model
    from costtune.toolchain import find

    by_program = load(data)
    programs = programs or sorted(p for p, cs in by_program.items() if cs[0].split == "test")
    unknown = [p for p in programs if p not in by_program]
    if unknown or not programs:
        raise DatasetError(f"{data}: no candidates of {', '.join(unknown)}" if unknown else f"{data}: no test programs")
    model = load_variant_model(model_dir, threads=threads)
    tc = find(require_qemu=False)
    tables, test = {}, []
    for p in programs:
        known, ranked = known_and_ranked(by_program[p], "cold", 0)
        bench = get_benchmark(p)
        observed = profiled(p, known, lambda _: bench, tc)
        tables[p] = [variant_table(observed, fm) for fm in (model, None)]
        test += ranked
    train = [c for cs in by_program.values() if cs[0].split == "train" for c in cs]
    scorers = {"model": lambda g: tables[g[0].program][0].estimate_many([c.functions for c in g]),
               "profile_estimate": lambda g: [tables[g[0].program][1].estimate(c.functions) for c in g],
               "static_insns": StaticCount().score}
    return _with_baselines(scorers, test, train, eps, seed)


#: table heading of each overall metric
HEADINGS = {"pair_acc": "pair_acc", "kendall_tau": "kendall_tau", "top1": "top1_score", "top5": "top5_score",
            "pairs": "pairs"}


def format_table(rep: EvalReport) -> str:
    from costtune.table import format_table as table

    lines = [table([(name, *(f"{m[c]:.3f}" if c != "pairs" else m[c] for c in HEADINGS))
                    for name, m in rep.overall.items()], ("scorer", *HEADINGS.values()),
                   align="<" + ">" * len(HEADINGS))]
    for name, why in rep.skipped.items():
        lines.append(f"{name:<18}  skipped: {why}")
    lines.append(f"pairs: candidates of one program whose relative gap (slow - fast) / slow > eps = {rep.eps}; "
                 "topK_score: best latency / latency of the best of the scorer's top K (1.0: found the best)")
    lines.append("")
    lines.append(f"per program (pair_acc / top1_score), eps={rep.eps}:")
    names = list(rep.overall)
    lines.append(table([(p, *(f"{rep.per_program[n][p]['pair_acc']:.3f} / {rep.per_program[n][p]['top1']:.3f}"
                              for n in names)) for p in rep.programs], ("program", *names),
                       align="<" + ">" * len(names)))
    return "\n".join(lines)
