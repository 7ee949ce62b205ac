#!/usr/bin/env bash
# Builds the libFuzzer harnesses of tests/fuzz (clang, AddressSanitizer, UBSan) in their own
# build folder and runs each for a while on a seed corpus (docs/reliability.md).
#   tools/fuzz.sh [--seconds N | --runs N] [--jobs J] [TARGET...]
#     --seconds N  how long each target runs (default 600: the issue's 10 minutes)
#     --runs N     instead: N inputs per target from a fixed seed (CI's deterministic smoke run)
#     --jobs J     targets run at once (default 1)
#     TARGET       any of the targets below (default: all)
# The seeds for tokenizer and prepared files are made by the regular build's dpo (BUILD,
# default build/), so `make build` first. Findings (crash-*, timeout-*, oom-*) are written to
# fuzz-out/<target>/; the script exits 1 if there is any. The corpora grow in fuzz-out/corpus.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER_TARGET=600
RUNS=0
JOBS=1
TARGETS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) SECONDS_PER_TARGET=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --jobs) JOBS=$2; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) TARGETS+=("$1"); shift ;;
  esac
done
ALL=(jsonl_rows_fuzz config_fuzz tokenizer_files_fuzz tokenizer_json_fuzz jinja_template_fuzz
     safetensors_header_fuzz prepared_file_fuzz)
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=("${ALL[@]}")

BUILD=${BUILD:-build}
FUZZ_BUILD=${FUZZ_BUILD:-build-fuzz}
OUT=${FUZZ_OUT:-fuzz-out}
DPO="$BUILD/dpo"
[ -x "$DPO" ] || { echo "fuzz.sh: $DPO not found; run 'make build' first" >&2; exit 2; }
command -v clang++ >/dev/null || { echo "fuzz.sh: clang++ is needed (apt install clang)" >&2; exit 2; }

launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S . -B "$FUZZ_BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_C_COMPILER=clang -DDPO_FUZZ=ON -DDPO_BUILD_TESTS=OFF -DDPO_BUILD_BENCHMARKS=OFF \
  "${launcher[@]}" >/dev/null
cmake --build "$FUZZ_BUILD" -j"$(nproc)" --target fuzzers

# --- seed corpora: committed seeds plus files of the tree and a few made by dpo ---------------
SEEDS="$OUT/seeds"
rm -rf "$SEEDS"
mkdir -p "$SEEDS"/{jsonl_rows_fuzz,config_fuzz,tokenizer_files_fuzz,tokenizer_json_fuzz,jinja_template_fuzz,safetensors_header_fuzz,prepared_file_fuzz}
cp tests/fuzz/corpus/safetensors_header/* "$SEEDS/safetensors_header_fuzz/"
# Data: small slices of the bundled export in each layout dpo reads.
head -n 3 examples/support/pairs.jsonl >"$SEEDS/jsonl_rows_fuzz/pairs3.jsonl"
head -n 12 examples/support/broken.jsonl >"$SEEDS/jsonl_rows_fuzz/broken12.jsonl"
python3 - "$SEEDS/jsonl_rows_fuzz" <<'PY'
import json, sys, os
d = sys.argv[1]
rows = [json.loads(l) for l in open(os.path.join(d, "pairs3.jsonl"))]
open(os.path.join(d, "array.json"), "w").write(json.dumps(rows[:2]))
conv = {"prompt": [{"role": "system", "content": "s"}, {"role": "user", "content": "hi"}],
        "chosen": [{"role": "assistant", "content": "hello"}],
        "rejected": [{"role": "assistant", "content": [{"type": "text", "text": "go"}]}],
        "metadata": {"rubric": "r1"}, "split": "val"}
sharegpt = {"conversations": [{"from": "human", "value": "q"}],
            "chosen": {"from": "gpt", "value": "a"}, "rejected": {"from": "gpt", "value": "b"}}
openai = {"input": {"messages": [{"role": "user", "content": "q"}]},
          "preferred_output": [{"role": "assistant", "content": "a"}],
          "non_preferred_output": [{"role": "assistant", "content": "b"}]}
implicit = {"chosen": "\n\nHuman: q\n\nAssistant: a", "rejected": "\n\nHuman: q\n\nAssistant: b"}
for name, row in [("conv", conv), ("sharegpt", sharegpt), ("openai", openai), ("implicit", implicit)]:
    open(os.path.join(d, name + ".jsonl"), "w").write(json.dumps(row) + "\n")
PY
gzip -c "$SEEDS/jsonl_rows_fuzz/pairs3.jsonl" >"$SEEDS/jsonl_rows_fuzz/pairs3.jsonl.gz"
# Configs: an override line, then a config file.
for f in configs/*.json; do
  { echo "train.max_steps=3"; cat "$f"; } >"$SEEDS/config_fuzz/$(basename "$f")"
done
# tokenizer.json: the small fixtures of five styles (GPT-2, Llama 3, Qwen, Metaspace, Phi), each
# followed by a NUL and a text of the tokenizer corpus.
for d in tests/fixtures/hf_tokenizers/*/; do
  { cat "$d/tokenizer.json"; printf '\0<|im_start|>user\n  Hello 12345 \xe4\xbd\xa0\xe5\xa5\xbd\t\n'; } \
    >"$SEEDS/tokenizer_json_fuzz/$(basename "$d").json"
