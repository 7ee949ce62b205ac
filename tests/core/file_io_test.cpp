#include "core/file_io.h"

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <functional>
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

std::string io_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const IoError& e) {
    return e.message();
  }
  return "(no error)";
}

TEST(FileIo, PathProblemsSayTheRealCause) {
  testing::TempDir dir;
  testing::write_file(dir.file("file"), "x");
  ASSERT_EQ(mkdir(dir.file("folder").c_str(), 0755), 0);
  ASSERT_EQ(symlink("loop_b", dir.file("loop_a").c_str()), 0);
  ASSERT_EQ(symlink("loop_a", dir.file("loop_b").c_str()), 0);
  ASSERT_EQ(symlink("gone", dir.file("dangling").c_str()), 0);
  ASSERT_EQ(symlink("folder", dir.file("to_folder").c_str()), 0);
  ASSERT_EQ(mkfifo(dir.file("fifo").c_str(), 0644), 0);
  const auto folder = PathKind::directory;
  const auto file = PathKind::regular_file;
  EXPECT_EQ(describe_path_problem(dir.file("folder"), folder), "");
  EXPECT_EQ(describe_path_problem(dir.file("to_folder"), folder), "");  // symlinks followed
  EXPECT_EQ(describe_path_problem(dir.file("file"), file), "");
  EXPECT_EQ(describe_path_problem(dir.file("file"), folder), "is a file, not a folder");
  EXPECT_EQ(describe_path_problem(dir.file("folder"), file), "is a folder, not a file");
  EXPECT_EQ(describe_path_problem(dir.file("absent"), folder), "does not exist");
  EXPECT_EQ(
      describe_path_problem(dir.file("loop_a"), folder),
      "is a symlink loop (ELOOP: too many levels of symbolic links)");
  EXPECT_EQ(
      describe_path_problem(dir.file("dangling"), file),
      "is a dangling symlink to 'gone' (its target does not exist)");
  EXPECT_EQ(
      describe_path_problem(dir.file("file/inner"), folder),
      "cannot be reached: a component of the path is a file, not a folder (ENOTDIR)");
  EXPECT_EQ(describe_path_problem(dir.file("fifo"), file), "is a named pipe (FIFO), not a file");
  EXPECT_EQ(describe_path_problem("", folder), "is empty (no path given)");
}

TEST(FileIo, RequireThrowsIoErrorWithRolePathAndCause) {
  testing::TempDir dir;
  testing::write_file(dir.file("model.bin"), "x");
  EXPECT_EQ(
      io_error([&] { require_directory(dir.file("model.bin"), "model folder", "h"); }),
      "model folder '" + dir.file("model.bin") + "' is a file, not a folder");
  EXPECT_NO_THROW(require_directory(dir.path(), "model folder", "h"));
  EXPECT_NO_THROW(require_regular_file(dir.file("model.bin"), "tokenizer model", "h"));
  EXPECT_EQ(
      io_error([&] { require_regular_file(dir.path(), "tokenizer model", "h"); }),
      "tokenizer model '" + dir.path() + "' is a folder, not a file");
  // Non-printable bytes in the path are escaped in the message.
  EXPECT_EQ(
      io_error([&] { require_directory(dir.file("a\x1b[2Jb"), "model folder", "h"); }),
      "model folder '" + dir.file("a\\x1b[2Jb") + "' does not exist");
  EXPECT_NE(
      io_error([&] { read_file(dir.file("bad\xff.json"), "config"); }).find("bad\\xff.json"),
      std::string::npos);
}

}  // namespace
}  // namespace dpo
