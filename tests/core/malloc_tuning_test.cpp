// The malloc settings dpo makes at start-up (core/malloc_tuning.h).
#include "core/malloc_tuning.h"

#include <gtest/gtest.h>

#include <cstdlib>

namespace {

TEST(MallocTuning, AppliesUnlessTheUserSetMallocTunables) {
  EXPECT_TRUE(dpo::keep_freed_memory_in_heap());
  setenv("MALLOC_TOP_PAD_", "0", 1);
  EXPECT_FALSE(dpo::keep_freed_memory_in_heap());
  unsetenv("MALLOC_TOP_PAD_");
  EXPECT_TRUE(dpo::keep_freed_memory_in_heap());
}

TEST(MallocTuning, NamesGlibcWhenNoOtherMallocIsLinked) {
  // This test binary links no tcmalloc (dpo-torch does: tests/tools/startup_test.cpp).
  EXPECT_EQ(dpo::malloc_name(), "glibc");
}

}  // namespace
