#include "model/cpu_runtime.h"

#include <ATen/Parallel.h>
#include <dlfcn.h>
#include <malloc.h>

#include <cstdlib>

namespace dpo {

namespace {

// OpenBLAS's C API, looked up at run time: the BLAS behind libblas.so.3 is a Debian alternative.
using SetThreadsFn = void (*)(int);
using GetThreadsFn = int (*)();

template <typename Fn>
Fn openblas_symbol(const char* name) {
  return reinterpret_cast<Fn>(dlsym(RTLD_DEFAULT, name));
}

}  // namespace

void set_cpu_threads(int threads) {
  at::set_num_threads(threads > 0 ? threads : 1);
  if (std::getenv("OPENBLAS_NUM_THREADS") != nullptr) return;
  if (auto set = openblas_symbol<SetThreadsFn>("openblas_set_num_threads")) set(1);
}

int openblas_threads() {
  auto get = openblas_symbol<GetThreadsFn>("openblas_get_num_threads");
  return get ? get() : 0;
}

bool keep_tensor_buffers_in_heap() {
  for (const char* name : {"MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_"}) {
    if (std::getenv(name) != nullptr) return false;
  }
  constexpr int kMiB = 1 << 20;
  // 32 MiB is the largest mmap threshold glibc accepts on 64-bit; larger buffers stay mmapped.
  bool ok = mallopt(M_MMAP_THRESHOLD, 32 * kMiB) == 1;
  ok = mallopt(M_TRIM_THRESHOLD, 1024 * kMiB) == 1 && ok;
  ok = mallopt(M_TOP_PAD, 256 * kMiB) == 1 && ok;
  return ok;
}

}  // namespace dpo
