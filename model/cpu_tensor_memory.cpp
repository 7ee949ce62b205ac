#include "model/cpu_tensor_memory.h"

#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <mutex>

#include "model/torch_compat.h"

namespace dpo {

namespace {

// Each block starts with a header holding its size; the caller gets the bytes after it. 64 bytes
// keep the 64-byte alignment LibTorch's CPU allocator gives.
constexpr size_t kHeaderBytes = 64;

std::atomic<bool> g_counting{false};
std::atomic<int64_t> g_live_bytes{0};
std::atomic<int64_t> g_peak_bytes{0};
c10::Allocator* g_base = nullptr;
c10::DeleterFnPtr g_base_delete = nullptr;

void raise_peak(int64_t live) {
  int64_t peak = g_peak_bytes.load(std::memory_order_relaxed);
  while (live > peak &&
         !g_peak_bytes.compare_exchange_weak(peak, live, std::memory_order_relaxed)) {
  }
}

// The deleter of every block: data and context are the same pointer (as LibTorch's own CPU
// allocator has them, which raw_allocate and oneDNN's scratch buffers rely on).
void counting_delete(void* data) {
  if (data == nullptr)
    return;
  char* block = static_cast<char*>(data) - kHeaderBytes;
  int64_t bytes = 0;
  std::memcpy(&bytes, block, sizeof bytes);
  g_live_bytes.fetch_sub(bytes, std::memory_order_relaxed);
  g_base_delete(block);
}

struct CountingCpuAllocator final : c10::Allocator {
  c10::DataPtr allocate(size_t n) DPO_ALLOCATOR_ALLOCATE_CONST override {
    if (n == 0)  // as LibTorch's allocator: no memory for an empty tensor
      return {nullptr, nullptr, &counting_delete, c10::Device(c10::DeviceType::CPU)};
    c10::DataPtr block = g_base->allocate(n + kHeaderBytes);
    // The base allocator's pointers are simple (it has a raw deleter): data == context, freed by
    // g_base_delete.
    char* start = static_cast<char*>(block.release_context());
    const auto bytes = static_cast<int64_t>(n);
    std::memcpy(start, &bytes, sizeof bytes);
    raise_peak(g_live_bytes.fetch_add(bytes, std::memory_order_relaxed) + bytes);
    void* data = start + kHeaderBytes;
    return {data, data, &counting_delete, c10::Device(c10::DeviceType::CPU)};
  }

  c10::DeleterFnPtr raw_deleter() const override {
    return &counting_delete;
  }

#if DPO_ALLOCATOR_HAS_COPY_DATA
  void copy_data(void* dest, const void* src, std::size_t count) const override {
    default_copy_data(dest, src, count);
  }
#endif
};

}  // namespace

bool count_cpu_tensor_memory() {
  static std::once_flag once;
  std::call_once(once, [] {
    c10::Allocator* base = c10::GetCPUAllocator();
    if (base->raw_deleter() == nullptr)
      return;
    g_base = base;
    g_base_delete = base->raw_deleter();
    static CountingCpuAllocator counting;
    // The highest priority, so that it replaces whatever allocator is in place (SetCPUAllocator
    // keeps one of a higher priority); that one still does the allocating, behind the counter.
    c10::SetCPUAllocator(&counting, /*priority=*/UINT8_MAX);
    g_counting = c10::GetCPUAllocator() == &counting;
  });
  return g_counting;
}

CpuTensorMemory cpu_tensor_memory() {
  CpuTensorMemory memory;
  memory.counting = g_counting;
  memory.live_bytes = g_live_bytes.load(std::memory_order_relaxed);
  memory.peak_bytes = g_peak_bytes.load(std::memory_order_relaxed);
  return memory;
}

void reset_cpu_tensor_peak() {
  g_peak_bytes.store(g_live_bytes.load(std::memory_order_relaxed), std::memory_order_relaxed);
}

}  // namespace dpo
