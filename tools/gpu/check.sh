#!/bin/bash
# The device checks of issues 4 and 5 in one run on a GPU machine, from the repository root,
# with .debs/ carried (tools/gpu/README.md):
#   1. build dpo and the benchmarks against the machine's PyTorch LibTorch (tools/gpu/build.sh)
#   2. a tokenizer, models (Llama, Qwen2 with tied embeddings, Llama 3 RoPE scaling), the
#      bundled data prepared
#   3. `dpo score` on CUDA in fp32 and bf16 (and CPU), each against transformers (parity.py)
#   4. forward throughput and peak memory (bench_forward), ~1B preset included
#   5. training throughput, peak memory and MFU of the ~1B preset in bf16 (bench_train)
#   6. SFT then DPO on CUDA with the demo's configs: held-out accuracy before and after
#   7. the whole test suite built against this LibTorch (skipped when the budget is short)
#
#   tools/gpu/check.sh [BUDGET_SECONDS]      default 540; a stage that would not fit is skipped
#
# Everything goes to $OUT (else /tmp/dpo-gpu): summary.txt, the logs, parity-*.json.
# DPO_CHECK_DEVICE=cpu DPO_BIG_PRESET=small DPO_PARITY_BACKEND=numpy DPO_PYTHON=/usr/bin/python3
# try it on a CPU machine
# (tools/gpu/README.md); DPO_SKIP_TEST_SUITE=1 leaves out stage 7.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUTDIR=${OUT:-/tmp/dpo-gpu}
mkdir -p "$OUTDIR"
export LOG_DIR=$OUTDIR
BUDGET=${1:-540}
DEVICE=${DPO_CHECK_DEVICE:-cuda}
BIG=${DPO_BIG_PRESET:-tinyllama-1b}
BACKEND=${DPO_PARITY_BACKEND:-transformers}
PEAK_TFLOPS=${DPO_PEAK_TFLOPS:-989}   # H100/H200 SXM dense bf16, NVIDIA's datasheet
T0=$(date +%s)
elapsed() { echo $(( $(date +%s) - T0 )); }
left() { echo $(( BUDGET - $(elapsed) )); }
exec > >(tee -a "$OUTDIR/summary.txt") 2>&1
stage() { echo; echo "=== [$(elapsed) s] $*"; }

stage "1. build dpo and the benchmarks against this machine's LibTorch"
tools/gpu/build.sh dpo bench_forward bench_train || exit 1
source tools/gpu/env.sh
DPO="build-gpu/dpo --log-level warn"
PY="env -u LD_LIBRARY_PATH ${DPO_PYTHON:-python3}"
W=/tmp/dpo-gpu-work
rm -rf "$W"; mkdir -p "$W"

stage "2. tokenizer, models, prepared data"
CHATML=(--special-token '<|im_start|>' --special-token '<|im_end|>' --eos-token '<|im_end|>')
$DPO train-tokenizer examples/support/pairs.jsonl --out "$W/tok" --vocab-size 2000 \
  --user-symbol '<|im_start|>' --user-symbol '<|im_end|>' > "$OUTDIR/setup.log" 2>&1 || exit 1
for preset in tiny small; do
  $DPO init-model --preset "$preset" --tokenizer "$W/tok/tokenizer.model" --template chatml "${CHATML[@]}" \
    --out "$W/$preset" >> "$OUTDIR/setup.log" 2>&1 || exit 1
done
# The small shape as Qwen2 (q/k/v bias, tied embeddings) and with Llama 3 RoPE scaling.
$PY - "$W" <<'EOF' || exit 1
import json, sys
w = sys.argv[1]
base = json.load(open(f"{w}/small/config.json"))
qwen = dict(base, architectures=["Qwen2ForCausalLM"], model_type="qwen2", tie_word_embeddings=True,
            rope_theta=1000000.0, use_sliding_window=False)
