#!/bin/bash
# Builds dpo on a GPU machine against its PyTorch's LibTorch (CUDA), into build-gpu/.
# Run from the repository root there, with .debs/ carried (tools/gpu/fetch_debs.sh fills it on a
# Debian 12 machine): the machine reaches no registry, so the Debian libraries dpo needs besides
# LibTorch are unpacked into a prefix (never into /).
#
#   tools/gpu/build.sh [TARGET...]        default: every target
#
# Prints what it found (OS, compiler, CUDA, torch); logs go to $LOG_DIR (default $OUT, else
# /tmp/dpo-gpu). `source tools/gpu/env.sh` afterwards gives the run-time environment.
set -uo pipefail
cd "$(dirname "$0")/../.."
LOG_DIR=${LOG_DIR:-${OUT:-/tmp/dpo-gpu}}
mkdir -p "$LOG_DIR"
source tools/gpu/env.sh

{
  echo "== machine"
  grep -E '^(PRETTY_NAME)=' /etc/os-release
  echo "cores: $(nproc); $(ldd --version | head -1)"
  g++ --version | head -1
  cmake --version | head -1
  ninja --version 2>/dev/null | sed 's/^/ninja /'
  nvcc --version 2>/dev/null | tail -1
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null
  env -u LD_LIBRARY_PATH python3 -c 'import torch, transformers; print("torch", torch.__version__, "cuda", torch.version.cuda,
"cxx11 abi", int(torch._C._GLIBCXX_USE_CXX11_ABI), "transformers", transformers.__version__)'
} 2>&1 | tee "$LOG_DIR/env.txt"

# 1. The Debian packages, into the prefix.
if [ ! -e "$DPO_PREFIX/.unpacked" ]; then
  ls .debs/*.deb >/dev/null 2>&1 || { echo "no .debs/*.deb: run tools/gpu/fetch_debs.sh here and carry .debs" >&2; exit 2; }
  mkdir -p "$DPO_PREFIX"
  for deb in .debs/*.deb; do dpkg-deb -x "$deb" "$DPO_PREFIX" || exit 1; done
  # -dev symlinks whose library the packages did not bring (libssl, zlib) point at the
  # machine's own copy of the same soname.
  for link in "$DPO_LIBDIR"/*.so; do
    [ -L "$link" ] && [ ! -e "$link" ] || continue
    soname=$(readlink "$link" | xargs basename | sed -E 's/(\.so\.[0-9]+).*/\1/')
    for dir in /usr/lib/x86_64-linux-gnu /lib/x86_64-linux-gnu /usr/lib64 /usr/lib; do
      if [ -e "$dir/$soname" ]; then ln -sf "$dir/$soname" "$link"; break; fi
    done
    [ -e "$link" ] || echo "warning: $link: the machine has no $soname"
  done
  touch "$DPO_PREFIX/.unpacked"
fi

# 2. Configure: with the wheel's CMake config first; without it when that fails (it wants the
# whole CUDA toolkit, cuDNN and NVTX found).
# (DPO_TORCH_DIR, DPO_TORCH_CMAKE, DPO_TORCH_ABI and DPO_SKIP_TORCHCONFIG=1 let the script be
# tried on a machine without torch for python: Debian's LibTorch, tools/gpu/README.md.)
py() { env -u LD_LIBRARY_PATH python3 -c "import os, torch; print($1)"; }
TORCH_DIR=${DPO_TORCH_DIR:-$(py 'os.path.dirname(torch.__file__)')}
TORCH_CMAKE=${DPO_TORCH_CMAKE:-$(py 'torch.utils.cmake_prefix_path')}
TORCH_ABI=${DPO_TORCH_ABI:-$(py 'int(torch._C._GLIBCXX_USE_CXX11_ABI)')}
GENERATOR=()
command -v ninja >/dev/null && GENERATOR=(-G Ninja)
# HDF5 is found through CMAKE_PREFIX_PATH (include/hdf5/serial, lib/<arch>/hdf5/serial), as
# FindHDF5 does when no h5cc wrapper is on the PATH.
COMMON=("${GENERATOR[@]}" -DCMAKE_BUILD_TYPE=Release)
if [ ! -e build-gpu/CMakeCache.txt ]; then
  if [ -n "${DPO_SKIP_TORCHCONFIG:-}" ] ||
     ! cmake -S . -B build-gpu "${COMMON[@]}" -DCMAKE_PREFIX_PATH="$TORCH_CMAKE;$DPO_PREFIX/usr" \
      > "$LOG_DIR/configure-torchconfig.log" 2>&1; then
    echo "== configure with the wheel's TorchConfig failed (end of $LOG_DIR/configure-torchconfig.log):"
    tail -15 "$LOG_DIR/configure-torchconfig.log"
    echo "== configuring with -DDPO_TORCH_PACKAGE=$TORCH_DIR instead"
    rm -rf build-gpu
    cmake -S . -B build-gpu "${COMMON[@]}" -DCMAKE_PREFIX_PATH="$DPO_PREFIX/usr" \
      -DDPO_TORCH_PACKAGE="$TORCH_DIR" -DDPO_TORCH_CXX11_ABI="$TORCH_ABI" > "$LOG_DIR/configure.log" 2>&1 || {
      tail -30 "$LOG_DIR/configure.log"; exit 1; }
  else
    cp "$LOG_DIR/configure-torchconfig.log" "$LOG_DIR/configure.log"
  fi
fi
grep -E "dpo: LibTorch|LibTorch .* from" "$LOG_DIR/configure.log"

# 3. Build.
TARGETS=()
for target in "$@"; do TARGETS+=(--target "$target"); done
start=$(date +%s)
if ! cmake --build build-gpu -j"$(nproc)" "${TARGETS[@]}" > "$LOG_DIR/build.log" 2>&1; then
  grep -E "error|Error" "$LOG_DIR/build.log" | head -40
  exit 1
fi
echo "== built ${*:-everything} in $(( $(date +%s) - start )) s"
# dpo-torch is the executable that links LibTorch (dpo execs it for train, eval, score, ...).
missing=$(ldd build-gpu/dpo-torch | grep "not found")
[ -z "$missing" ] || { echo "build-gpu/dpo-torch lacks libraries:"; echo "$missing"; exit 1; }
build-gpu/dpo --version --verbose
