// The run folder (trainer/run_folder.h): creating it gives a dpo error naming the path and the
// reason, and the temporaries a killed process left in it are removed at the next start.
#include "trainer/run_folder.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "core/error.h"
#include "tests/support/test_support.h"

namespace dpo {
namespace {

namespace fs = std::filesystem;

// The pid of a process that has exited (and been reaped): the owner of a stale temporary.
pid_t dead_pid() {
  pid_t pid = fork();
  if (pid == 0)
    _exit(0);
  int status = 0;
  waitpid(pid, &status, 0);
  return pid;
}

std::string create_error(const std::string& out_dir) {
  try {
    create_run_folder(out_dir);
    return "";
  } catch (const IoError& error) {
    return error.what();
  }
}

TEST(CreateRunFolder, CreatesMissingParents) {
  testing::TempDir dir;
  EXPECT_EQ(create_error(dir.file("a/b/run")), "");
  EXPECT_TRUE(fs::is_directory(dir.file("a/b/run")));
  EXPECT_EQ(create_error(dir.file("a/b/run")), "");  // an existing folder is fine
}

TEST(CreateRunFolder, AFileIsNamedAsAFile) {
  testing::TempDir dir;
  testing::write_file(dir.file("taken"), "x");
  const std::string message = create_error(dir.file("taken"));
  EXPECT_NE(
      message.find("the run folder '" + dir.file("taken") + "' (train.out_dir) is not a folder"),
      std::string::npos)
      << message;
}

// Under a file, at any depth: the file is named (mkdir's ENOTDIR alone does not say which).
TEST(CreateRunFolder, APathUnderAFileNamesTheFile) {
  testing::TempDir dir;
  testing::write_file(dir.file("taken"), "x");
  for (const std::string sub : {"taken/run", "taken/a/b/run"}) {
    const std::string message = create_error(dir.file(sub));
    EXPECT_NE(
        message.find("cannot create the run folder '" + dir.file(sub) + "'"), std::string::npos)
        << message;
    EXPECT_NE(
        message.find("'" + dir.file("taken") + "' is a file, not a folder"), std::string::npos)
        << message;
  }
}

// Root writes anywhere, so the test needs another user to mean something.
TEST(CreateRunFolder, AReadOnlyFolderIsNamed) {
  if (geteuid() == 0)
    GTEST_SKIP() << "running as root: permissions do not stop writes (covered above by ENOTDIR)";
  testing::TempDir dir;
  fs::create_directories(dir.file("ro"));
  fs::permissions(dir.file("ro"), fs::perms::owner_read | fs::perms::owner_exec);
  const std::string in_it = create_error(dir.file("ro/run"));
  const std::string itself = create_error(dir.file("ro"));
  fs::permissions(dir.file("ro"), fs::perms::owner_all);
  EXPECT_NE(in_it.find("Permission denied"), std::string::npos) << in_it;
  EXPECT_NE(itself.find("cannot write into the run folder"), std::string::npos) << itself;
}

TEST(RemoveStaleTemporaries, RemovesWhatDeadProcessesLeftAndNamesEach) {
  testing::TempDir dir;
  const std::string run = dir.path();
  const std::string dead = std::to_string(dead_pid());
  const std::string alive = "1";  // init: always running
  fs::create_directories(run + "/checkpoints/step-00000004");
  testing::write_file(run + "/checkpoints/step-00000004/trainer_state.json", "{}");
  fs::create_directories(run + "/checkpoints/step-00000006.tmp/model");
  testing::write_file(run + "/checkpoints/step-00000006.tmp/model/model.safetensors", "half");
  const std::vector<std::string> stale = {
      run + "/metrics.jsonl.tmp." + dead + ".0",
      run + "/manifest.json.tmp." + dead + ".3",
      run + "/prepared.h5.tmp." + dead + ".1",
      run + "/checkpoints/LATEST.tmp." + dead + ".2",
      run + "/eval_pairs.jsonl.tmp." + dead + ".7",
      run + "/metrics.jsonl.tmp." + std::to_string(getpid()) + ".9",  // a pid reused by us
  };
  fs::create_directories(run + "/final");
  fs::create_directories(run + "/best.tmp." + dead + ".0");
  testing::write_file(run + "/best.tmp." + dead + ".0/config.json", "{");
  for (const std::string& path : stale)
    testing::write_file(path, "partial");
  const std::vector<std::string> kept = {
      run + "/metrics.jsonl",
      run + "/notes.tmp",
      run + "/data.tmp.x.1",
      run + "/metrics.jsonl.tmp." + alive + ".0",           // its writer still runs
      run + "/notes.txt.tmp." + dead + ".1",                // not a file a run writes
      run + "/final/model.safetensors.tmp." + dead + ".2",  // inside a folder: not looked at
      run + "/checkpoints/step-00000004/trainer_state.json"};
  for (const std::string& path : kept) {
    if (!fs::exists(path))
      testing::write_file(path, "keep");
  }

  ::testing::internal::CaptureStderr();
  std::vector<std::string> removed = remove_stale_run_temporaries(run);
  const std::string log = ::testing::internal::GetCapturedStderr();

  std::vector<std::string> expected = stale;
  expected.push_back(run + "/checkpoints/step-00000006.tmp");
  expected.push_back(run + "/best.tmp." + dead + ".0");  // save_pretrained's temporary folder
  std::sort(expected.begin(), expected.end());
  std::sort(removed.begin(), removed.end());
  EXPECT_EQ(removed, expected);
  for (const std::string& path : expected) {
    EXPECT_FALSE(fs::exists(path)) << path;
    EXPECT_NE(log.find("removed " + path + " ("), std::string::npos) << path << "\n" << log;
  }
  for (const std::string& path : kept)
    EXPECT_TRUE(fs::exists(path)) << path;
  EXPECT_NE(log.find("its writer, pid " + alive + ", is still running"), std::string::npos) << log;
  EXPECT_TRUE(remove_stale_run_temporaries(run).empty());  // nothing left the second time
}

}  // namespace
}  // namespace dpo
