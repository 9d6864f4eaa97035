"""costtune eval --model DIR (--data DIR | --db URL --benchmarks B...) [--json FILE]."""

import argparse
import json
import sys


def register(sub):
    p = sub.add_parser("eval", help="ranking metrics of a model on held-out programs, beside baselines",
                       description=("Rank the held-out programs' candidates with a model and report pairwise accuracy, Kendall tau\n"
                                    "and top-k beside the static instruction count, an opcode GBM and random."),
                       epilog=("examples:\n"
                               "  costtune eval --model default --data runs/ds\n"
                               "  costtune eval --model variant --data runs/corpus_ds\n"
                               "  costtune eval --model runs/model --db runs/cbench.db --benchmarks cbench/security-sha --json report.json"),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="'default': the best shipped model for the data ('variant' on "
                   "--data built with 'costtune dataset --from-corpus', else 'llm'); 'llm' or a trained LLM model "
                   "directory; 'variant' or a function-variant model directory (ranked cold: each program's O0 and "
                   "O3 profiles known; needs --data built with 'costtune dataset --from-corpus')")
    p.add_argument("--data", help="dataset directory: test split = held-out programs, train split fits the GBM")
    p.add_argument("--db", help="records database URL: evaluate on these measured candidates")
    p.add_argument("--benchmarks", nargs="*", help="programs to evaluate (suite/name); with --db required")
    p.add_argument("--eps", type=float, default=0.02,
                   help="a pair of candidates counts when its relative gap (slow - fast) / slow > eps (default "
                        "0.02: near-O3 candidates differ by a few percent, and instruction counts are exact, so "
                        "small gaps are real and are what a search must rank)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu", choices=("auto", "cpu", "cuda"))
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", metavar="FILE", help="also write the report as JSON to FILE ('-': print only the JSON)")
    p.set_defaults(func=run)


def run(args) -> int:
    from costtune.errors import ConfigError
    from costtune.model import resolve_model_dir
    from costtune.model.config import CostModelConfig
    from costtune.dataset import candidates_from_db, load_ranking, split_programs
    from costtune.model.evaluate import evaluate

    if not args.data and not args.db:
        raise ConfigError("eval needs --data DIR or --db URL --benchmarks ...")
    from costtune.model.heldout import is_corpus_dataset
    from costtune.model.variant_model import is_variant_model
    from costtune.search.scorer import DEFAULT, VARIANT

    model = args.model
    if model == DEFAULT and args.data and is_corpus_dataset(args.data):
        model = VARIANT  # the best shipped model where the references' block profiles are known
    if model == VARIANT or is_variant_model(model):
        if not args.data:
            raise ConfigError("a function-variant model is evaluated on --data DIR built with 'costtune dataset "
                              "--from-corpus' (it reads the O0/O3 block profiles kept there)")
        from costtune import resources
        from costtune.model.evaluate import evaluate_variant

        path = resources.variant_model_dir() if model == VARIANT else model
        rep = evaluate_variant(path, args.data, programs=args.benchmarks, eps=args.eps, seed=args.seed,
                               threads=args.threads)
        return _report(rep, args)
    mcfg = CostModelConfig.load(resolve_model_dir(args.model))
    train = None
    if args.data:
        cands = load_ranking(args.data, mcfg.repr)
        # the model's own held-out programs where the data has them, else the data's test split
        present = {c.program for c in cands}
        held = [p for p in mcfg.metrics.get("test_programs") or [] if p in present] or None
        # no training programs (e.g. a dataset made with --split 0,0,1): everything but the GBM is evaluated
        train, test = split_programs(cands, seed=mcfg.train.get("seed", 0), test_programs=args.benchmarks or held,
                                     need_train=False)
    if args.db:
        if not args.benchmarks:
            raise ConfigError("--db needs --benchmarks suite/name ...")
        test = candidates_from_db(args.db, args.benchmarks, mcfg.repr)
    rep = evaluate(args.model, test, train, eps=args.eps, seed=args.seed, device=args.device, threads=args.threads)
    return _report(rep, args)


def _report(rep, args) -> int:
    from costtune.model.evaluate import format_table

    js = json.dumps(rep.to_dict(), indent=2)
    if args.json == "-":
        print(js)
        return 0
    print(format_table(rep))
    if args.json:
        with open(args.json, "w") as fh:
            fh.write(js + "\n")
        print(f"JSON written to {args.json}", file=sys.stderr)
    return 0
