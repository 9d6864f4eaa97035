#!/usr/bin/env python3
"""Rank the o3-edits candidates of programs never trained on: cost models beside the baselines.

    costtune dataset --from-corpus benchmarks/corpus/corpus.jsonl.gz --out DS --n 1000 --eps 0.01 --no-plots --jobs 2
    python benchmarks/bench_costmodel.py --data DS --split test [--model DIR ...] --out results.json

Two settings, as the model is used:

* **cold** - a program seen for the first time: only its O0 and O3 builds are measured
  (counts, per-function counts and block profiles). Every other distinct candidate is ranked.
* **warm** - inside a search: the first ``--warm`` (20) measured o3-edits candidates of the
  program are known as well (their counts and per-function counts; a model may adapt on
  them). The rest are ranked.

Every scorer ranks the same candidates with the same information. Baselines: the static
instruction count of the program's own functions; the profile estimate (``--model profile``
in a search: :class:`costtune.search.variants.VariantTable` fed the known candidates); the
opcode-histogram GBM trained on the training split (in warm, refitted with the known
candidates added); random. Metrics per program and pooled: pairwise accuracy on pairs whose
relative gap (slow - fast) / slow exceeds 1% and 0.2%, Kendall tau, top-1 and top-5 score
(best true count / true count of the best among the k ranked first).

Only the split named by ``--split`` is scored; choose settings on ``validation`` and report
``test`` (the corpus's family split: no family of the test split was trained on or used to
choose a setting).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from costtune.errors import CostTuneError  # noqa: E402
from costtune.model.baselines import OpcodeGBM, RandomScorer, StaticCount  # noqa: E402
from costtune.model.metrics import kendall_tau, pairwise_counts, topk_score  # noqa: E402
from costtune.model.heldout import known_and_ranked, load_all, profiled, reference_of, variant_table  # noqa: E402
from costtune.model.residual import ResidualModel  # noqa: E402

GAPS = (0.01, 0.002)


def metrics(true: list[float], pred: list[float]) -> dict:
    out = {"n": len(true), "kendall_tau": kendall_tau(true, pred), "top1": topk_score(true, pred, 1),
           "top5": topk_score(true, pred, 5)}
    for g in GAPS:
        correct, total = pairwise_counts(true, pred, g)
        out[f"pairs_{g}"], out[f"correct_{g}"] = total, correct
    return out


def pooled(per: dict[str, dict]) -> dict:
    ms = list(per.values())
    out = {"programs": len(ms), "candidates": sum(m["n"] for m in ms)}
    for g in GAPS:
        p, c = sum(m[f"pairs_{g}"] for m in ms), sum(m[f"correct_{g}"] for m in ms)
        out[f"pairs_{g}"], out[f"acc_{g}"] = int(p), (c / p if p else float("nan"))
        accs = [m[f"correct_{g}"] / m[f"pairs_{g}"] for m in ms if m[f"pairs_{g}"]]
        out[f"mean_program_acc_{g}"] = statistics.fmean(accs) if accs else float("nan")
    for k in ("kendall_tau", "top1", "top5"):
        out[k] = statistics.fmean(m[k] for m in ms) if ms else float("nan")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True, type=Path, nargs="+",
                    help="dataset directories built with --from-corpus (several: parts of one corpus, merged)")
    ap.add_argument("--split", default="validation", choices=["train", "validation", "test"],
                    help="programs to rank (default validation: test is for the final report)")
    ap.add_argument("--settings", default="cold,warm", help="cold, warm or both (default cold,warm)")
    ap.add_argument("--warm", type=int, default=20, help="known o3-edits candidates in the warm setting")
    ap.add_argument("--model", action="append", default=[], metavar="DIR",
                    help="a cost model directory to score (repeatable; 'default' or 'llm' = the shipped LLM model)")
    ap.add_argument("--variant-model", action="append", default=[], metavar="DIR",
                    help="a function-variant model (benchmarks/train_variant_model.py): the profile estimate "
                         "with its new variants predicted by the model (repeatable)")
    ap.add_argument("--adapt", type=int, default=0, metavar="EPOCHS",
                    help="warm: also each variant model fine-tuned for EPOCHS on the known candidates' variants "
                         "it read (what a search's --retrain-every does)")
    ap.add_argument("--no-residual", action="store_true", help="skip the learned residual of the profile estimate")
    ap.add_argument("--seeds", default="0", help="GBM/random seeds (comma list; default 0)")
    ap.add_argument("--cbench-root", help="cTuning checkout (default COSTTUNE_CBENCH_ROOT)")
    ap.add_argument("--testsuite-root", help="llvm-test-suite checkout (default COSTTUNE_TESTSUITE_ROOT)")
    ap.add_argument("--corpus", type=Path, default=Path(__file__).parent / "corpus" / "corpus.jsonl.gz",
                    help="the corpus the data came from: its candidates' worker seconds (compile + measure) are "
                         "printed beside each scorer's seconds per candidate")
    ap.add_argument("--out", type=Path, help="write the results as JSON here")
    args = ap.parse_args()

    from costtune.benchmarks import get_benchmark
    from costtune.toolchain import find

    tc = find(require_qemu=False)
    benches = {}

    def bench_of(p):
        if p not in benches:
            benches[p] = get_benchmark(p, cbench_root=args.cbench_root, testsuite_root=args.testsuite_root)
        return benches[p]

    data = load_all(args.data)
    worker = {}
    if args.corpus and args.corpus.is_file():
        from costtune.corpus import read_corpus

        for _, cands in read_corpus(args.corpus)[1]:
            for c in cands:
                if c.get("seconds"):
                    worker[c["job_key"]] = c["seconds"]
    programs = sorted(p for p, cs in data.items() if cs[0].split == args.split)
    train = [c for p, cs in data.items() if cs[0].split == "train" for c in cs]
    models = {}
    for m in args.model:
        from costtune.model.costmodel import CostModel
        from costtune.model.costmodel import resolve_model_dir

        models[f"model:{m}"] = CostModel.from_pretrained(resolve_model_dir(m))
    from costtune.model.variant_model import load as load_variant_model

    variant_models = {f"variant_model:{Path(d).name}": load_variant_model(d, threads=2) for d in args.variant_model}
    seeds = [int(s) for s in args.seeds.split(",")]
    results = {"data": [str(d) for d in args.data], "split": args.split, "programs": programs, "warm": args.warm,
               "settings": {}}
    for setting in args.settings.split(","):
        per: dict[str, dict[str, dict]] = defaultdict(dict)
        seconds: dict[str, float] = defaultdict(float)
        built: list[float] = []  # compile + measure seconds of each ranked candidate (its slowest record)
        gbms = {s: OpcodeGBM(seed=s).fit(train) for s in seeds} if train else {}
        residuals = {}
        if train and not args.no_residual:
            fit_on = []
            for q in sorted({c.program for c in train}):
                k, r = known_and_ranked(data[q], setting, args.warm)
                ref = reference_of(k)
                if ref is not None and r:
                    fit_on.append((variant_table(profiled(q, k, bench_of, tc)), ref.functions,
                                   ref.extra["per_function"], [(c.functions, c.latency) for c in r]))
            residuals = {s: ResidualModel(seed=s).fit(fit_on) for s in seeds}
        for p in programs:
            known, ranked = known_and_ranked(data[p], setting, args.warm)
            if len(ranked) < 2:
                continue
            true = [c.latency for c in ranked]
            for c in ranked:
                spent = [worker[k] for k in c.extra["job_keys"] if k in worker]
                if spent:
                    built.append(max(spent))  # a record that reused an identical binary costs less
            scorers = {"static_insns": StaticCount().score}
            observed = profiled(p, known, bench_of, tc)  # the references' profiles, read once
            table = variant_table(observed)
            scorers["profile_estimate"] = lambda cs, t=table: [t.estimate(c.functions) for c in cs]
            for name, vm in variant_models.items():
                scorers[name] = lambda cs, t=variant_table(observed, vm): t.estimate_many(
                    [c.functions for c in cs])
                if args.adapt and setting == "warm":  # fine-tuned on the known variants it read (timed)
                    scorers[f"{name}+adapt"] = lambda cs, t=variant_table(observed, vm): (
                        t.adapt(args.adapt), t.estimate_many([c.functions for c in cs]))[1]
            ref = reference_of(known)
            for s, res in residuals.items():
                if ref is not None:
                    scorers[f"residual_gbm:s{s}"] = lambda cs, t=table, r=ref, m=res: m.score(
                        t, r.functions, r.extra["per_function"], [c.functions for c in cs])
            for s in seeds:
                if gbms:
                    if setting == "warm":
                        gbm = OpcodeGBM(seed=s).fit(train + known)
                    else:
                        gbm = gbms[s]
                    scorers[f"opcode_gbm:s{s}"] = gbm.score
                scorers[f"random:s{s}"] = RandomScorer(s).score
            for name, model in models.items():
                scorers[name] = lambda cs, m=model: list(m.score([c.functions for c in cs]))
            for name, fn in scorers.items():
                t0 = time.perf_counter()
                pred = fn(ranked)
                seconds[name] += time.perf_counter() - t0
                per[name][p] = metrics(true, pred)
        res = {name: {"pooled": pooled(pp), "per_program": pp, "seconds": round(seconds[name], 2),
                      "seconds_per_candidate": seconds[name] / max(sum(m["n"] for m in pp.values()), 1)}
               for name, pp in per.items()}
        results["settings"][setting] = res
        results.setdefault("compile_and_measure_seconds_per_candidate", {})[setting] = (
            statistics.median(built) if built else None)
        print(f"\n{setting} ({args.split}: {len({p for pp in per.values() for p in pp})} programs)")
        cols = ["acc_0.01", "acc_0.002", "mean_program_acc_0.01", "kendall_tau", "top1", "top5", "pairs_0.01"]
        print(f"{'scorer':<22}" + "".join(f"{c:>22}" for c in cols))
        for name, r in res.items():
            print(f"{name:<22}" + "".join(f"{r['pooled'][c]:>22.3f}" if not c.startswith("pairs") else
                                          f"{r['pooled'][c]:>22d}" for c in cols))
        cm = results["compile_and_measure_seconds_per_candidate"][setting]
        print(f"\nscoring cost ({setting}): seconds per candidate, beside compiling and measuring the same "
              f"candidates (median worker seconds in the corpus: {cm if cm is None else round(cm, 3)})")
        for name, r in res.items():
            share = f"{r['seconds_per_candidate'] / cm:8.1%}" if cm else "       -"
            print(f"{name:<22}{r['seconds_per_candidate']:>12.4f} s {share} of compile + measure")
    if args.out:
        args.out.write_text(json.dumps(results, indent=1, default=lambda o: sorted(o) if isinstance(o, set) else str(o))
                            + "\n")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except CostTuneError as e:  # a missing checkout, a model that does not load: one line
        sys.exit(f"bench_costmodel: error: {e}")
