// What the LibTorch runtime this binary uses can do: its version and the devices it sees; and
// how much memory a run has taken at its peak.
#pragma once

#include <c10/core/Device.h>

#include <string>

namespace dpo {

struct TorchRuntimeInfo {
  std::string version;      // "1.13.0" (the headers' version)
  bool cuda_built = false;  // LibTorch was built with CUDA (its CUDA half is loaded)
  long cuda_runtime = 0;    // CUDART_VERSION it was built with (13000 = 13.0); 0 without CUDA
  int cuda_devices = 0;     // CUDA devices visible now (0 on a machine without a GPU)
  bool has_sdpa = false;    // scaled_dot_product_attention available
  int cpu_threads = 0;      // intra-op threads LibTorch will use
};

TorchRuntimeInfo torch_runtime_info();

// Peak memory in MiB: on CUDA the caching allocator's peak of allocated bytes on that device
// (what torch.cuda.max_memory_allocated reports), on CPU the process's resident high-water mark
// (VmHWM). 0 when it cannot be read (a CUDA device in a build without CUDA's headers).
double peak_memory_mib(const c10::Device& device);

// Peak tensor memory in MiB: on CUDA the same figure as peak_memory_mib; on CPU the peak of live
// tensor bytes since count_cpu_tensor_memory() (model/cpu_tensor_memory.h), 0 when not counting.
// The CPU figure leaves out what the resident set adds (LibTorch's code and buffers, the heap's
// free lists), so that it means what the CUDA figure means.
double tensor_peak_mib(const c10::Device& device);

}  // namespace dpo
