#include "model/cpu_runtime.h"

#include <ATen/Parallel.h>
#include <dlfcn.h>

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
  if (std::getenv("OPENBLAS_NUM_THREADS") != nullptr)
    return;
  if (auto set = openblas_symbol<SetThreadsFn>("openblas_set_num_threads"))
    set(1);
}

int openblas_threads() {
  auto get = openblas_symbol<GetThreadsFn>("openblas_get_num_threads");
  return get ? get() : 0;
}

}  // namespace dpo
