#!/usr/bin/env bash
# Retraining on measured pairs, cross-validated by program family: a model is tested on (and
# guides the search of) programs it never saw, nor their encode/decode siblings.
#
#   benchmarks/xval_cbench.sh prepare RUN_DIR EXTRA_DS OUT   # CPU: records -> datasets per fold
#   benchmarks/xval_cbench.sh train OUT                      # GPU or CPU: a model per fold + eval
#   benchmarks/xval_cbench.sh search RUN_DIR OUT [--jobs 2]  # CPU: proxy search with the fold's model
#
# XVAL_METHODS (default "random tpe proxy") picks whose records are used.
# RUN_DIR is the --out of `benchmarks/bench_search.py --suite cbench` (its random, tpe and
# proxy studies and their records databases). EXTRA_DS is a `costtune dataset` directory
# whose train and validation rows join every fold's training data (the default model's
# builtin + csmith data).
# `prepare` merges the records of each fold's programs (`costtune records export/import`) and
# builds OUT/ds_F: the other fold's programs + EXTRA_DS train, fold F's programs held out.
# `train` trains each fold's model like the default model (LoRA + rank head on the default
# model's pretrained base and tokenizer, tuner_configs/model_default.yaml), then evaluates it
# and the default model on fold F's programs (neither has seen them).
# `search` runs the proxy on each fold's programs with that fold's model and reuses RUN_DIR's
# TPE studies (copied), so bench_search.py prints both side by side.
set -euo pipefail
PY=${PY:-.venv/bin/python}
COSTTUNE="$PY -m costtune"
FOLD_A="automotive-bitcount network-dijkstra office-stringsearch2 security-blowfish-decode security-blowfish-encode security-sha"
FOLD_B="automotive-qsort1 network-patricia security-rijndael-decode security-rijndael-encode telecom-adpcm-c telecom-adpcm-d telecom-crc32"
DEFAULT_MODEL=costtune/data/default_model

programs() { if [ "$1" = A ]; then echo "$FOLD_A"; else echo "$FOLD_B"; fi; }
other() { if [ "$1" = A ]; then programs B; else programs A; fi; }

cmd=${1:?usage: $0 prepare|train|search ...}
shift
case $cmd in
prepare)
    RUN=${1:?RUN_DIR}; EXTRA=${2:?EXTRA_DS}; OUT=${3:?OUT}
    mkdir -p "$OUT"
    merge() {  # merge DB PROGRAMS...: every method's records of PROGRAMS into DB
        local db=$1; shift
        rm -f "$db"
        for p in "$@"; do
            for m in ${XVAL_METHODS:-random tpe proxy}; do
                src="$RUN/$m/$p/records.db"
                [ -f "$src" ] || continue
                $COSTTUNE records export --db "$src" --format jsonl --out "$OUT/tmp.jsonl"
                $COSTTUNE records import --db "$db" --format jsonl "$OUT/tmp.jsonl"
            done
        done
        rm -f "$OUT/tmp.jsonl"
    }
    for fold in A B; do
        merge "$OUT/train_$fold.db" $(other $fold)
        merge "$OUT/test_$fold.db" $(programs $fold)
        rm -rf "$OUT/ds_$fold" "$OUT/heldout_$fold"
        $COSTTUNE dataset --db "$OUT/train_$fold.db" --out "$OUT/ds_$fold" --split 1,0,0 --no-plots --jobs 2
        $COSTTUNE dataset --db "$OUT/test_$fold.db" --out "$OUT/heldout_$fold" --split 0,0,1 --no-plots --jobs 2
        $PY benchmarks/xval_merge.py "$OUT/ds_$fold" "$OUT/heldout_$fold" "$EXTRA"
    done
    ;;
train)
    OUT=${1:?OUT}
    for fold in A B; do
        rm -rf "$OUT/model_$fold"
        $COSTTUNE train --data "$OUT/ds_$fold" --base "$DEFAULT_MODEL/base" --tokenizer "$DEFAULT_MODEL/tokenizer" \
            --out "$OUT/model_$fold" --config tuner_configs/model_default.yaml --seed 0
        $COSTTUNE eval --model "$OUT/model_$fold" --data "$OUT/ds_$fold" --json "$OUT/eval_model_$fold.json"
        $COSTTUNE eval --model "$DEFAULT_MODEL" --data "$OUT/ds_$fold" --json "$OUT/eval_default_$fold.json"
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
