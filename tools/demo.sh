#!/bin/sh
# The bundled demo (`make demo`): the whole pipeline on the bundled example data, on CPU.
#   1. validate the export (and a file with planted defects)
#   2. train a small sentencepiece tokenizer on the data, init a tiny model with the ChatML template
#   3. prepare: render, tokenize, split, cache (HDF5); inspect a pair
#   4. a short SFT stage on the chosen replies, then DPO from that checkpoint (its own reference)
#   5. an HTML report of the DPO run
# Usage: tools/demo.sh [BUILD_DIR]   (everything is written under demo-out/)
# DEMO_DEVICE=cuda trains (step 4) on the GPU, in DEMO_DTYPE (default bf16: bf16 weights and
# activations, fp32 master weights); `make torch-demo` does that with the LibTorch 2.x build.
set -eu
BUILD=${1:-build}
DEVICE=${DEMO_DEVICE:-cpu}
TRAIN_SET=""
if [ "$DEVICE" != cpu ]; then
  TRAIN_SET="--set train.device=$DEVICE --set train.dtype=${DEMO_DTYPE:-bf16}"
fi
DPO="$BUILD/dpo"
DATA=examples/support
OUT=demo-out
rm -rf "$OUT"
mkdir -p "$OUT"
start=$(date +%s)

step() { printf '\n=== %s\n$ %s\n' "$1" "$2"; }

step "1a. validate the bundled export (1,380 customer-support judgments): expect PASS" \
  "dpo validate $DATA/pairs.jsonl --report $OUT/validate.json"
"$DPO" validate "$DATA/pairs.jsonl" --report "$OUT/validate.json"

step "1b. validate a file with planted defects: expect FAIL (exit 1) naming each line" \
  "dpo validate $DATA/broken.jsonl --max-examples 2"
set +e
"$DPO" validate "$DATA/broken.jsonl" --max-examples 2
status=$?
set -e
if [ "$status" -ne 1 ]; then
  echo "demo: expected exit code 1 from validate on broken.jsonl, got $status" >&2
  exit 1
fi
echo "(exit code $status, as expected)"

step "2a. train a tokenizer on the data, keeping the ChatML markers whole" \
  "dpo train-tokenizer $DATA/pairs.jsonl --out $OUT/tokenizer --vocab-size 2000 --user-symbol '<|im_start|>' --user-symbol '<|im_end|>'"
"$DPO" --log-level warn train-tokenizer "$DATA/pairs.jsonl" --out "$OUT/tokenizer" --vocab-size 2000 \
  --user-symbol '<|im_start|>' --user-symbol '<|im_end|>' 

step "2b. a tiny randomly initialised Llama model with the ChatML template (a Hugging Face folder)" \
  "dpo init-model --preset tiny --tokenizer $OUT/tokenizer/tokenizer.model --template chatml ... --out $OUT/tiny-init"
"$DPO" init-model --preset tiny --tokenizer "$OUT/tokenizer/tokenizer.model" --template chatml \
  --special-token '<|im_start|>' --special-token '<|im_end|>' --eos-token '<|im_end|>' \
  --out "$OUT/tiny-init"

step "3a. prepare: render with the model's pinned template, tokenize, split, write HDF5" \
  "dpo prepare --data $DATA/pairs.jsonl --model $OUT/tiny-init --max-length 384 --val-fraction 0.1 --out $OUT/pairs.h5"
"$DPO" prepare --data "$DATA/pairs.jsonl" --model "$OUT/tiny-init" --max-length 384 \
  --val-fraction 0.1 --out "$OUT/pairs.h5" | tail -n 8

step "3b. inspect the prepared file and decode a pair back to text" \
  "dpo inspect $OUT/pairs.h5 --pair 0 --model $OUT/tiny-init"
"$DPO" inspect "$OUT/pairs.h5" --pair 0 --model "$OUT/tiny-init"

step "4a. SFT on the chosen replies (loss sft), from the random model" \
  "dpo train --config configs/demo_sft.json $TRAIN_SET"
# shellcheck disable=SC2086 # TRAIN_SET is a list of options
"$DPO" --log-level warn train --config configs/demo_sft.json $TRAIN_SET

step "4b. DPO from the SFT checkpoint, which is also the reference" \
  "dpo train --config configs/demo_dpo.json $TRAIN_SET"
# shellcheck disable=SC2086
"$DPO" --log-level warn train --config configs/demo_dpo.json $TRAIN_SET

step "5. a self-contained HTML report of the DPO run" "dpo report $OUT/dpo"
"$DPO" report "$OUT/dpo"

printf '\nDemo finished in %s s. Outputs in %s/: validate.json, pairs.h5, sft/, dpo/ (final/ is a Hugging Face folder, report.html)\n' \
  "$(( $(date +%s) - start ))" "$OUT"
