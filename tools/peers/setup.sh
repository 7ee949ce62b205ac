#!/bin/sh
# Creates (or brings up to date) the Python environment of the peer harness: TRL's DPOTrainer
# with the transformers and torch of the oracle environment, at the versions pinned in
# tools/peers/requirements.txt. dpo itself never needs it; the ctest that runs the harness
# (tests/peers/) skips with the reason when it is absent. pip reuses its cache (~/.cache/pip) and
# the wheels of a PIP_FIND_LINKS folder, so a machine that already made .venv-oracle does not
# download torch again (the cache is left on: no --no-cache-dir).
# Usage: tools/peers/setup.sh [VENV]   (default: .venv-peers)   `make peers` runs this first.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
venv=${1:-.venv-peers}
python=${PYTHON:-python3}
if [ ! -x "$venv/bin/python3" ]; then
  echo "[peers] creating $venv with $($python --version)"
  "$python" -m venv "$venv"
fi
stamp="$venv/.requirements.sha256"
want=$(cat "$here/requirements.txt" "$here/../oracle/requirements.txt" "$here/../torch/requirements.txt" \
  | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "[peers] $venv is up to date"
  exit 0
fi
echo "[peers] installing tools/peers/requirements.txt into $venv (torch is large: a first run without pip's cache downloads ~3 GB)"
"$venv/bin/pip" install --disable-pip-version-check -q -r "$here/requirements.txt"
echo "$want" > "$stamp"
"$venv/bin/python3" -c 'import trl, transformers, torch, h5py, sentencepiece; print("[peers] trl", trl.__version__, "transformers", transformers.__version__, "torch", torch.__version__)'