llama3 = dict(base, rope_theta=500000.0, rope_scaling={"rope_type": "llama3", "factor": 8.0,
              "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 64})
json.dump(qwen, open(f"{w}/qwen2.json", "w"), indent=2)
json.dump(llama3, open(f"{w}/llama3.json", "w"), indent=2)
EOF
for variant in qwen2 llama3; do
  $DPO init-model --config "$W/$variant.json" --tokenizer "$W/tok/tokenizer.model" --template chatml "${CHATML[@]}" \
    --out "$W/$variant" >> "$OUTDIR/setup.log" 2>&1 || exit 1
done
# Fresh models have zero biases and unit norm weights: give them values, so parity covers them.
for model in small qwen2 llama3; do $PY tools/gpu/parity.py perturb "$W/$model" >> "$OUTDIR/setup.log" || exit 1; done
$DPO prepare --data examples/support/pairs.jsonl --model "$W/small" --max-length 512 --val-fraction 0.1 \
  --out "$W/pairs.h5" >> "$OUTDIR/setup.log" 2>&1 || exit 1
tail -3 "$OUTDIR/setup.log"

stage "3. dpo score of the held-out pairs ($DEVICE fp32 and bf16, cpu fp32) against $BACKEND"
parity() {  # model device dtype tolerance
  local model=$1 device=$2 dtype=$3 tolerance=$4 scores="$OUTDIR/score-$1-$2-$3.jsonl"
  $DPO score --model "$W/$model" --data "$W/pairs.h5" --split val --device "$device" --dtype "$dtype" \
    --out "$scores" --batch-pairs 16 2>&1 | tail -1
  [ -s "$scores" ] || { echo "FAILED: dpo score $model $device $dtype"; return; }
  $PY tools/gpu/parity.py --backend "$BACKEND" --model "$W/$model" --data "$W/pairs.h5" --scores "$scores" \
    --device "$device" --dtype "$dtype" --tolerance "$tolerance" \
    --json "$OUTDIR/parity-$model-$device-$dtype.json" > /dev/null
  echo "parity $model $device $dtype (exit $?): $($PY -c "import json,sys; f=json.load(open(sys.argv[1]));
print('pairs', f['pairs'], 'max |diff| per token %.3g' % f['max_abs_diff_per_token'], 'per sum %.3g' % f['max_abs_diff_sum'],
'mean per token %.3g' % f['mean_abs_diff_per_token'])" "$OUTDIR/parity-$model-$device-$dtype.json" 2>&1)"
}
for model in small qwen2 llama3; do
  parity "$model" "$DEVICE" fp32 1e-4
  [ "$DEVICE" = cpu ] || parity "$model" cpu fp32 1e-4
  [ "$BACKEND" = numpy ] || parity "$model" "$DEVICE" bf16 0.1
done

stage "4. forward throughput and peak memory (bench_forward, batch 8 x 512)"
if [ "$(left)" -gt 200 ]; then
  build-gpu/tools/bench_forward --presets "tiny,small,$BIG" --device "$DEVICE" --dtype bf16 --batch 8 --seq 512 --iters 5
  build-gpu/tools/bench_forward --presets "$BIG" --device "$DEVICE" --dtype fp32 --batch 8 --seq 512 --iters 3
else echo "skipped: $(left) s left"; fi

stage "5. training throughput, peak memory and MFU ($BIG, bf16 with fp32 master weights, then pure bf16)"
for dtype in bf16 bf16_pure; do
  if [ "$(left)" -gt 150 ]; then
    build-gpu/tools/bench_train --preset "$BIG" --device "$DEVICE" --dtype "$dtype" --steps 20 --warmup-steps 3 \
      --pairs-per-step 32 --peak-tflops "$PEAK_TFLOPS" 2>&1 | grep -v "^step \|^\[" 
  else echo "skipped $dtype: $(left) s left"; fi
done

stage "6. SFT then DPO on $DEVICE (configs/demo_sft.json, configs/demo_dpo.json)"
if [ "$(left)" -gt 120 ]; then
  ON=(--set "train.device=$DEVICE" --set "data.prepared=$W/pairs.h5")
  $DPO train --config configs/demo_sft.json "${ON[@]}" --set "model.path=$W/tiny" --set "train.out_dir=$W/sft" \
    | grep -iE "accuracy|held-out|error" | tail -3
  $DPO train --config configs/demo_dpo.json "${ON[@]}" --set "model.path=$W/sft/final" --set "train.out_dir=$W/dpo" \
    | grep -iE "accuracy|held-out|alarm|error" | tail -4
  cp "$W/dpo/metrics.jsonl" "$OUTDIR/dpo-metrics.jsonl" 2>/dev/null
else echo "skipped: $(left) s left"; fi

stage "7. the whole test suite against this LibTorch"
if [ -n "${DPO_SKIP_TEST_SUITE:-}" ]; then echo "skipped: DPO_SKIP_TEST_SUITE is set"
elif [ "$(left)" -gt 240 ]; then
  tools/gpu/build.sh > /dev/null || { echo "build of the tests failed: $OUTDIR/build.log"; exit 1; }
  (cd build-gpu && ctest -j"$(nproc)" --timeout 300 2>&1 | tail -15)
else echo "skipped: $(left) s left (run it again: the build is kept while the machine is warm)"; fi
stage "done"
