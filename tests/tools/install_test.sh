#!/usr/bin/env bash
# Install: `cmake --install` into a temporary prefix, then run the installed dpo from there: the
# torch-free commands, the sentencepiece shim from lib/dpo/, and a LibTorch command through
# libexec/dpo/dpo-torch. The prefix lies outside the build tree, so the build's own shim is out
# of reach (tokenizer/sentencepiece_model.cpp); a copy of the prefix without its shim proves it.
#   install_test.sh BUILD_DIR SOURCE_DIR [CMAKE]
set -euo pipefail
build=$1
source_dir=$2
cmake=${3:-cmake}
work=$(mktemp -d "${TMPDIR:-/tmp}/dpo-install-test.XXXXXX")
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

prefix=$work/prefix
"$cmake" --install "$build" --prefix "$prefix" >"$work/install.log" ||
  { cat "$work/install.log"; fail "cmake --install"; }
for file in bin/dpo libexec/dpo/dpo-torch lib/dpo/libdpo_sentencepiece_shim.so; do
  [ -f "$prefix/$file" ] || fail "$file is not installed"
done
dpo=$prefix/bin/dpo
unset DPO_SENTENCEPIECE_SHIM

"$dpo" --version | tee "$work/version.txt"
grep -q '^dpo [0-9]' "$work/version.txt" || fail "dpo --version"
if ldd "$dpo" | grep -E 'libtorch|libc10'; then fail "the installed dpo links LibTorch"; fi

head -n 300 "$source_dir/examples/support/pairs.jsonl" >"$work/pairs.jsonl"
printf '{"prompt":"Say hi.","chosen":"Hi!","rejected":"No."}\n' >"$work/tiny.jsonl"
"$dpo" validate "$work/tiny.jsonl" | tee "$work/validate.txt"
grep -q PASS "$work/validate.txt" || fail "dpo validate"
"$dpo" template list | grep -q chatml || fail "dpo template list"

# The shim, found from bin/ in lib/dpo/.
"$dpo" train-tokenizer "$work/pairs.jsonl" --out "$work/tokenizer" --vocab-size 400 \
  --user-symbol '<|im_start|>' --user-symbol '<|im_end|>' >/dev/null
"$dpo" validate "$work/pairs.jsonl" --tokenizer "$work/tokenizer/tokenizer.model" \
  >"$work/validate-tok.txt"
grep -q 'lengths (tokens)' "$work/validate-tok.txt" || fail "dpo validate --tokenizer"

# A LibTorch command: dpo hands it to libexec/dpo/dpo-torch, which finds the shim too.
"$dpo" init-model --preset tiny --tokenizer "$work/tokenizer/tokenizer.model" --template chatml \
  --special-token '<|im_start|>' --special-token '<|im_end|>' --eos-token '<|im_end|>' \
  --seed 1 --out "$work/model" | tee "$work/init.txt"
grep -q 'parameters' "$work/init.txt" || fail "dpo init-model"
[ -f "$work/model/config.json" ] && [ -f "$work/model/model.safetensors" ] ||
  fail "init-model wrote no model"
"$dpo" prepare --data "$work/pairs.jsonl" --model "$work/model" --max-length 1024 --threads 1 \
  --out "$work/prepared.h5" >/dev/null
[ -f "$work/prepared.h5" ] || fail "dpo prepare"
set +e
"$dpo" eval --model "$work/model" --data "$work/missing.h5" >"$work/eval.txt" 2>&1
code=$?
set -e
[ "$code" = 2 ] || { cat "$work/eval.txt"; fail "dpo eval on a missing file exited $code, not 2"; }
grep -q '^dpo eval: error' "$work/eval.txt" || { cat "$work/eval.txt"; fail "dpo eval's message"; }

# Without its shim, the installed copy must not fall back on the build tree's.
cp -a "$prefix" "$work/noshim"
rm "$work/noshim/lib/dpo/libdpo_sentencepiece_shim.so"
set +e
"$work/noshim/bin/dpo" validate "$work/pairs.jsonl" --tokenizer "$work/tokenizer/tokenizer.model" \
  >"$work/noshim.txt" 2>&1
code=$?
set -e
[ "$code" = 2 ] || { cat "$work/noshim.txt"; fail "without its shim: exit $code"; }
grep -q 'cannot load libdpo_sentencepiece_shim.so' "$work/noshim.txt" ||
  { cat "$work/noshim.txt"; fail "no shim message"; }
if grep -q "$build" "$work/noshim.txt"; then
  cat "$work/noshim.txt"
  fail "the installed dpo looked in the build tree"
fi
echo "install test: ok"
