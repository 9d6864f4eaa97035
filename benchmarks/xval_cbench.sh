#!/usr/bin/env bash
# Retraining on measured pairs, cross-validated by program family: the model that guides the
# search of a program never saw that program (nor its encode/decode sibling).
#
#   benchmarks/xval_cbench.sh prepare RUN_DIR EXTRA_DS OUT   # CPU: records -> datasets per fold
#   benchmarks/xval_cbench.sh train OUT                      # GPU or CPU: one model per fold
#   benchmarks/xval_cbench.sh search RUN_DIR OUT [--jobs 2]  # CPU: proxy search with the fold's model
#
# RUN_DIR is the --out of `benchmarks/bench_search.py --suite cbench` (its random, tpe and
# proxy studies and their records databases). EXTRA_DS is a `costtune dataset` directory
# whose train rows join every fold (the default model's builtin + csmith data).
# `prepare` merges, per fold, the records of the OTHER fold's programs (`costtune records
# export/import`), builds a dataset of them (`costtune dataset`), and appends EXTRA_DS.
# `train` trains each fold's model like the default model: LoRA + rank head on the default
# model's own pretrained base and tokenizer (tuner_configs/model_default.yaml).
# `search` runs the proxy on each fold's programs with the model of the other fold and reuses
# RUN_DIR's TPE studies (copied), so bench_search.py prints both side by side.
set -euo pipefail
PY=${PY:-.venv/bin/python}
COSTTUNE="$PY -m costtune"
FOLD_A="automotive-bitcount network-dijkstra office-stringsearch2 security-blowfish-decode security-blowfish-encode security-sha"
FOLD_B="automotive-qsort1 network-patricia security-rijndael-decode security-rijndael-encode telecom-adpcm-c telecom-adpcm-d telecom-crc32"
DEFAULT_MODEL=costtune/data/default_model

other() { if [ "$1" = A ]; then echo "$FOLD_B"; else echo "$FOLD_A"; fi; }
programs() { if [ "$1" = A ]; then echo "$FOLD_A"; else echo "$FOLD_B"; fi; }

cmd=${1:?usage: $0 prepare|train|search ...}
shift
case $cmd in
prepare)
    RUN=${1:?RUN_DIR}; EXTRA=${2:?EXTRA_DS}; OUT=${3:?OUT}
    mkdir -p "$OUT"
    for fold in A B; do  # data for the model that searches FOLD: the other fold's programs
        db="$OUT/records_for_$fold.db"
        rm -f "$db"
        for p in $(other $fold); do
            for m in random tpe proxy; do
                src="$RUN/$m/$p/records.db"
                [ -f "$src" ] || continue
                $COSTTUNE records export --db "$src" --format jsonl --out "$OUT/tmp.jsonl"
                $COSTTUNE records import --db "$db" --format jsonl "$OUT/tmp.jsonl"
            done
        done
        rm -f "$OUT/tmp.jsonl"
        rm -rf "$OUT/ds_$fold"
        $COSTTUNE dataset --db "$db" --out "$OUT/ds_$fold" --split 1,0,0 --no-plots --jobs 2
        # + the extra dataset: its train and validation rows train, its test rows stay held out
        $PY - "$EXTRA/ranking.jsonl" "$OUT/ds_$fold/ranking.jsonl" <<'EOF'
import json, sys
extra, dest = sys.argv[1], sys.argv[2]
rows = [json.loads(l) for l in open(extra)]
keep = [dict(r, split="train" if r.get("split") == "validation" else r.get("split")) for r in rows]
with open(dest, "a") as f:
    for r in keep:
        f.write(json.dumps(r) + "\n")
print(f"{dest}: + {len(keep)} rows of {extra}")
EOF
    done
    ;;
train)
    OUT=${1:?OUT}
    for fold in A B; do
        rm -rf "$OUT/model_$fold"
        $COSTTUNE train --data "$OUT/ds_$fold" --base "$DEFAULT_MODEL/base" --tokenizer "$DEFAULT_MODEL/tokenizer" \
            --out "$OUT/model_$fold" --config tuner_configs/model_default.yaml --seed 0
    done
    ;;
search)
    RUN=${1:?RUN_DIR}; OUT=${2:?OUT}; shift 2
    for fold in A B; do
        mkdir -p "$OUT/search_$fold/tpe"
        for p in $(programs $fold); do
            [ -d "$OUT/search_$fold/tpe/$p" ] || cp -r "$RUN/tpe/$p" "$OUT/search_$fold/tpe/$p"
        done
        $PY benchmarks/bench_search.py --suite cbench --benchmarks $(programs $fold) --budget 100 --k 8 --repeat 1 \
            --methods tpe proxy --model "$OUT/model_$fold" --out "$OUT/search_$fold" "$@"
    done
    ;;
*)
    echo "usage: $0 prepare|train|search ..." >&2; exit 2 ;;
esac
