#include "core/file_io.h"

#include <gtest/gtest.h>

#include <string>

#include "core/error.h"
#include "tests/support/test_support.h"

namespace dpo {
namespace {

TEST(FileIo, ReadsEveryByte) {
  testing::TempDir dir;
  std::string bytes("a\0b\nc", 5);
  bytes += std::string(200000, 'x');  // more than one read buffer
  testing::write_file(dir.file("f.bin"), bytes);
  EXPECT_EQ(read_file(dir.file("f.bin")), bytes);
  EXPECT_TRUE(is_regular_file(dir.file("f.bin")));
  EXPECT_FALSE(is_directory(dir.file("f.bin")));
  EXPECT_TRUE(is_directory(dir.path()));
}

TEST(FileIo, AMissingFileNamesWhatAndWhere) {
  testing::TempDir dir;
  try {
    read_file(dir.file("absent.json"), "config");
    FAIL() << "expected IoError";
  } catch (const IoError& error) {
    std::string message = error.what();
    EXPECT_NE(
        message.find("cannot read config '" + dir.file("absent.json") + "'"), std::string::npos)
        << message;
    EXPECT_NE(message.find("No such file"), std::string::npos) << message;
  }
  EXPECT_FALSE(is_regular_file(dir.file("absent.json")));
}

TEST(FileIo, ADirectoryIsRefused) {
  testing::TempDir dir;
  EXPECT_THROW(read_file(dir.path()), IoError);
}

}  // namespace
}  // namespace dpo
