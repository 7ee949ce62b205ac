#include "data/dataset_split.h"

#include <gtest/gtest.h>

namespace dpo {
namespace {

TEST(DatasetSplit, DeterministicAndNearTheRequestedFraction) {
  int val = 0;
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    Hash128 key = hash128("prompt " + std::to_string(i));
    Split s = split_for_prompt(key, 3, 0.15);
    EXPECT_EQ(s, split_for_prompt(key, 3, 0.15));
    val += s == Split::val;
  }
  EXPECT_NEAR(static_cast<double>(val) / n, 0.15, 0.01);
}

TEST(DatasetSplit, TheSeedReshufflesAndZeroHoldsNothingOut) {
  int differ = 0;
  for (int i = 0; i < 1000; ++i) {
    Hash128 key = hash128(std::to_string(i));
    differ += split_for_prompt(key, 1, 0.5) != split_for_prompt(key, 2, 0.5);
    EXPECT_EQ(split_for_prompt(key, 1, 0.0), Split::train);
  }
  EXPECT_GT(differ, 300);
}

}  // namespace
}  // namespace dpo
