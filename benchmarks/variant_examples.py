#!/usr/bin/env python3
"""Training examples of the function-variant model from datasets built with ``--from-corpus``.

    python benchmarks/variant_examples.py --data DS [DS ...] --splits train,validation --out EX.jsonl.gz

For each program of the named splits, as in the cold setting: the O0 and O3 builds are the
block-profiled references; every own function variant of another candidate that the profile
estimate cannot predict (a text and a control-flow shape never measured) gives one example -
the reference variant of its function nearest in static length with its profile
(:func:`costtune.model.variant_model.annotate`), the new variant's tokens, and the target
``log((true count + 1) / (reference count + 1))`` with a weight that grows with the function's
share of the program's O3 count. Distinct (program, function, variant) only.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from costtune.errors import CostTuneError  # noqa: E402
from costtune.model.heldout import known_and_ranked, load_all, profiled, variant_table  # noqa: E402

from costtune.asm import count_instructions  # noqa: E402
from costtune.model.variant_model import tokenize  # noqa: E402
from costtune.search.variants import variant_keys  # noqa: E402


class _Collect:
    """Stands in for a model: the table keeps its annotated references (and checks this stand-in
    on every profiled build it observes: any prediction will do)."""

    def predict(self, pairs, batch: int = 64) -> list[float]:
        return [0.0] * len(pairs)


def examples(program, cands, bench_of, tc, all_references: bool = False) -> list[dict]:
    known, ranked = known_and_ranked(cands, "cold", 0)
    table = variant_table(profiled(program, known, bench_of, tc), function_model=_Collect())
    others = [c for c in cands if c not in known]
    o3 = next((c.latency for c in known if "O3" in c.extra["labels"]), None) or max(c.latency for c in cands)
    out, seen = [], set()
    for c in others:
        for f, (tk, ck) in variant_keys(c.functions).items():
            if tk in seen or not table.needs_model(f, tk, ck, c.functions[f]):
                continue
            seen.add(tk)
            n = count_instructions(c.functions[f])
            refs = table.references[f] if all_references else [min(table.references[f], key=lambda r: abs(r[0] - n))]
            true = float(c.extra["per_function"].get(f, 0))
            for length, ref, count in refs:
                out.append({"program": program, "function": f, "ref": ref, "new": tokenize(c.functions[f]),
                            "ref_count": count, "true": true, "scaled": count * n / max(length, 1),
                            "target": math.log((true + 1) / (count + 1)),
                            # a function's error counts by its share of the program's work
                            "weight": min(1.0, 0.01 + math.sqrt(max(true, count) / o3))})
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True, type=Path, nargs="+")
    ap.add_argument("--splits", default="train,validation")
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--all-references", action="store_true",
                    help="one example per block-profiled reference variant (O0 and O3), not only the nearest")
    args = ap.parse_args()
    from costtune.benchmarks import get_benchmark
    from costtune.toolchain import find

    tc = find(require_qemu=False)
    data = load_all(args.data)
    splits = set(args.splits.split(","))
    n = 0
    part = args.out.with_name(args.out.name + ".part")  # renamed once every program gave its examples
    try:
        with gzip.open(part, "wt") as fh:
            for p, cs in sorted(data.items()):
                if cs[0].split not in splits:
                    continue
                ex = examples(p, cs, get_benchmark, tc, args.all_references and cs[0].split == "train")
                for e in ex:
                    fh.write(json.dumps({**e, "split": cs[0].split}) + "\n")
                n += len(ex)
                print(f"{p} ({cs[0].split}): {len(ex)} examples", flush=True)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    part.replace(args.out)
    print(f"{n} examples -> {args.out}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except CostTuneError as e:  # a reference without its block profile, a missing checkout: one line
        sys.exit(f"variant_examples: error: {e}")
