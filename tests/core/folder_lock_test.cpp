#include "core/folder_lock.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <optional>
#include <string>

#include "core/error.h"
#include "tests/support/test_support.h"

namespace dpo {
namespace {

TEST(FolderLock, ASecondLockIsRefusedWithTheOwnersPid) {
  testing::TempDir dir;
  std::optional<FolderLock> first(std::in_place, dir.path(), "run folder");
  try {
    FolderLock second(dir.path(), "run folder");
    FAIL() << "expected UsageError";
  } catch (const UsageError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("run folder '" + dir.path() + "' is in use"), std::string::npos)
        << message;
    EXPECT_NE(message.find("pid " + std::to_string(getpid())), std::string::npos) << message;
  }
  first.reset();  // released: the folder can be taken again
  EXPECT_NO_THROW(FolderLock(dir.path(), "run folder"));
}

TEST(FolderLock, AnOwnerThatDiedLeavesNoStaleLock) {
  testing::TempDir dir;
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    FolderLock lock(dir.path(), "run folder");
    _exit(0);  // dies holding it, destructor not run
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_NO_THROW(FolderLock(dir.path(), "run folder"));
}

}  // namespace
}  // namespace dpo
