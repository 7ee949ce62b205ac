#include <gtest/gtest.h>

#include "core/error.h"
#include "core/log.h"

namespace dpo {
namespace {

TEST(Error, HintIsAppendedOnItsOwnLine) {
  DataError e("bad row", "fix the export");
  EXPECT_EQ(std::string(e.what()), "bad row\n  hint: fix the export");
  EXPECT_EQ(e.message(), "bad row");
  EXPECT_EQ(e.hint(), "fix the export");
  EXPECT_EQ(std::string(IoError("plain").what()), "plain");
}

TEST(Error, HierarchyLetsTheCliCatchOnce) {
  try {
    throw CacheError("stale cache");
  } catch (const Error& e) {
    EXPECT_EQ(e.message(), "stale cache");
  }
}

TEST(Log, ParsesLevelsAndRejectsUnknownOnes) {
  EXPECT_EQ(parse_log_level("debug"), LogLevel::debug);
  EXPECT_EQ(parse_log_level("warning"), LogLevel::warn);
  EXPECT_EQ(parse_log_level("quiet"), LogLevel::quiet);
  EXPECT_THROW(parse_log_level("loud"), UsageError);
}

TEST(Log, MessagesBelowTheLevelAreDropped) {
  set_log_level(LogLevel::warn);
  ::testing::internal::CaptureStderr();
  DPO_LOG_INFO("test", "hidden %d", 1);
  DPO_LOG_WARN("test", "shown %d", 2);
  std::string err = ::testing::internal::GetCapturedStderr();
  set_log_level(LogLevel::info);
  EXPECT_EQ(err, "[test] warning: shown 2\n");
}

}  // namespace
}  // namespace dpo
