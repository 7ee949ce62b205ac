// The CPU thread settings that LibTorch on Debian does not make by itself (measured in
// docs/benchmarks.md; see also core/malloc_tuning.h).
#pragma once

namespace dpo {

// Sets LibTorch's intra-op threads and keeps OpenBLAS's own thread pool at one thread.
// Debian's LibTorch calls whatever libblas.so.3 is installed and does not tell it how many threads
// to use; the pthread OpenBLAS then spins up its own pool beside ATen's OpenMP threads and they
// busy-yield against each other. OPENBLAS_NUM_THREADS in the environment wins over this.
void set_cpu_threads(int threads);

// The OpenBLAS thread count in effect, or 0 when the BLAS in use is not OpenBLAS.
int openblas_threads();

}  // namespace dpo
