#include "model/runtime_info.h"

#include <ATen/Context.h>
#include <ATen/Parallel.h>

#include "model/torch_compat.h"

namespace dpo {

TorchRuntimeInfo torch_runtime_info() {
  TorchRuntimeInfo info;
  info.version = TORCH_VERSION;
  info.cuda_built = at::hasCUDA();
  info.cuda_devices = info.cuda_built ? static_cast<int>(at::getNumGPUs()) : 0;
  info.has_sdpa = DPO_HAS_SDPA != 0;
  info.cpu_threads = at::get_num_threads();
  return info;
}

}  // namespace dpo
