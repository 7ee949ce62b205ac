#include "core/format.h"

#include <gtest/gtest.h>

#include <string>

namespace dpo {
namespace {

TEST(Format, FormatsLikePrintf) {
  EXPECT_EQ(format("%d pairs, %.2f%%", 12, 99.5), "12 pairs, 99.50%");
  EXPECT_EQ(format("%s", ""), "");
}

TEST(Format, LongTextIsNotTruncated) {
  const std::string long_text(10000, 'x');
  EXPECT_EQ(format("[%s]", long_text.c_str()), "[" + long_text + "]");
}

}  // namespace
}  // namespace dpo
