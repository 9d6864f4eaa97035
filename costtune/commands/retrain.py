"""costtune retrain: retrain a cost model (LoRA) offline on the pairs a records database holds."""

from __future__ import annotations

import argparse
from costtune.measure.cycles import metric_name
from costtune.model.retrain import retrain_model


def register(sub):
    p = sub.add_parser("retrain", help="retrain a cost model on the measured candidates of a records database",
                       description=("Retrain a cost model (LoRA, from its own base, tokenizer and settings) on the measured pairs of\n"
                                    "a records database, e.g. a search's records.db."),
                       epilog=("example:\n"
                               "  costtune retrain --db search_out/records.db --model runs/model --out runs/model2"),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--db", required=True, help="records database: a path, sqlite:///PATH or postgresql://...")
    p.add_argument("--model", required=True, help="the model directory to start from (its base, tokenizer, settings)")
    p.add_argument("--out", required=True, help="where the retrained model and its data go (model in OUT/model)")
    p.add_argument("--benchmarks", nargs="+", metavar="B", help="programs to train on, suite/name (default: all)")
    p.add_argument("--epochs", type=float, help="training epochs (default: the model's own setting)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default: 1)")
    p.add_argument("--devices", type=int, help="data-parallel training over N devices (GPUs, or CPU processes)")
    p.add_argument("--target", default="aarch64", choices=["aarch64", "host"])
    p.add_argument("--metric", default="insns", help="the records' metric: insns | wall | cycles[:CORE] (default insns)")
    p.add_argument("--cpu", help="with --metric cycles: the core of the records (default cortex-a57)")
    p.set_defaults(func=run)


def run(args) -> int:
    path = retrain_model(args.db, args.model, args.out, args.benchmarks, epochs=args.epochs, threads=args.threads, devices=args.devices,
                         target=args.target, metric=metric_name(args.metric, args.cpu))
    print(f"retrained model written to {path}")
    return 0
