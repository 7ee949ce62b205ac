#!/bin/bash
# The device checks of issues 4, 5 and 15 in one run on a GPU machine, from the repository root:
#   1. build dpo and the benchmarks against the machine's PyTorch LibTorch (tools/gpu/build.sh,
#      with .debs/ carried), or, in bundle mode, take them from a device bundle made elsewhere
#      (tools/gpu/bundle.sh): no build, no Debian packages
#   2. a tokenizer, models (Llama, Qwen2 with tied embeddings, Llama 3 RoPE scaling), the
#      bundled data prepared
#   3. `dpo score` on CUDA in fp32 and bf16 (and CPU), each against transformers (parity.py)
#   4. forward throughput and peak memory (bench_forward), ~1B preset included
#   5. training throughput, peak memory and MFU of the ~1B preset in bf16 (bench_train)
#   6. SFT then DPO on CUDA with the demo's configs: held-out accuracy before and after; then
#      `dpo plan`'s estimate against the measured peak, full and LoRA (6b)
#   7. the tests: the whole suite built against this LibTorch (skipped when the budget is
#      short); in bundle mode the CUDA-labelled ones (the bundle's gpu_tests)
#
#   tools/gpu/check.sh [BUDGET_SECONDS]                 default 540; a stage that would not fit
#                                                       is skipped
#   tools/gpu/check.sh --bundle DIR|FILE.tar.xz [BUDGET_SECONDS]   bundle mode, default 420:
#                                                       fits one `run` call of 8 minutes
#
# Everything goes to $OUT (else /tmp/dpo-gpu): summary.txt, the logs, parity-*.json; in bundle
# mode everything but summary.txt is packed into details.tar.gz (`run` brings back 8 files).
# DPO_CHECK_DEVICE=cpu DPO_BIG_PRESET=small DPO_PARITY_BACKEND=numpy DPO_PYTHON=/usr/bin/python3
# try it on a CPU machine
# (tools/gpu/README.md); DPO_SKIP_TEST_SUITE=1 leaves out stage 7, DPO_CHECK_STAGES="6 7" runs
# only those of stages 3 to 7. In bundle mode
# DPO_BUNDLE_AUDIT=1 runs every bundled program under LD_DEBUG and fails the run when one loaded
# a library from outside the bundle, the torch wheel and the base system (bundle_audit.py).
set -uo pipefail
BUNDLE=${DPO_CHECK_BUNDLE:-}
if [ "${1:-}" = "--bundle" ]; then
  [ $# -ge 2 ] || { echo "usage: $0 --bundle DIR|FILE.tar.xz [BUDGET_SECONDS]" >&2; exit 2; }
  BUNDLE=$2
  shift 2
fi
[ -z "$BUNDLE" ] || BUNDLE=$(realpath "$BUNDLE") || exit 2
cd "$(dirname "$0")/../.." || exit 2
OUTDIR=${OUT:-/tmp/dpo-gpu}
mkdir -p "$OUTDIR"
export LOG_DIR=$OUTDIR
if [ -n "$BUNDLE" ]; then BUDGET=${1:-420}; else BUDGET=${1:-540}; fi
DEVICE=${DPO_CHECK_DEVICE:-cuda}
BIG=${DPO_BIG_PRESET:-tinyllama-1b}
BACKEND=${DPO_PARITY_BACKEND:-transformers}
PEAK_TFLOPS=${DPO_PEAK_TFLOPS:-989}   # H100/H200 SXM dense bf16, NVIDIA's datasheet
T0=$(date +%s)
elapsed() { echo $(( $(date +%s) - T0 )); }
left() { echo $(( BUDGET - $(elapsed) )); }
cap() { local l; l=$(left); echo $(( l > 10 ? l : 10 )); }  # a stage's timeout: what is left
exec > >(tee -a "$OUTDIR/summary.txt") 2>&1
stage() { echo; echo "=== [$(elapsed) s] $*"; }
# DPO_CHECK_STAGES="6 7": run only these of stages 3 to 7 (1 and 2 set up what they use), e.g.
# to finish a run whose budget ran out, while the machine is warm.
STAGES=" ${DPO_CHECK_STAGES:-3 4 5 6 7} "
want() { case $STAGES in *" $1 "*) return 0 ;; esac; echo "skipped: not in DPO_CHECK_STAGES"; return 1; }

W=/tmp/dpo-gpu-work
rm -rf "$W"; mkdir -p "$W"
PY="env -u LD_LIBRARY_PATH ${DPO_PYTHON:-python3}"
if [ -z "$BUNDLE" ]; then
  stage "1. build dpo and the benchmarks against this machine's LibTorch"
  tools/gpu/build.sh dpo bench_forward bench_train || exit 1
  source tools/gpu/env.sh
  BIN=build-gpu
  BENCH=build-gpu/tools
  TRACE=
