// CPU runtime settings that LibTorch on Debian does not make by itself. Both were measured on
// 2-core machines (docs/benchmarks.md, "CPU runtime settings"): together they make CPU scoring
// and training 1.8-3.4x faster.
#pragma once

namespace dpo {

// Sets LibTorch's intra-op threads and keeps OpenBLAS's own thread pool at one thread.
// Debian's LibTorch calls whatever libblas.so.3 is installed and does not tell it how many threads
// to use; the pthread OpenBLAS then spins up its own pool beside ATen's OpenMP threads and they
// busy-yield against each other. OPENBLAS_NUM_THREADS in the environment wins over this.
void set_cpu_threads(int threads);

// The OpenBLAS thread count in effect, or 0 when the BLAS in use is not OpenBLAS.
int openblas_threads();

// glibc's malloc returns every buffer above 128 KiB to the kernel with munmap and page-faults it
// back on the next step; a training step allocates the same activation buffers each time. Raising
// the mmap and trim thresholds keeps them in the heap. Skipped when the user set MALLOC_* tunables
// in the environment. Returns true when the settings were applied.
bool keep_tensor_buffers_in_heap();

}  // namespace dpo
