// What the LibTorch runtime this binary uses can do: its version and the devices it sees.
#pragma once

#include <string>

namespace dpo {

struct TorchRuntimeInfo {
  std::string version;   // "1.13.0" (the headers' version)
  bool cuda_built = false;     // LibTorch was built with CUDA
  int cuda_devices = 0;        // CUDA devices visible now
  bool has_sdpa = false;       // scaled_dot_product_attention available
  int cpu_threads = 0;         // intra-op threads LibTorch will use
};

TorchRuntimeInfo torch_runtime_info();

}  // namespace dpo
