#!/usr/bin/env bash
# Retraining on measured pairs, cross-validated by program family: a model is tested on (and
# guides the search of) programs it never saw, nor their encode/decode siblings.
#
#   benchmarks/xval_cbench.sh prepare RUN_DIR EXTRA_DS OUT   # CPU: records -> datasets per fold
#   benchmarks/xval_cbench.sh train OUT                      # GPU or CPU: a model per fold + eval
#   benchmarks/xval_cbench.sh search RUN_DIR OUT [--jobs 2]  # CPU: proxy search with the fold's model
#   benchmarks/xval_cbench.sh prepare-within RUN_DIR OUT     # CPU: early -> late split inside each search
#   benchmarks/xval_cbench.sh train-within OUT [TRAIN ARGS]  # GPU or CPU: a model on the early halves + eval
#                                                            #   (BASE=smollm2 EVAL_DEVICE=cuda: SmolLM2-135M on a GPU)
#
# The within-program split asks what --retrain-every can learn: each program's candidates
# measured in the first half of its search (by start time) train, those of the second half
# test - every program is in both, as it is for a search that retrains on its own pairs.
#
# prepare and prepare-within recompile the measured candidates: they need COSTTUNE_CBENCH_ROOT.
# XVAL_METHODS (default "random tpe proxy"; for prepare-within "tpe") picks whose records are used.
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
    # RUN_DIR's proxy: k = 8 TPE proposals a trial screened by the model (here the fold's), nothing more
    mkdir -p "$OUT"
    printf '# proxy: TPE proposals screened by the cost model\nsampler: proxy\nk: 8\n' > "$OUT/proxy.yaml"
    for fold in A B; do
        mkdir -p "$OUT/search_$fold/tpe"
        for p in $(programs $fold); do
            [ -d "$OUT/search_$fold/tpe/$p" ] || cp -r "$RUN/tpe/$p" "$OUT/search_$fold/tpe/$p"
        done
        $PY benchmarks/bench_search.py --suite cbench --benchmarks $(programs $fold) --budget 100 --repeat 1 \
            --strategies tpe "$OUT/proxy.yaml" --model "$OUT/model_$fold" --out "$OUT/search_$fold" "$@"
    done
    ;;
prepare-within)
    RUN=${1:?RUN_DIR}; OUT=${2:?OUT}
    mkdir -p "$OUT"
    rm -f "$OUT/early.db" "$OUT/late.db" "$OUT"/all.jsonl
    for p in $FOLD_A $FOLD_B; do
        for m in ${XVAL_METHODS:-tpe}; do
            src="$RUN/$m/$p/records.db"
            [ -f "$src" ] || continue
            $COSTTUNE records export --db "$src" --format jsonl --out "$OUT/tmp.jsonl"
            cat "$OUT/tmp.jsonl" >> "$OUT/all.jsonl"
        done
    done
    $PY - "$OUT" <<'PYEOF'
import json, sys, pathlib
out = pathlib.Path(sys.argv[1])
rows = [json.loads(line) for line in open(out / "all.jsonl")]
by = {}
for r in sorted(rows, key=lambda r: r["started_at"]):
    by.setdefault(r["benchmark"], []).append(r)
with open(out / "early.jsonl", "w") as e, open(out / "late.jsonl", "w") as l:
    for prog, rs in by.items():
        half = len(rs) // 2
        e.writelines(json.dumps(r) + "\n" for r in rs[:half])
        l.writelines(json.dumps(r) + "\n" for r in rs[half:])
        print(f"{prog}: {half} early, {len(rs) - half} late records")
PYEOF
    $COSTTUNE records import --db "$OUT/early.db" --format jsonl "$OUT/early.jsonl"
    $COSTTUNE records import --db "$OUT/late.db" --format jsonl "$OUT/late.jsonl"
    rm -rf "$OUT/ds_within" "$OUT/heldout_within" "$OUT/tmp.jsonl" "$OUT/none"
    $COSTTUNE dataset --db "$OUT/early.db" --out "$OUT/ds_within" --split 1,0,0 --eps 0.02 --no-plots --jobs 2
    $COSTTUNE dataset --db "$OUT/late.db" --out "$OUT/heldout_within" --split 0,0,1 --eps 0.02 --no-plots --jobs 2
    # the late rows join as test rows of PROGRAM@late: the trainer and eval split by program name
    $PY - "$OUT" <<'PYEOF'
import json, sys, pathlib
out = pathlib.Path(sys.argv[1])
late = [dict(json.loads(line), split="test") for line in open(out / "heldout_within" / "ranking.jsonl")]
for r in late:
    r["program"] += "@late"
with open(out / "ds_within" / "ranking.jsonl", "a") as f:
    f.writelines(json.dumps(r) + "\n" for r in late)
(out / "ds_within" / "splits.json").unlink(missing_ok=True)
print(f"{out / 'ds_within' / 'ranking.jsonl'}: + {len(late)} late rows (test)")
PYEOF
    ;;
train-within)
    OUT=${1:?OUT}; shift
    # BASE=smollm2 (or a .gguf / HF dir): LoRA on that base with tuner_configs/model_smollm2_gpu.yaml instead
    # of the default model's base; EVAL_DEVICE=cuda evaluates on the GPU
    if [ -n "${BASE:-}" ]; then
        base=(--base "$BASE" --config tuner_configs/model_smollm2_gpu.yaml); name=$(basename "$BASE" .gguf)
    else
        base=(--base "$DEFAULT_MODEL/base" --tokenizer "$DEFAULT_MODEL/tokenizer" --config tuner_configs/model_default.yaml)
        name=model
    fi
    rm -rf "$OUT/${name}_within"
    $COSTTUNE train --data "$OUT/ds_within" "${base[@]}" --out "$OUT/${name}_within" --seed 0 "$@"
    $COSTTUNE eval --model "$OUT/${name}_within" --data "$OUT/ds_within" --eps 0.02 --device "${EVAL_DEVICE:-cpu}" \
        --json "$OUT/eval_${name}_within.json"
    $COSTTUNE eval --model "$DEFAULT_MODEL" --data "$OUT/ds_within" --eps 0.02 --device "${EVAL_DEVICE:-cpu}" \
        --json "$OUT/eval_default_within.json"
    ;;
*)
    echo "usage: $0 prepare|train|search|prepare-within|train-within ..." >&2; exit 2 ;;
esac
