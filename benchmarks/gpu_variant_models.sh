#!/usr/bin/env bash
# Train function-variant models side by side on one GPU, one process each, from examples written
# by benchmarks/variant_examples.py; each picks its epoch on the examples' validation split.
#
#   benchmarks/gpu_variant_models.sh EXAMPLES.jsonl.gz NAME:BASE:SEED[:EXAMPLES2] ...
#   e.g. benchmarks/gpu_variant_models.sh .stage/vm/ex.jsonl.gz ref:reference:0 res:scaled:0 res:scaled:1
#
# The shipped model's settings (dim 128, 2 layers, 4 heads, 10 epochs, lr 6e-4, batch 64). Writes
# the models as $OUT/variant_models.tar.gz (NAME_sSEED/ each, with its train.json) and their logs.
set -euo pipefail
EX=${1:?usage: $0 EXAMPLES.jsonl.gz NAME:BASE:SEED[:EXAMPLES2] ...}
shift
PY=${PY:-python3}
RES=${OUT:-./gpu_variant_models_out}
mkdir -p "$RES/models"
$PY -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; print(torch.cuda.get_device_name(0))"
pids=()
for spec in "$@"; do
    IFS=: read -r name base seed extra <<<"$spec"
    out="$RES/models/${name}_s${seed}"
    $PY benchmarks/train_variant_model.py --examples "${extra:-$EX}" --out "$out" --device cuda --base "$base" \
        --seed "$seed" --epochs 10 --lr 6e-4 --batch 64 --dim 128 --layers 2 --heads 4 > "$RES/${name}_s${seed}.log" 2>&1 &
    pids+=($!)
done
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=1; done
for f in "$RES"/*.log; do echo "== $f"; tail -n 3 "$f"; done
tar -czf "$RES/variant_models.tar.gz" -C "$RES/models" .
rm -rf "$RES/models"
exit $rc
