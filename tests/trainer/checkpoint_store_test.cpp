#include "trainer/checkpoint_store.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "core/error.h"
#include "tests/support/test_support.h"

namespace dpo {
namespace {

namespace fs = std::filesystem;

TEST(CheckpointStore, CommitPublishesTheFolderAndPointsLatestAtIt) {
  testing::TempDir run;
  CheckpointStore store(run.path(), 2);
  EXPECT_FALSE(store.latest().has_value());

  std::string temp = store.begin(10);
  testing::write_file(temp + "/state.json", "{}");
  EXPECT_FALSE(store.latest().has_value());  // not visible before commit
  std::string final_dir = store.commit(10);

  EXPECT_EQ(fs::path(final_dir).filename(), "step-00000010");
  EXPECT_EQ(store.latest().value(), final_dir);
  EXPECT_EQ(testing::read_file(final_dir + "/state.json"), "{}");
  EXPECT_FALSE(fs::exists(temp));
}

TEST(CheckpointStore, KeepsOnlyTheNewestCheckpoints) {
  testing::TempDir run;
  CheckpointStore store(run.path(), 2);
  for (uint64_t step : {5, 10, 15}) {
    testing::write_file(store.begin(step) + "/x", std::to_string(step));
    store.commit(step);
  }
  std::vector<std::string> kept = store.list();
  ASSERT_EQ(kept.size(), 2u);
  EXPECT_EQ(fs::path(kept[0]).filename(), "step-00000010");
  EXPECT_EQ(fs::path(kept[1]).filename(), "step-00000015");
}

TEST(CheckpointStore, AnUnfinishedCheckpointIsInvisibleAndReplacedOnRetry) {
  testing::TempDir run;
  CheckpointStore store(run.path(), 3);
  testing::write_file(store.begin(5) + "/x", "5");
  store.commit(5);
  testing::write_file(store.begin(10) + "/partial", "crash here");  // never committed
  EXPECT_EQ(fs::path(store.latest().value()).filename(), "step-00000005");
  EXPECT_EQ(store.list().size(), 1u);
  std::string retry = store.begin(10);
  EXPECT_FALSE(fs::exists(retry + "/partial"));
}

TEST(CheckpointStore, LatestNamingAMissingFolderIsAClearError) {
  testing::TempDir run;
  fs::create_directories(run.path() + "/checkpoints");
  testing::write_file(run.path() + "/checkpoints/LATEST", "step-00000099\n");
  CheckpointStore store(run.path(), 2);
  try {
    store.latest();
    FAIL() << "expected CheckpointError";
  } catch (const CheckpointError& error) {
    const std::string message = error.what();
    EXPECT_NE(
        message.find("LATEST' names 'step-00000099', which does not exist"), std::string::npos)
        << message;
  }
}

// The message of a LATEST that `content` makes unusable, or "" when latest() accepts it.
std::string latest_error(const std::string& content, const std::string& setup = "") {
  testing::TempDir run;
  const std::string dir = run.path() + "/checkpoints";
  fs::create_directories(dir + "/step-00000004");
  fs::create_directories(run.path() + "/other/checkpoints/step-00000004");
  if (setup == "file")
    testing::write_file(dir + "/step-00000008", "not a folder");
  if (setup == "symlink")
    fs::create_directory_symlink(
        run.path() + "/other/checkpoints/step-00000004", dir + "/step-00000008");
  testing::write_file(dir + "/LATEST", content);
  try {
    CheckpointStore(run.path(), 2).latest();
    return "";
  } catch (const CheckpointError& error) {
    return error.what();
  }
}

// LATEST may only name a step-N folder inside its own checkpoints/: no path (another run's
// folder, '..', an absolute path), no file or symlink of that name; what it holds is shown with
// non-printable bytes escaped, never raw.
TEST(CheckpointStore, LatestMayOnlyNameACheckpointFolderOfItsOwnRun) {
  EXPECT_EQ(latest_error("step-00000004\n"), "");
  EXPECT_EQ(latest_error("  step-00000004  \n"), "");
  for (const std::string bad :
       {"../other/checkpoints/step-00000004",
        "../../x",
        "/tmp",
        "step-00000004/../step-00000004",
        "step-",
        "step-4a",
        "STEP-00000004",
        "",
        "step-00000004\nstep-00000005\n"}) {
    const std::string message = latest_error(bad);
    EXPECT_NE(message.find("which is not the name of a checkpoint folder"), std::string::npos)
        << bad << " -> " << message;
    EXPECT_NE(message.find("checkpoints/LATEST' holds"), std::string::npos) << message;
  }
  EXPECT_NE(
      latest_error("step-00000008", "file").find("is not a folder (a symlink or a file)"),
      std::string::npos);
  EXPECT_NE(
      latest_error("step-00000008", "symlink").find("is not a folder (a symlink or a file)"),
      std::string::npos);
}

TEST(CheckpointStore, GarbageInLatestIsShownEscaped) {
  const std::string garbage = std::string("\x1b[2J\x00\xff", 6) + "evil\\";
  const std::string message = latest_error(garbage);
  EXPECT_NE(message.find("holds '\\x1b[2J\\x00\\xffevil\\\\'"), std::string::npos) << message;
  for (char c : message) {
    const unsigned char byte = static_cast<unsigned char>(c);
    EXPECT_TRUE(byte == '\n' || (byte >= 0x20 && byte < 0x7f)) << "raw byte " << int(byte);
  }
  // A long file is cut.
  const std::string long_message = latest_error(std::string(5000, 'x'));
  EXPECT_NE(long_message.find(std::string(80, 'x') + "...'"), std::string::npos) << long_message;
  EXPECT_LT(long_message.size(), 600u);
}

// A folder numbered above the checkpoint just written (left by an earlier run) is not this run's
// history: rotation must neither delete it nor the new checkpoint.
TEST(CheckpointStore, RotationOnlyDeletesCheckpointsOlderThanTheNewOne) {
  testing::TempDir run;
  CheckpointStore store(run.path(), 2);
  for (uint64_t step : {39, 40}) {
    testing::write_file(store.begin(step) + "/x", "old");
    store.commit(step);
  }
  for (uint64_t step : {1, 2, 3}) {
    testing::write_file(store.begin(step) + "/x", "new");
    const std::string committed = store.commit(step);
    EXPECT_TRUE(fs::is_directory(committed)) << step;
    EXPECT_EQ(store.latest().value(), committed);
  }
  std::vector<std::string> names;
  for (const std::string& folder : store.list())
    names.push_back(fs::path(folder).filename());
  EXPECT_EQ(
      names,
      (std::vector<std::string>{
          "step-00000002", "step-00000003", "step-00000039", "step-00000040"}));
}

}  // namespace
}  // namespace dpo
