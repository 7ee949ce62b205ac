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
  EXPECT_THROW(store.latest(), CheckpointError);
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
