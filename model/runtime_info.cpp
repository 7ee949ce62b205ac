#include "model/runtime_info.h"

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <c10/util/Exception.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <mutex>

#include "model/cpu_tensor_memory.h"
#include "model/torch_compat.h"

// Debian's LibTorch ships c10/cuda headers without CUDA itself (and without the
// cuda_cmake_macros.h they include), while the CUDA toolkit may well be installed beside it:
// require the header only a CUDA build of LibTorch has, and CUDA's runtime headers.
#if __has_include(<c10/cuda/impl/cuda_cmake_macros.h>) && __has_include(<cuda_runtime_api.h>)
#include <c10/cuda/CUDACachingAllocator.h>
#define DPO_CUDA_MEMORY_STATS 1
#else
#define DPO_CUDA_MEMORY_STATS 0
#endif

namespace dpo {

TorchRuntimeInfo torch_runtime_info() {
  TorchRuntimeInfo info;
  info.version = TORCH_VERSION;
  // at::hasCUDA() is false on a machine without a GPU even when CUDA is compiled in; the CUDA
  // hooks answer versionCUDART() only when LibTorch's CUDA half is loaded.
  try {
    info.cuda_runtime = at::detail::getCUDAHooks().versionCUDART();
  } catch (const c10::Error&) {
    info.cuda_runtime = 0;
  }
  info.cuda_built = info.cuda_runtime > 0;
  info.cuda_devices = at::hasCUDA() ? static_cast<int>(at::getNumGPUs()) : 0;
  info.has_sdpa = DPO_HAS_SDPA != 0;
  info.cpu_threads = at::get_num_threads();
  return info;
}

namespace {

// VmHWM is max(the kernel's high-water mark, the current RSS), and the kernel updates its mark
// lazily (on unmap, exit): read twice, it can fall when RSS rose and fell in between. The peak
// reported is the largest value read so far, so that it never falls within a run.
double process_peak_resident_mib() {
  static std::mutex mutex;
  static double highest = 0;
  std::ifstream status("/proc/self/status");
  std::string line;
  double now = 0;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) {
      now = std::atof(line.c_str() + 6) / 1024.0;  // kB -> MiB
      break;
    }
  }
  std::lock_guard<std::mutex> lock(mutex);
  highest = std::max(highest, now);
  return highest;
}

}  // namespace

double peak_memory_mib(const c10::Device& device) {
  if (!device.is_cuda())
    return process_peak_resident_mib();
#if DPO_CUDA_MEMORY_STATS
  auto stats =
      c10::cuda::CUDACachingAllocator::getDeviceStats(device.has_index() ? device.index() : 0);
  return static_cast<double>(stats.allocated_bytes[0].peak) / (1024.0 * 1024.0);  // [0]: all pools
#else
  return 0;
#endif
}

double tensor_peak_mib(const c10::Device& device) {
  if (device.is_cuda())
    return peak_memory_mib(device);
  return static_cast<double>(cpu_tensor_memory().peak_bytes) / (1024.0 * 1024.0);
}

}  // namespace dpo
