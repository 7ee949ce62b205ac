// The bytes of the tensors LibTorch holds on the CPU, live and at their peak: the CPU's
// counterpart of CUDA's allocator statistics (torch.cuda.memory_allocated and
// max_memory_allocated). The process's resident set (peak_memory_mib on the CPU) also holds
// LibTorch's own ~180 MiB, the heap's free lists and what BLAS keeps; this counts tensors only,
// so that CPU runs can be compared in the terms a GPU's peak is given in (LoRA vs full, the plan's
// tensor terms).
#pragma once

#include <cstdint>

namespace dpo {

// Puts a counting allocator in front of LibTorch's CPU allocator, once per process (later calls do
// nothing). Tensors allocated before the first call are not counted, nor CPU tensors that wrap
// memory LibTorch did not allocate (from_blob). Returns whether counting is on: false when another
// CPU allocator without a raw deleter was installed first.
bool count_cpu_tensor_memory();

struct CpuTensorMemory {
  bool counting = false;   // count_cpu_tensor_memory() installed the counter
  int64_t live_bytes = 0;  // tensor bytes allocated since then and not yet freed
  int64_t peak_bytes = 0;  // the most live_bytes has been since then (or since reset_peak)
};

CpuTensorMemory cpu_tensor_memory();

// Sets the peak to the bytes live now.
void reset_cpu_tensor_peak();

}  // namespace dpo
