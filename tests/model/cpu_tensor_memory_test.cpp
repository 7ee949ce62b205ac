// The CPU tensor-memory counter (model/cpu_tensor_memory.h): the bytes of live tensors and their
// peak, as CUDA's allocator statistics give them on a GPU.
#include "model/cpu_tensor_memory.h"

#include <ATen/ATen.h>
#include <c10/core/CPUAllocator.h>
#include <gtest/gtest.h>

#include <cstdint>

#include "model/runtime_info.h"

namespace {

using dpo::count_cpu_tensor_memory;
using dpo::cpu_tensor_memory;

TEST(CpuTensorMemory, CountsATensorsBytesWhileItLives) {
  ASSERT_TRUE(count_cpu_tensor_memory());
  const int64_t before = cpu_tensor_memory().live_bytes;
  {
    at::Tensor t = at::empty({1000}, at::kFloat);  // 4,000 bytes
    EXPECT_EQ(cpu_tensor_memory().live_bytes, before + 4000);
    EXPECT_GE(cpu_tensor_memory().peak_bytes, before + 4000);
    at::Tensor view = t.view({10, 100});  // a view shares the storage: nothing new
    EXPECT_EQ(cpu_tensor_memory().live_bytes, before + 4000);
  }
  EXPECT_EQ(cpu_tensor_memory().live_bytes, before);
}

TEST(CpuTensorMemory, ThePeakStaysUntilReset) {
  ASSERT_TRUE(count_cpu_tensor_memory());
  dpo::reset_cpu_tensor_peak();
  const int64_t before = cpu_tensor_memory().live_bytes;
  EXPECT_EQ(cpu_tensor_memory().peak_bytes, before);
  { at::Tensor t = at::zeros({1 << 20}, at::kFloat); }  // 4 MiB, freed again
  EXPECT_EQ(cpu_tensor_memory().live_bytes, before);
  EXPECT_EQ(cpu_tensor_memory().peak_bytes, before + 4 * (1 << 20));
  EXPECT_DOUBLE_EQ(
      dpo::tensor_peak_mib(at::Device(at::kCPU)), (before + 4.0 * (1 << 20)) / (1 << 20));
  dpo::reset_cpu_tensor_peak();
  EXPECT_EQ(cpu_tensor_memory().peak_bytes, before);
}

TEST(CpuTensorMemory, ATensorFromBeforeCountingIsFreedWithoutBeingCounted) {
  if (cpu_tensor_memory().counting)
    GTEST_SKIP() << "counting started earlier in this process; ctest runs each test alone";
  at::Tensor early = at::ones({1000}, at::kFloat);
  ASSERT_TRUE(count_cpu_tensor_memory());
  const int64_t before = cpu_tensor_memory().live_bytes;
  early.reset();
  EXPECT_EQ(cpu_tensor_memory().live_bytes, before);
}

// oneDNN (bf16 matmuls on the CPU) takes its scratch memory through raw_allocate, which needs
// data and context to be one pointer, as LibTorch's own allocator has them.
TEST(CpuTensorMemory, RawAllocationsAndBf16MatmulsWorkThroughTheCounter) {
  ASSERT_TRUE(count_cpu_tensor_memory());
  c10::Allocator* allocator = c10::GetCPUAllocator();
  const int64_t before = cpu_tensor_memory().live_bytes;
  void* raw = allocator->raw_allocate(100);
  ASSERT_NE(raw, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(raw) % 64, 0u) << "LibTorch's 64-byte alignment";
  EXPECT_EQ(cpu_tensor_memory().live_bytes, before + 100);
  allocator->raw_deallocate(raw);
  EXPECT_EQ(cpu_tensor_memory().live_bytes, before);

  at::manual_seed(0);
  const at::Tensor a = at::randn({64, 96});
  const at::Tensor b = at::randn({96, 32});
  const at::Tensor bf16 = at::matmul(a.to(at::kBFloat16), b.to(at::kBFloat16)).to(at::kFloat);
  EXPECT_TRUE(at::allclose(bf16, at::matmul(a, b), /*rtol=*/0.05, /*atol=*/0.5));
}

}  // namespace
