#!/bin/bash
# `dpo score` on prepared pairs against transformers (tools/gpu/parity.py --backend transformers,
# CPU, fp32), for tiny models of each architecture made with `dpo init-model` and perturbed, and
# for the final/ of a short `dpo train`: the figures of docs/parity.md, "Through the command
# line". Usage: tools/oracle/score_parity.sh [BUILD] [WORK]   (defaults: build, /tmp/dpo-score-parity)
# PY: a command running a Python with transformers, torch, numpy and h5py (default: .venv-oracle's; h5py is not in
# tools/oracle/requirements.txt: `pip install --target DIR h5py` and PYTHONPATH=DIR work).
# 4 to 10 minutes on 2 shared cores, the training step included.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${1:-build}
W=${2:-/tmp/dpo-score-parity}
PY=${PY:-.venv-oracle/bin/python3}
DPO="$BUILD/dpo --log-level warn"
rm -rf "$W"; mkdir -p "$W"
CHATML=(--special-token '<|im_start|>' --special-token '<|im_end|>' --eos-token '<|im_end|>')
$DPO train-tokenizer examples/support/pairs.jsonl --out "$W/tok" --vocab-size 2000 \
  --user-symbol '<|im_start|>' --user-symbol '<|im_end|>' > "$W/setup.log" 2>&1
for preset in tiny tiny-qwen3; do
  $DPO init-model --preset $preset --tokenizer "$W/tok/tokenizer.model" --template chatml "${CHATML[@]}" \
    --out "$W/$preset" >> "$W/setup.log" 2>&1
done
# Variants of the presets' configs: sliding windows of 48 tokens (the pairs run to 512) and Llama 3
# RoPE scaling.
python3 - "$W" <<'PYEOF'
import json, sys
w = sys.argv[1]
llama = json.load(open(f"{w}/tiny/config.json"))
qwen3 = json.load(open(f"{w}/tiny-qwen3/config.json"))
mistral = {k: v for k, v in llama.items() if k not in ("attention_bias", "mlp_bias")}
variants = {
    "qwen3-untied-sliding": dict(qwen3, tie_word_embeddings=False, use_sliding_window=True,
                                 sliding_window=48, max_window_layers=2),
    "mistral-sliding": dict(mistral, architectures=["MistralForCausalLM"], model_type="mistral",
                            sliding_window=48),
    "llama3-rope": dict(llama, rope_theta=500000.0, rope_scaling={
        "rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
        "original_max_position_embeddings": 64}),
}
for name, c in variants.items():
    json.dump(c, open(f"{w}/{name}.json", "w"), indent=2)
PYEOF
for v in qwen3-untied-sliding mistral-sliding llama3-rope; do
  $DPO init-model --config "$W/$v.json" --tokenizer "$W/tok/tokenizer.model" --template chatml "${CHATML[@]}" \
    --out "$W/$v" >> "$W/setup.log" 2>&1
done
MODELS="tiny tiny-qwen3 qwen3-untied-sliding mistral-sliding llama3-rope"
for m in $MODELS; do $PY tools/gpu/parity.py perturb "$W/$m" >> "$W/setup.log"; done
$DPO prepare --data examples/support/pairs.jsonl --model "$W/tiny-qwen3" --max-length 512 \
  --val-fraction 0.1 --out "$W/pairs.h5" >> "$W/setup.log" 2>&1
$DPO train --config configs/demo_dpo.json --set model.path="$W/qwen3-untied-sliding" \
  --set data.prepared="$W/pairs.h5" --set train.out_dir="$W/run" --set train.device=cpu \
  --set train.dtype=fp32 --set train.max_steps=4 --set optim.lr=1e-3 >> "$W/setup.log" 2>&1
failed=0
for m in $MODELS run/final; do
  $DPO score --model "$W/$m" --data "$W/pairs.h5" --split val --threads 2 --out "$W/score.jsonl" \
    >> "$W/setup.log" 2>&1
  $PY tools/gpu/parity.py --backend transformers --model "$W/$m" --data "$W/pairs.h5" \
    --scores "$W/score.jsonl" --device cpu --dtype fp32 --tolerance 1e-5 --json "$W/parity.json" \
    > /dev/null 2>&1 || failed=1
  python3 -c "import json, sys; f = json.load(open(sys.argv[1]))
print(f'{sys.argv[2]:22} pairs {f[\"pairs\"]} tokens {f[\"completion_tokens\"]}  max per token '
      f'{f[\"max_abs_diff_per_token\"]:.2g}  max of a sum {f[\"max_abs_diff_sum\"]:.2g}  mean per token '
      f'{f[\"mean_abs_diff_per_token\"]:.2g}  pass {f[\"pass\"]}')" "$W/parity.json" "$m"
done
exit $failed
