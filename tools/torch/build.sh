#!/bin/sh
# The second build: dpo against the LibTorch inside a PyTorch wheel (2.x, CUDA compiled in),
# configured with the wheel's own CMake config (TorchConfig.cmake, which finds the CUDA toolkit).
# `make torch-build` runs it; `make torch-test` runs the whole test suite from it.
#
#   tools/torch/build.sh [BUILD_DIR]          default: build-torch
#
# Environment:
#   TORCH_PYTHON  a Python whose torch to build against (your own PyTorch install, any 2.x);
#                 unset: the virtual environment TORCH_VENV (default .venv-torch) is created
#                 and given the torch pinned in tools/torch/requirements.txt
#   JOBS          parallel compile jobs (default: nproc)
# A machine without the CUDA toolkit configures too (torch then says it found no CUDA and the
# build has no CUDA kernels of its own to compile: dpo has none; LibTorch's are in the wheel).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-build-torch}
jobs=${JOBS:-$(nproc)}

if [ -n "${TORCH_PYTHON:-}" ]; then
  python=$TORCH_PYTHON
else
  venv=${TORCH_VENV:-.venv-torch}
  if [ ! -x "$venv/bin/python3" ]; then
    echo "[torch] creating $venv with $(python3 --version)"
    python3 -m venv "$venv"
  fi
  stamp="$venv/.torch-requirements.sha256"
  want=$(sha256sum "$here/requirements.txt" | cut -d' ' -f1)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "[torch] installing tools/torch/requirements.txt into $venv (the first run downloads ~3 GB)"
    "$venv/bin/pip" install --disable-pip-version-check -q -r "$here/requirements.txt"
    echo "$want" > "$stamp"
  fi
  python=$venv/bin/python3
fi

torch_dir=$("$python" -c 'import os, torch; print(os.path.dirname(torch.__file__))')
torch_cmake=$("$python" -c 'import torch; print(torch.utils.cmake_prefix_path)')
echo "[torch] building $build against $("$python" -c 'import torch; print("torch", torch.__version__, "CUDA", torch.version.cuda)') ($torch_dir)"

# The torch folder itself comes first in CMAKE_PREFIX_PATH, so that TorchConfig's find_library
# calls find the wheel's libtorch.so and not a system LibTorch (Debian's libtorch-dev in /usr).
cuda_root=
[ -d /usr/local/cuda ] && cuda_root=-DCUDAToolkit_ROOT=/usr/local/cuda
launcher=
command -v ccache >/dev/null && launcher=-DCMAKE_CXX_COMPILER_LAUNCHER=ccache
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_PREFIX_PATH="$torch_dir;$torch_cmake" -DDPO_HEADER_CHECK=OFF $cuda_root $launcher
fi
cmake --build "$build" -j"$jobs"
"$build/dpo" --version --verbose