else
  stage "1. the device bundle $BUNDLE (no build)"
  if [ -f "$BUNDLE" ]; then  # the archive `run` carried: unpacked here, outside the checkout
    rm -rf /tmp/dpo-bundle && mkdir -p /tmp/dpo-bundle
    tar -xJf "$BUNDLE" -C /tmp/dpo-bundle || { echo "cannot unpack $BUNDLE"; exit 1; }
    BUNDLE=/tmp/dpo-bundle
  fi
  source "$BUNDLE/env.sh" || exit 1
  {
    grep -E '^(PRETTY_NAME)=' /etc/os-release
    echo "cores: $(nproc); $(ldd --version | head -1)"
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null
    $PY -c 'import torch, transformers; print("torch", torch.__version__, "cuda", torch.version.cuda,
"transformers", transformers.__version__)' 2>&1 | tail -1
    sed -n '1,4p' "$BUNDLE/BUNDLE.txt"
    grep '^size:' "$BUNDLE/BUNDLE.txt"
  } 2>&1 | tee "$OUTDIR/env.txt"
  # parity.py's h5py from the bundle only where the machine's Python has none: a PYTHONPATH
  # entry comes before site-packages, and the bundle's build fits one Python version only.
  if ! $PY -c 'import h5py' 2>/dev/null; then
    PY="env -u LD_LIBRARY_PATH PYTHONPATH=${PYTHONPATH:+$PYTHONPATH:}$BUNDLE/python ${DPO_PYTHON:-python3}"
  fi
  BIN=$BUNDLE/bin
  BENCH=$BUNDLE/bin
  TRACE=
  if [ -n "${DPO_BUNDLE_AUDIT:-}" ]; then  # every bundled program's loads, logged per process
    mkdir -p "$W/ld"
    TRACE="env LD_DEBUG=libs,files LD_DEBUG_OUTPUT=$W/ld/ld"
  fi
  $TRACE "$BIN/dpo" --version --verbose || exit 1
fi
DPO="$TRACE $BIN/dpo --log-level warn"

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
  want 3 || break
  if [ "$(left)" -lt 240 ]; then echo "skipped $model: $(left) s left"; continue; fi
  parity "$model" "$DEVICE" fp32 1e-4
  [ "$DEVICE" = cpu ] || parity "$model" cpu fp32 1e-4
  [ "$BACKEND" = numpy ] || parity "$model" "$DEVICE" bf16 0.1
done

stage "4. forward throughput and peak memory (bench_forward, batch 8 x 512)"
if ! want 4; then :
elif [ "$(left)" -gt 200 ]; then
  timeout -k 20 "$(cap)" $TRACE "$BENCH/bench_forward" --presets "tiny,small,$BIG" --device "$DEVICE" --dtype bf16 \
    --batch 8 --seq 512 --iters 5
  timeout -k 20 "$(cap)" $TRACE "$BENCH/bench_forward" --presets "$BIG" --device "$DEVICE" --dtype fp32 \
    --batch 8 --seq 512 --iters 3
else echo "skipped: $(left) s left"; fi

stage "5. training throughput, peak memory and MFU ($BIG, bf16 with fp32 master weights, then pure bf16)"
for dtype in bf16 bf16_pure; do
  if ! want 5; then break
  elif [ "$dtype" = bf16_pure ] && [ "$DEVICE" = cpu ]; then
    echo "skipped bf16_pure: dpo refuses pure bf16 on the CPU (train.dtype bf16_pure needs CUDA)"
  elif [ "$(left)" -gt 150 ]; then
    timeout -k 20 "$(cap)" $TRACE "$BENCH/bench_train" --preset "$BIG" --device "$DEVICE" --dtype "$dtype" --steps 20 --warmup-steps 3 \
      --pairs-per-step 32 --peak-tflops "$PEAK_TFLOPS" 2>&1 | grep -v "^step \|^\[" 
  else echo "skipped $dtype: $(left) s left"; fi
done

stage "6. SFT then DPO on $DEVICE (configs/demo_sft.json, configs/demo_dpo.json)"
if ! want 6; then :
elif [ "$(left)" -gt 120 ]; then
  ON=(--set "train.device=$DEVICE" --set "data.prepared=$W/pairs.h5")
  $DPO train --config configs/demo_sft.json "${ON[@]}" --set "model.path=$W/tiny" --set "train.out_dir=$W/sft" \
    | grep -iE "accuracy|held-out|error" | tail -3
  $DPO train --config configs/demo_dpo.json "${ON[@]}" --set "model.path=$W/sft/final" --set "train.out_dir=$W/dpo" \
    | grep -iE "accuracy|held-out|alarm|error" | tail -4
  cp "$W/dpo/metrics.jsonl" "$OUTDIR/dpo-metrics.jsonl" 2>/dev/null
else echo "skipped: $(left) s left"; fi

