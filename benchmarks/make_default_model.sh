#!/usr/bin/env bash
# Rebuild the shipped default cost model (costtune/data/default_model/) from a dataset
# the project makes itself (builtin suite, AArch64 instruction counts).
#
#   benchmarks/make_default_model.sh DATA_DIR [OUT_DIR]
#
# DATA_DIR holds ranking.jsonl + all_assembly.txt (`costtune dataset --db ... --out DATA_DIR`).
# Seeded end to end: the same data gives the same model.
set -euo pipefail
DATA=${1:?usage: $0 DATA_DIR [OUT_DIR]}
OUT=${2:-costtune/data/default_model}
WORK=${WORK:-$(mktemp -d)}
PY=${PY:-python}
$PY -c "from costtune.tokenizer import train_spm; train_spm('$DATA/all_assembly.txt', 1000, '$WORK/tok')"
$PY -m costtune pretrain --corpus "$DATA/all_assembly.txt" --tokenizer "$WORK/tok" --out "$WORK/llama" \
    --config tuner_configs/model_tiny.yaml --seed 0
rm -rf "$OUT"
$PY -m costtune train --data "$DATA" --base "$WORK/llama" --out "$OUT" --config tuner_configs/model_default.yaml --seed 0
$PY -m costtune eval --model "$OUT" --data "$DATA" --json "$WORK/eval.json"
du -sh "$OUT"
