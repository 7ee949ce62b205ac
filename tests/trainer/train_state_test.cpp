// trainer_state.json (trainer/train_state.h): what save writes, resume reads back; a damaged file
// is a CheckpointError naming the file and the key.
#include "trainer/train_state.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "tests/support/test_support.h"

namespace dpo {
namespace {

using json = nlohmann::json;

TrainState sample_state() {
  TrainState s;
  s.step = 6;
  s.optimizer_steps = 5;
  s.loader = BatchPosition{1, 3};
  s.bco_mean = 0.1 + 0.2;  // not exactly representable in decimal: must survive bit for bit
  s.bco_count = 12;
  s.consecutive_bad_steps = 1;
  s.bad_steps = 2;
  s.evaluations.push_back(EvalPoint{0, 0.69, 0.5, 0.693, 0.5, -1.25});
  s.evaluations.push_back(EvalPoint{4, 0.5, 0.75, 0.6, 0.625, -1.5});
  s.total_steps = 12;
  s.config.train.max_steps = 12;
  s.config.optim.lr = 5e-3;
  s.config.train.dtype = TrainDtype::bf16;
  return s;
}

TEST(TrainState, RoundTripsThroughJson) {
  const TrainState s = sample_state();
  const TrainState back = train_state_from_json_text(to_json_text(s), "trainer_state.json");
  EXPECT_EQ(back.step, 6);
  EXPECT_EQ(back.optimizer_steps, 5);
  EXPECT_EQ(back.loader, (BatchPosition{1, 3}));
  EXPECT_EQ(back.bco_mean, 0.1 + 0.2);
  EXPECT_EQ(back.bco_count, 12);
  EXPECT_EQ(back.consecutive_bad_steps, 1);
  EXPECT_EQ(back.bad_steps, 2);
  ASSERT_EQ(back.evaluations.size(), 2u);
  EXPECT_EQ(back.evaluations[1].step, 4u);
  EXPECT_EQ(back.evaluations[1].val_accuracy, 0.625);
  EXPECT_EQ(back.evaluations[0].val_chosen_logps_per_token, -1.25);
  EXPECT_EQ(back.total_steps, 12);
  EXPECT_EQ(to_json_text(back.config), to_json_text(s.config));
}

TEST(TrainState, WritesTheDocumentedKeys) {
  const json j = json::parse(to_json_text(sample_state()));
  for (const char* key :
       {"step",
        "optimizer_steps",
        "loader_epoch",
        "loader_cursor",
        "bco_mean",
        "bco_count",
        "consecutive_bad_steps",
        "bad_steps",
        "evaluations",
        "total_steps",
        "config"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  EXPECT_EQ(j["loader_cursor"], 3);
  EXPECT_EQ(j["config"]["train"]["dtype"], "bf16");
}

// The message of the CheckpointError that reading `text` from a file gives.
std::string read_error(const std::string& text, const std::string& path) {
  testing::write_file(path, text);
  try {
    read_train_state(path);
  } catch (const CheckpointError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected a CheckpointError";
  return "";
}

TEST(TrainState, AMissingKeyNamesTheFileAndTheKey) {
  testing::TempDir dir;
  const std::string path = dir.file("trainer_state.json");
  json j = json::parse(to_json_text(sample_state()));
  j.erase("loader_cursor");
  const std::string message = read_error(j.dump(), path);
  EXPECT_NE(message.find(path), std::string::npos) << message;
  EXPECT_NE(message.find("loader_cursor"), std::string::npos) << message;
  EXPECT_EQ(message.find("internal error"), std::string::npos) << message;
}

TEST(TrainState, AKeyOfTheWrongTypeOrInAnEvaluationIsNamedToo) {
  testing::TempDir dir;
  const std::string path = dir.file("trainer_state.json");
  json j = json::parse(to_json_text(sample_state()));
  j["bco_mean"] = "zero";
  std::string message = read_error(j.dump(), path);
  EXPECT_NE(message.find(path), std::string::npos) << message;
  EXPECT_NE(message.find("bco_mean"), std::string::npos) << message;

  j = json::parse(to_json_text(sample_state()));
  j["evaluations"][1].erase("val_loss");
  message = read_error(j.dump(), path);
  EXPECT_NE(message.find("evaluations[1].val_loss"), std::string::npos) << message;

  message = read_error("{\"step\": 1,", path);  // torn
  EXPECT_NE(message.find(path), std::string::npos) << message;
}

TEST(TrainState, AnUnreadableFileIsAnIoError) {
  testing::TempDir dir;
  EXPECT_THROW(read_train_state(dir.file("absent.json")), IoError);
}

}  // namespace
}  // namespace dpo