done
# Templates: the built-in ones and the test fixtures.
cp configs/templates/*.jinja tests/fixtures/templates/*.jinja "$SEEDS/jinja_template_fuzz/"
# Tokenizer files (first byte 0: tokenizer_config.json; 1: a sentencepiece model) and a prepared
# file with cached reference log-probs, all made by dpo on a slice of the bundled data.
WORK="$OUT/work"
rm -rf "$WORK"
mkdir -p "$WORK"
head -n 16 examples/support/pairs.jsonl >"$WORK/pairs.jsonl"
"$DPO" --log-level warn train-tokenizer "$WORK/pairs.jsonl" --out "$WORK/tok" --vocab-size 600 \
  --user-symbol '<|im_start|>' --user-symbol '<|im_end|>' >/dev/null
"$DPO" --log-level warn init-model --preset tiny --tokenizer "$WORK/tok/tokenizer.model" \
  --template chatml --special-token '<|im_start|>' --special-token '<|im_end|>' \
  --eos-token '<|im_end|>' --out "$WORK/model" >/dev/null
"$DPO" --log-level warn prepare --data "$WORK/pairs.jsonl" --model "$WORK/model" --max-length 512 \
  --val-fraction 0.25 --out "$WORK/pairs.h5" >/dev/null
cp "$WORK/pairs.h5" "$SEEDS/prepared_file_fuzz/prepared.h5"
"$DPO" --log-level warn score --model "$WORK/model" --data "$WORK/pairs.h5" --write-reference >/dev/null
cp "$WORK/pairs.h5" "$SEEDS/prepared_file_fuzz/with_reference.h5"
for f in "$WORK/model"/*.json; do
  { printf '\0'; cat "$f"; } >"$SEEDS/tokenizer_files_fuzz/$(basename "$f")"
done
{ printf '\1'; cat "$WORK/tok/tokenizer.model"; } >"$SEEDS/tokenizer_files_fuzz/tokenizer.model"

# --- the runs -------------------------------------------------------------------------------
run_target() {
  local target=$1
  local corpus="$OUT/corpus/$target" findings="$OUT/$target"
  mkdir -p "$corpus" "$findings"
  local budget=(-max_total_time="$SECONDS_PER_TARGET")
  [ "$RUNS" -eq 0 ] || budget=(-runs="$RUNS" -seed=1)
  # -rss_limit_mb: a harness that allocates 2 GB has found a missing size check.
  # allocator_may_return_null: libhdf5 asks malloc for absurd sizes read from a corrupt file and
  # handles the NULL; an operator new of such a size in dpo still ends as an uncaught bad_alloc.
  ASAN_OPTIONS=allocator_may_return_null=1 "$FUZZ_BUILD/tests/fuzz/$target" "${budget[@]}" -timeout=10 \
    -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 -artifact_prefix="$findings/" \
    "$corpus" "$SEEDS/$target" >"$findings/log.txt" 2>&1 || true
  local stats
  stats=$(grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb" "$findings/log.txt" |
          awk '{printf "%s ", $0}')
  local found
  found=$(find "$findings" -maxdepth 1 \( -name 'crash-*' -o -name 'timeout-*' -o -name 'oom-*' \
          -o -name 'leak-*' \) | wc -l)
  printf '%-26s findings %s  %s\n' "$target" "$found" "$stats"
}
export -f run_target
export OUT SEEDS FUZZ_BUILD SECONDS_PER_TARGET RUNS
printf '%s\n' "${TARGETS[@]}" | xargs -P "$JOBS" -I{} bash -c 'run_target {}' | tee "$OUT/summary.txt"
if grep -qv "findings 0 " "$OUT/summary.txt"; then
  echo "fuzz.sh: findings above; reproduce with $FUZZ_BUILD/tests/fuzz/<target> <file>" >&2
  exit 1
fi
