#include "data/timestamp.h"

#include <gtest/gtest.h>

namespace dpo {
namespace {

// 2024-12-01T00:00:00Z is 20058 days after 1970-01-01: 20058 * 86400 = 1733011200.
constexpr double kDec1 = 1733011200.0;

TEST(Timestamp, IsoDatesAndTimes) {
  EXPECT_EQ(parse_timestamp("1970-01-01"), 0.0);
  EXPECT_EQ(parse_timestamp("2024-12-01"), kDec1);
  EXPECT_EQ(parse_timestamp("2024-12-01T08:30"), kDec1 + 8 * 3600 + 30 * 60);
  EXPECT_EQ(parse_timestamp("2024-12-01T08:30:15Z"), kDec1 + 8 * 3600 + 30 * 60 + 15);
  EXPECT_EQ(parse_timestamp("2024-12-01 08:30:15"), kDec1 + 8 * 3600 + 30 * 60 + 15);
  EXPECT_DOUBLE_EQ(*parse_timestamp("2024-12-01T00:00:00.25Z"), kDec1 + 0.25);
  // 08:30 at +02:00 is 06:30 UTC; 08:30 at -0500 is 13:30 UTC.
  EXPECT_EQ(parse_timestamp("2024-12-01T08:30:00+02:00"), kDec1 + 6 * 3600 + 30 * 60);
  EXPECT_EQ(parse_timestamp("2024-12-01T08:30:00-0500"), kDec1 + 13 * 3600 + 30 * 60);
  EXPECT_EQ(parse_timestamp("2024-02-29"), kDec1 - 276 * 86400.0);  // a leap day
}

TEST(Timestamp, EpochSecondsAndMilliseconds) {
  EXPECT_EQ(parse_timestamp("1733011200"), kDec1);
  EXPECT_EQ(parse_timestamp(" 1733011200.5 "), kDec1 + 0.5);
  EXPECT_EQ(parse_timestamp("1733011200000"), kDec1);  // Date.now() milliseconds
}

TEST(Timestamp, AnythingElseIsUnparseable) {
  for (const char* text :
       {"",
        "yesterday",
        "12/01/2024",
        "2024-13-01",
        "2024-02-30",
        "2023-02-29",
        "2024-12-01T25:00",
        "2024-12-01T08:30:00+2",
        "2024-12-01T08:30:00 UTC",
        "2024-12-1",
        "-5",
        "1.2.3"}) {
    EXPECT_FALSE(parse_timestamp(text).has_value()) << text;
  }
}

}  // namespace
}  // namespace dpo
