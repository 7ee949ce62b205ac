// The CPU thread settings dpo makes at start-up (model/cpu_runtime.h).
#include "model/cpu_runtime.h"

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <gtest/gtest.h>

#include <cstdlib>

namespace {

TEST(CpuRuntime, SetsLibTorchThreadsAndKeepsOpenBlasAtOneThread) {
  ASSERT_EQ(std::getenv("OPENBLAS_NUM_THREADS"), nullptr) << "the test needs OpenBLAS's default";
  dpo::set_cpu_threads(2);
  EXPECT_EQ(at::get_num_threads(), 2);
  if (at::hasMKL()) {
    // A PyTorch wheel's LibTorch carries MKL inside (and no OpenBLAS): nothing to keep at one.
    EXPECT_EQ(dpo::openblas_threads(), 0);
  } else {
    // Debian's LibTorch links libblas.so.3; install_deps.sh installs the pthread OpenBLAS
    // behind it.
    EXPECT_EQ(dpo::openblas_threads(), 1) << "0 means the BLAS in use is not OpenBLAS: 10x slower";
  }
  dpo::set_cpu_threads(0);  // not a thread count: one thread
  EXPECT_EQ(at::get_num_threads(), 1);
}

}  // namespace
