"""Join datasets for benchmarks/xval_cbench.sh: DS (train) + HELDOUT (test) + EXTRA (train).

    python benchmarks/xval_merge.py DS HELDOUT EXTRA

Appends to DS/ranking.jsonl the rows of HELDOUT/ranking.jsonl (as the test split) and the
train and validation rows of EXTRA/ranking.jsonl (as train), and drops DS/splits.json:
every row then carries its own split.
"""

import json
import sys
from pathlib import Path


def main(ds: str, heldout: str, extra: str) -> None:
    rows = [dict(json.loads(line), split="test") for line in open(Path(heldout) / "ranking.jsonl")]
    rows += [dict(r, split="train") for r in map(json.loads, open(Path(extra) / "ranking.jsonl"))
             if r.get("split") in ("train", "validation")]
    dest = Path(ds) / "ranking.jsonl"
    with open(dest, "a") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows)
    (Path(ds) / "splits.json").unlink(missing_ok=True)
    print(f"{dest}: + {len(rows)} rows")


if __name__ == "__main__":
    main(*sys.argv[1:4])
