#!/bin/sh
# The bundled demo (`make demo`): runs dpo end to end on examples/support on this machine.
# Usage: tools/demo.sh [BUILD_DIR]   (outputs go to demo-out/)
set -eu
BUILD=${1:-build}
DPO="$BUILD/dpo"
DATA=examples/support
OUT=demo-out
mkdir -p "$OUT"

step() { printf '\n=== %s\n$ %s\n' "$1" "$2"; }

step "1. validate the bundled export (1,200 customer-support pairs): expect PASS" \
  "dpo validate $DATA/pairs.jsonl --report $OUT/validate.json"
"$DPO" validate "$DATA/pairs.jsonl" --report "$OUT/validate.json"

step "2. validate a file with planted defects: expect FAIL (exit 1) naming each line" \
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

printf '\nDemo finished: reports in %s/\n' "$OUT"
