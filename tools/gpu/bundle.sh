#!/bin/bash
# The device bundle (issue 15; tools/gpu/README.md, "Bundle mode"): what a GPU machine that
# reaches no registry needs to run dpo without building it. From a build against a torch wheel's
# LibTorch with CUDA (tools/torch/build.sh, `make torch-build`):
#   bin/   dpo, dpo-torch (dpo execs it), bench_forward, bench_train, gpu_tests (stripped)
#   lib/   the sentencepiece shim dpo dlopen()s, and every library these load that is neither
#          the torch wheel's nor the base system's (glibc, libstdc++, libgcc_s): HDF5 and what it
#          links (curl, ...), sentencepiece, ICU, PCRE2, simdjson, OpenSSL's libcrypto, zlib
#   python/  h5py (tools/gpu/bundle_python.txt) for the GPU machine's Python
#          (DPO_BUNDLE_PYTHON_VERSION, default 3.12): check.sh's parity.py reads HDF5 with it
#   env.sh the run-time environment: bundle's lib/ first, then the torch/lib of the machine's
#          PyTorch, found through DPO_PYTHON (default python3) without importing torch
#   run    `run PROGRAM ARGS...` runs bin/PROGRAM in that environment
#   BUNDLE.txt  where it came from (commit, torch version), each file with its origin and SHA-256
# The torch libraries are not in it: the GPU machine's PyTorch must be the version built
# against (env.sh refuses another). The folder and OUT.tar.xz (what `run` carries) are written;
# the archive must stay under 64 MiB.
#
#   tools/gpu/bundle.sh [BUILD_DIR [OUT]]   default: build-torch .bundle; builds the targets first
#   tools/gpu/bundle.sh --verify DIR        DIR (a folder or a .tar.xz) from another place: ldd of
#                                           every file, then a tiny pipeline on the CPU under
#                                           LD_DEBUG; fails when anything loads a library from
#                                           outside the bundle, the wheel and the base system
#
# Environment: DPO_PYTHON (a Python whose torch to run against, default python3), JOBS,
# DPO_BUNDLE_PYTHON_VERSION (the GPU machine's Python, for python/; default 3.12).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
MAX_BYTES=$((64 * 1024 * 1024))
PROGRAMS="dpo dpo-torch tools/bench_forward tools/bench_train tests/gpu_tests"

