"""costtune pretrain --corpus FILE --tokenizer DIR --out DIR [--config YAML]."""

import argparse
import json


def register(sub):
    p = sub.add_parser("pretrain", help="pretrain a small Llama from scratch on an assembly corpus",
                       description=("Pretrain a small Llama from scratch on an assembly corpus: the base of the default cost model\n"
                                    "(settings: a PretrainConfig YAML such as tuner_configs/model_tiny.yaml)."),
                       epilog=("example:\n"
                               "  costtune pretrain --corpus runs/ds/all_assembly.txt --tokenizer runs/tok --out runs/llama"),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", required=True, help="text corpus, e.g. DATASET/all_assembly.txt")
    p.add_argument("--tokenizer", required=True, help="tokenizer directory (costtune tokenizer train)")
    p.add_argument("--out", required=True, help="output model directory")
    p.add_argument("--config", help="YAML PretrainConfig (default tuner_configs/model_tiny.yaml values)")
    p.add_argument("--steps", type=int)
    p.add_argument("--seed", type=int)
    p.add_argument("--threads", type=int)
    p.add_argument("--device", choices=("auto", "cpu", "cuda"))
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    from costtune.model.config import PretrainConfig
    from costtune.model.pretrain import pretrain

    cfg = PretrainConfig.load(args.config) if args.config else PretrainConfig()
    cfg = cfg.override(steps=args.steps, seed=args.seed, threads=args.threads, device=args.device)
    res = pretrain(args.corpus, args.tokenizer, args.out, cfg, progress=not args.json)
    if args.json:
        print(json.dumps(res.to_dict(), indent=2))
    else:
        print(f"pretrained {res.params:,} parameters on {res.tokens:,} tokens, {res.steps} steps in {res.seconds} s; "
              f"loss {res.first_loss:.3f} -> {res.last_loss:.3f}; saved to {res.out}")
    return 0