stage "6b. dpo plan against the measured peak on $DEVICE (small preset, 4 pairs per step, 3 steps)"
# The estimate of `dpo plan` and the peak `dpo train` measures (metrics.jsonl: peak_memory_mib, on
# CUDA the allocator's peak; tensor_peak_mib) for full and LoRA training, with and without
# gradient checkpointing: the CUDA side of tests/plan/plan_cli_test.cpp (docs/memory.md).
plan_case() {  # name, then --set flags
  local name=$1 estimate
  shift
  cp "$W/pairs.h5" "$W/plan-$name.h5"  # the run caches the reference log-probs in its copy
  local sets=(--config "$W/plan-check.json" --set "model.path=$W/small"
    --set "data.prepared=$W/plan-$name.h5" "$@")
  estimate=$($DPO plan "${sets[@]}" --json 2>>"$OUTDIR/plan-$name.log" |
    $PY -c 'import json, sys; print(json.load(sys.stdin)["plan"]["peak_mib"])') ||
    { echo "$name: dpo plan failed ($OUTDIR/plan-$name.log)"; return; }
  timeout -k 20 "$(cap)" $DPO train "${sets[@]}" --set "train.out_dir=$W/plan-$name" \
    >> "$OUTDIR/plan-$name.log" 2>&1 || { echo "$name: dpo train failed ($OUTDIR/plan-$name.log)"; return; }
  $PY - "$name" "$estimate" "$W/plan-$name/metrics.jsonl" <<'EOF'
import json, sys
name, estimate, path = sys.argv[1], float(sys.argv[2]), sys.argv[3]
train = [j for j in map(json.loads, filter(str.strip, open(path))) if j.get("split") == "train"]
peak = max(j["peak_memory_mib"] for j in train)
tensors = max(j.get("tensor_peak_mib", 0.0) for j in train)
print(f"{name:36s} plan {estimate:8.1f} MiB, measured {peak:8.1f} MiB ({100 * (estimate - peak) / peak:+.1f}%), "
      f"tensors {tensors:8.1f} MiB")
EOF
}
if ! want 6; then :
elif [ "$(left)" -gt 90 ]; then
  cat > "$W/plan-check.json" <<EOF
{"reference": {"mode": "precomputed"}, "loss": {"types": ["sigmoid"], "beta": 0.1},
 "optim": {"lr": 1e-3},
 "train": {"device": "$DEVICE", "dtype": "fp32", "micro_batch_pairs": 4, "max_steps": 3,
           "log_every_steps": 1, "save_every_steps": 0},
 "eval": {"every_steps": 0, "max_pairs": 1, "batch_pairs": 1}}
EOF
  plan_case full
  plan_case full_checkpointing --set train.gradient_checkpointing=true
  plan_case lora_r16 --set lora.enabled=true --set lora.rank=16
  plan_case lora_r16_all_linear_checkpointing --set lora.enabled=true --set lora.rank=16 \
    --set 'lora.target_modules=["all-linear"]' --set train.gradient_checkpointing=true
else echo "skipped: $(left) s left"; fi

if [ -z "$BUNDLE" ]; then
  stage "7. the whole test suite against this LibTorch"
  if [ -n "${DPO_SKIP_TEST_SUITE:-}" ]; then echo "skipped: DPO_SKIP_TEST_SUITE is set"
  elif ! want 7; then :
  elif [ "$(left)" -gt 240 ]; then
    tools/gpu/build.sh > /dev/null || { echo "build of the tests failed: $OUTDIR/build.log"; exit 1; }
    (cd build-gpu && ctest -j"$(nproc)" --timeout 300 2>&1 | tail -15)
  else echo "skipped: $(left) s left (run it again: the build is kept while the machine is warm)"; fi
else
  stage "7. the CUDA tests (label gpu: the bundle's gpu_tests)"
  if [ -n "${DPO_SKIP_TEST_SUITE:-}" ]; then echo "skipped: DPO_SKIP_TEST_SUITE is set"
  elif ! want 7; then :
  elif [ "$(left)" -gt 30 ]; then
    (cd "$W" && timeout -k 20 "$(cap)" $TRACE "$BIN/gpu_tests" --gtest_brief=1 \
      --gtest_output="xml:$OUTDIR/gpu_tests.xml" 2>&1 | tail -25)
  else echo "skipped: $(left) s left"; fi
  if [ -n "$TRACE" ]; then
    stage "the bundle's loads (DPO_BUNDLE_AUDIT): $(ls "$W/ld" | wc -l) processes"
    env -u LD_LIBRARY_PATH python3 tools/gpu/bundle_audit.py ld-debug --bundle "$BUNDLE" \
      --site "$(dirname "$(dirname "$DPO_TORCH_LIB")")" "$W"/ld/ld.* > "$OUTDIR/bundle-audit.txt"
    audit=$?
    grep -vE "^  (bundle|wheel|base) " "$OUTDIR/bundle-audit.txt"
    grep -cE "^  bundle " "$OUTDIR/bundle-audit.txt" | sed 's/^/libraries from the bundle: /'
    [ "$audit" -eq 0 ] || { echo "FAILED: a bundled program loaded a library from elsewhere"; exit 1; }
  fi
  # `run` brings back 8 files from $OUT: summary.txt and everything else in one archive.
  if [ -z "${DPO_CHECK_KEEP_FILES:-}" ]; then
    (cd "$OUTDIR" && find . -maxdepth 1 -type f ! -name summary.txt ! -name details.tar.gz -printf '%P\n' |
      tar -czf details.tar.gz -T - --remove-files)
  fi
fi
stage "done"
