#include "core/atomic_file.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "core/error.h"
#include "tests/support/test_support.h"

namespace dpo {
namespace {

size_t files_in(const std::string& dir) {
  size_t n = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir))
    n += entry.is_regular_file();
  return n;
}

TEST(AtomicFile, ReplacesTheFileAndLeavesNoTemporary) {
  testing::TempDir dir;
  std::string path = dir.file("report.json");
  testing::write_file(path, "old");
  write_file_atomically(path, "new content");
  EXPECT_EQ(testing::read_file(path), "new content");
  EXPECT_EQ(files_in(dir.path()), 1u);
}

TEST(AtomicFile, AbandonedWriteKeepsTheOldFile) {
  testing::TempDir dir;
  std::string path = dir.file("cache.h5");
  testing::write_file(path, "old");
  {
    AtomicFile file(path);
    testing::write_file(file.temp_path(), "half written");
    // no commit: as if the process failed here
  }
  EXPECT_EQ(testing::read_file(path), "old");
  EXPECT_EQ(files_in(dir.path()), 1u);
}

TEST(AtomicFile, FailsClearlyWhenTheFolderDoesNotExist) {
  testing::TempDir dir;
  try {
    write_file_atomically(dir.file("no/such/folder/x.json"), "x");
    FAIL() << "expected IoError";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("no/such/folder"), std::string::npos);
  }
}

TEST(AtomicFile, ParentDirectory) {
  EXPECT_EQ(parent_directory("a/b/c.txt"), "a/b");
  EXPECT_EQ(parent_directory("c.txt"), ".");
  EXPECT_EQ(parent_directory("/c.txt"), "/");
}

}  // namespace
}  // namespace dpo
