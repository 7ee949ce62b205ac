#!/bin/sh
# Creates (or brings up to date) the Python environment of the oracles dpo is checked against:
# tokenizers, transformers and torch at the versions pinned in tools/oracle/requirements.txt.
# dpo itself never needs it; tests that compare with an oracle run when it is present and say
# why they skip otherwise. Usage: tools/oracle/setup.sh [VENV]   (default: .venv-oracle)
# The ctest suite finds it through the CMake cache variable DPO_ORACLE_PYTHON (default
# <source>/.venv-oracle/bin/python3). `make oracle` runs this script.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
venv=${1:-.venv-oracle}
python=${PYTHON:-python3}
if [ ! -x "$venv/bin/python3" ]; then
  echo "[oracle] creating $venv with $($python --version)"
  "$python" -m venv "$venv"
fi
stamp="$venv/.requirements.sha256"
# The torch pin lives in tools/torch/requirements.txt, which requirements.txt includes.
want=$(cat "$here/requirements.txt" "$here/../torch/requirements.txt" | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "[oracle] $venv is up to date"
  exit 0
fi
echo "[oracle] installing tools/oracle/requirements.txt into $venv (torch is large: the first run downloads ~3 GB)"
"$venv/bin/pip" install --disable-pip-version-check -q -r "$here/requirements.txt"
echo "$want" > "$stamp"
"$venv/bin/python3" -c 'import tokenizers, transformers, torch; print("[oracle] tokenizers", tokenizers.__version__, "transformers", transformers.__version__, "torch", torch.__version__)'
