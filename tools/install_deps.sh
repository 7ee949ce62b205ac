#!/bin/sh
# Installs the Debian 12 packages dpo needs to build, test and run its demo (libgloo-dev: the
# headers of c10d's Gloo process group, for data-parallel training on CPUs; python3-numpy and
# python3-h5py: the tests run tools/gpu/parity.py's numpy backend): only those that are
# missing, without a prompt. Called by `make demo` and `make test`; extra packages may be named as
# arguments (`make bench` adds `sentencepiece` for the spm_encode baseline).
set -eu

PACKAGES="cmake make g++ pkg-config git
libtorch-dev libopenblas0-pthread libgloo-dev
libsentencepiece-dev nlohmann-json3-dev libsimdjson-dev libhdf5-dev libcli11-dev libgtest-dev
libpcre2-dev libicu-dev libgoogle-perftools-dev
libxxhash-dev libssl-dev zlib1g-dev
python3 python3-numpy python3-h5py
$*"

missing=""
for package in $PACKAGES; do
  status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
  case "$status" in
    *"install ok installed"*) ;;
    *) missing="$missing $package" ;;
  esac
done

if [ -z "$missing" ]; then
  echo "[deps] all Debian packages present"
  exit 0
fi

echo "[deps] installing:$missing"
if [ "$(id -u)" -eq 0 ]; then
  SUDO=""
elif command -v sudo >/dev/null 2>&1; then
  SUDO="sudo"
else
  echo "[deps] error: not root and no sudo; install as root: apt-get install$missing" >&2
  exit 2
fi
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q
# shellcheck disable=SC2086
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