# ---- --verify ---------------------------------------------------------------------------------
if [ "${1:-}" = "--verify" ]; then
  [ $# -eq 2 ] || { echo "usage: $0 --verify DIR|FILE.tar.xz" >&2; exit 2; }
  bundle=$2
  if [ -f "$bundle" ]; then  # an archive: unpack it into a fresh folder of its own
    unpacked=$(mktemp -d /tmp/dpo-bundle-verify.XXXXXX)
    tar -xJf "$bundle" -C "$unpacked"
    bundle=$unpacked
  fi
  bundle=$(cd "$bundle" && pwd)
  unset LD_LIBRARY_PATH
  # shellcheck source=/dev/null
  source "$bundle/env.sh" || exit 1
  site=$(dirname "$(dirname "$DPO_TORCH_LIB")")
  audit() { env -u LD_LIBRARY_PATH python3 "$root/tools/gpu/bundle_audit.py" "$@" --bundle "$bundle" --site "$site"; }
  echo "== $bundle against torch in $site"
  echo "== 1. ldd of every program and library"
  audit ldd --library-path "$LD_LIBRARY_PATH" || exit 1
  echo "== 2. a tiny pipeline on the CPU, every process under LD_DEBUG=libs,files"
  work=$(mktemp -d /tmp/dpo-bundle-work.XXXXXX)
  logs=$work/ld
  mkdir -p "$logs"
  traced() { LD_DEBUG=libs,files LD_DEBUG_OUTPUT=$logs/ld "$@"; }
  data=$root/examples/support/pairs.jsonl
  (
    set -e
    cd "$work"
    traced dpo --version --verbose
    traced dpo --log-level warn train-tokenizer "$data" --out tok --vocab-size 600 \
      --user-symbol '<|im_start|>' --user-symbol '<|im_end|>'
    traced dpo --log-level warn init-model --preset tiny --tokenizer tok/tokenizer.model --template chatml \
      --special-token '<|im_start|>' --special-token '<|im_end|>' --eos-token '<|im_end|>' --out tiny
    traced dpo --log-level warn prepare --data "$data" --model tiny --max-length 256 --val-fraction 0.1 \
      --out pairs.h5 > /dev/null
    traced dpo --log-level warn score --model tiny --data pairs.h5 --split val --device cpu --out scores.jsonl
    traced gpu_tests --gtest_brief=1
    traced bench_forward --presets tiny --device cpu --batch 2 --seq 64 --iters 1 > /dev/null
  ) > "$work/pipeline.log" 2>&1 || { tail -20 "$work/pipeline.log"; echo "FAILED: the pipeline (log: $work/pipeline.log)"; exit 1; }
  grep -E '^LibTorch|^\[( +PASSED +| +SKIPPED +| +FAILED +|=+)\] [0-9]+ test' "$work/pipeline.log"
  [ -s "$work/scores.jsonl" ] || { echo "FAILED: dpo score wrote nothing"; exit 1; }
  audit ld-debug "$logs"/ld.* || exit 1
  rm -rf "$work"
  echo "== $bundle: verified"
  exit 0
fi

# ---- make -------------------------------------------------------------------------------------
build=${1:-build-torch}
out=${2:-.bundle}
case $out in /*) ;; *) out=$PWD/$out ;; esac
[ -f "$build/CMakeCache.txt" ] || {
  echo "$build is not a configured build: make torch-build (tools/torch/build.sh $build) first" >&2
  exit 2
}
torch_cmake=$(sed -n 's/^Torch_DIR:PATH=//p' "$build/CMakeCache.txt")
torch_root=$(cd "$torch_cmake/../../.." 2>/dev/null && pwd) || torch_root=
if [ -z "$torch_root" ] || [ ! -e "$torch_root/lib/libtorch_cpu.so" ]; then
  echo "$build is not built against a torch wheel (Torch_DIR=$torch_cmake): the bundle runs" \
    "on a PyTorch installation's LibTorch; build with tools/torch/build.sh" >&2
  exit 2
fi
site=$(realpath "$(dirname "$torch_root")")  # compared with realpath of each library
torch_version=$(sed -n "s/^__version__ = '\(.*\)'.*/\1/p" "$torch_root/version.py")
echo "[bundle] $build (torch $torch_version, $torch_root) -> $out"

targets=()
for p in $PROGRAMS; do targets+=(--target "$(basename "$p")"); done
cmake --build "$build" -j"${JOBS:-$(nproc)}" "${targets[@]}" --target dpo_sentencepiece_shim > /dev/null

rm -rf "$out" "$out.tar.xz"
mkdir -p "$out/bin" "$out/lib"
manifest=$out/BUNDLE.txt
{
  echo "dpo device bundle (tools/gpu/bundle.sh), made $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "commit: $(git -C "$root" rev-parse HEAD 2>/dev/null)$(git -C "$root" diff --quiet HEAD 2>/dev/null || echo ' (with local changes)')"
  echo "torch: $torch_version"
  echo "built on: $(. /etc/os-release && echo "$PRETTY_NAME"), $(ldd --version | head -1)"
  echo
  echo "file  origin  sha256"
} > "$manifest"
for p in $PROGRAMS; do
  cp "$build/$p" "$out/bin/"
  strip --strip-unneeded "$out/bin/$(basename "$p")"
done
cp "$build/libdpo_sentencepiece_shim.so" "$out/lib/"
strip --strip-unneeded "$out/lib/libdpo_sentencepiece_shim.so"

# Every library the programs and the shim load, as the loader resolves them with the wheel's
# torch/lib first (as env.sh will): the wheel's and the base system's stay out.
base='^(linux-vdso\.so\.1|ld-linux-x86-64\.so\.2|libc\.so\.6|libm\.so\.6|libdl\.so\.2|libpthread\.so\.0|librt\.so\.1|libresolv\.so\.2|libutil\.so\.1|libstdc\+\+\.so\.6|libgcc_s\.so\.1|libcuda\.so\.1)$'
deps=$(for f in "$out"/bin/* "$out/lib/libdpo_sentencepiece_shim.so"; do
  LD_LIBRARY_PATH=$torch_root/lib ldd "$f"
done | awk '$2 == "=>" { print $1, $3 }' | sort -u)
if echo "$deps" | grep -q " not$"; then
  echo "[bundle] unresolved libraries:" >&2
  echo "$deps" | grep " not$" >&2
  exit 1
fi
while read -r soname path; do
  [ -n "$soname" ] || continue
  echo "$soname" | grep -Eq "$base" && continue
  real=$(realpath "$path")
  case $real in "$site"/*) continue ;; esac  # torch/lib, nvidia/*/lib: the machine's PyTorch
  case $real in /usr/local/cuda*)
    echo "[bundle] $soname resolves to the CUDA toolkit ($real), not to the wheel" >&2; exit 1 ;;
  esac
  cp -L "$path" "$out/lib/$soname"
  package=$( (dpkg -S "$real" || dpkg -S "$path") 2>/dev/null | head -1 | sed 's/: .*//' || true)
  echo "lib/$soname  ${package:-?} ($real)" >> "$manifest.origins"
done <<< "$deps"

# parity.py's h5py, as wheels for the GPU machine's Python (it reaches no registry): binary
# only, no dependencies (numpy comes with its PyTorch and transformers).
python_version=${DPO_BUNDLE_PYTHON_VERSION:-3.12}
python3 -m pip install --disable-pip-version-check --quiet --target "$out/python" --no-deps \
  --only-binary=:all: --python-version "$python_version" --platform manylinux_2_28_x86_64 \
  -r "$root/tools/gpu/bundle_python.txt"
echo "python/ $(tr '\n' ' ' < "$root/tools/gpu/bundle_python.txt" | grep -o '[a-z0-9_]*==[^ ]*' | tr '\n' ' ')for Python $python_version" >> "$manifest.python"

cat > "$out/env.sh" <<EOF
# The run-time environment of this dpo bundle; source it from bash: \`source env.sh\`.
# Its own lib/ first, then the torch/lib of the machine's PyTorch ($torch_version, the version
# it was built against): DPO_TORCH_LIB, else found through DPO_PYTHON (default python3) without
# importing torch. Run Python with \`env -u LD_LIBRARY_PATH python3\`.
DPO_BUNDLE=\$(cd "\$(dirname "\${BASH_SOURCE[0]}")" && pwd)
DPO_BUNDLE_TORCH=$torch_version
if [ -z "\${DPO_TORCH_LIB:-}" ]; then
  DPO_TORCH_LIB=\$(env -u LD_LIBRARY_PATH "\${DPO_PYTHON:-python3}" -c 'import importlib.util, os
spec = importlib.util.find_spec("torch")
print(os.path.join(spec.submodule_search_locations[0], "lib") if spec else "")' 2>/dev/null) || DPO_TORCH_LIB=
fi
if [ ! -e "\$DPO_TORCH_LIB/libtorch_cpu.so" ]; then
  echo "dpo bundle: no torch found with \${DPO_PYTHON:-python3} (set DPO_PYTHON or DPO_TORCH_LIB)" >&2
  return 1 2>/dev/null || exit 1
fi
found=\$(sed -n "s/^__version__ = '\(.*\)'.*/\1/p" "\$DPO_TORCH_LIB/../version.py" 2>/dev/null)
if [ "\${found%%+*}" != "\${DPO_BUNDLE_TORCH%%+*}" ]; then
  echo "dpo bundle: built against torch \$DPO_BUNDLE_TORCH, but \$DPO_TORCH_LIB is torch \${found:-?} (LibTorch's C++ ABI changes between versions: make the bundle against this one)" >&2
  return 1 2>/dev/null || exit 1
fi
unset found
export DPO_BUNDLE DPO_TORCH_LIB
export LD_LIBRARY_PATH=\$DPO_BUNDLE/lib:\$DPO_TORCH_LIB\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}
export PATH=\$DPO_BUNDLE/bin:\$PATH
EOF
cat > "$out/run" <<'EOF'
#!/bin/bash
# run PROGRAM [ARGS...]: bin/PROGRAM of this bundle (dpo, bench_forward, bench_train, gpu_tests)
# in its environment (env.sh).
source "$(dirname "$0")/env.sh" || exit 2
[ $# -ge 1 ] && [ -x "$DPO_BUNDLE/bin/$1" ] || { echo "usage: run $(ls "$DPO_BUNDLE/bin" | tr '\n' ' ')ARGS..." >&2; exit 2; }
exec "$DPO_BUNDLE/bin/$1" "${@:2}"
EOF
chmod +x "$out/run"

{
  for f in "$out"/bin/*; do echo "bin/$(basename "$f")  $build/$(echo "$PROGRAMS" | tr ' ' '\n' | grep -E "(^|/)$(basename "$f")$")"; done
  echo "lib/libdpo_sentencepiece_shim.so  $build/libdpo_sentencepiece_shim.so"
  cat "$manifest.origins"
} | sort -k1,1 | while read -r file origin; do
  echo "$file  $origin  $(sha256sum "$out/$file" | cut -c1-64)"
done >> "$manifest"
cat "$manifest.python" >> "$manifest"
rm -f "$manifest.origins" "$manifest.python"

folder_bytes=$(du -sb "$out" | cut -f1)
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
echo "size: folder $(mib "$folder_bytes") ($(ls "$out/bin" | wc -l) programs, $(ls "$out/lib" | wc -l) libraries)" >> "$manifest"
if [ "$folder_bytes" -gt $((4 * MAX_BYTES)) ]; then  # xz cannot bring that under 64 MiB
  echo "[bundle] $out holds $((folder_bytes / 1048576)) MiB; the largest files:" >&2
  du -b "$out"/lib/* "$out"/bin/* "$out"/python/* | sort -n | tail -5 >&2
  exit 1
fi
tar -C "$out" -cf - . | xz -T0 -6 > "$out.tar.xz"
archive_bytes=$(stat -c %s "$out.tar.xz")
echo "size: $(basename "$out").tar.xz $(mib "$archive_bytes")" | tee -a "$manifest"
grep '^size: folder' "$manifest"
if [ "$archive_bytes" -gt "$MAX_BYTES" ]; then
  echo "[bundle] $out.tar.xz is over 64 MiB" >&2
  exit 1
fi
echo "[bundle] done: $out (carry $(basename "$out").tar.xz; tools/gpu/check.sh --bundle $(basename "$out").tar.xz)"
