// What --resume checks before continuing a run (trainer/resume_check.h): a sane trainer state,
// and a config equal to the checkpoint's in every key that changes the data order or the
// optimisation.
#include "trainer/resume_check.h"

#include <gtest/gtest.h>

#include "core/error.h"

namespace dpo {
namespace {

TrainState sane_state() {
  TrainState s;
  s.step = 6;
  s.optimizer_steps = 5;
  s.loader = BatchPosition{1, 3};
  s.bco_count = 12;
  s.consecutive_bad_steps = 1;
  s.bad_steps = 1;
  s.evaluations.push_back(EvalPoint{4, 0.5, 0.75, 0.6, 0.625, -1.5});
  s.total_steps = 12;
  s.config.train.max_steps = 12;
  s.config.train.out_dir = "runs/x";
  s.prepared_fingerprint = "f1";
  s.reference_hash = "r1";
  return s;
}

// The message check_train_state gives, or "" when it accepts the state.
std::string state_error(const TrainState& state) {
  try {
    check_train_state(state, "run/checkpoints/step-00000006/trainer_state.json");
    return "";
  } catch (const CheckpointError& error) {
    return error.what();
  }
}

TEST(CheckTrainState, AcceptsASaneState) {
  EXPECT_EQ(state_error(sane_state()), "");
  TrainState at_the_end = sane_state();
  at_the_end.step = 12;  // interrupted at the last step: resume writes final/
  EXPECT_EQ(state_error(at_the_end), "");
}

TEST(CheckTrainState, EachBrokenCounterIsNamedWithTheFile) {
  struct Case {
    const char* key;
    void (*damage)(TrainState&);
  };
  const Case cases[] = {
      {"'step' (-1)", [](TrainState& s) { s.step = -1; }},
      {"'optimizer_steps' (-5)", [](TrainState& s) { s.optimizer_steps = -5; }},
      {"'loader_epoch' (-1)", [](TrainState& s) { s.loader.epoch = -1; }},
      {"'loader_cursor' (-2)", [](TrainState& s) { s.loader.cursor = -2; }},
      {"'bco_count' (-1)", [](TrainState& s) { s.bco_count = -1; }},
      {"'bad_steps' (-1)", [](TrainState& s) { s.bad_steps = -1; }},
      {"'step' (9999) is past key 'total_steps' (12)", [](TrainState& s) { s.step = 9999; }},
      {"'total_steps' (0)", [](TrainState& s) { s.total_steps = 0; }},
      {"'optimizer_steps' (7) exceeds key 'step' (6)",
       [](TrainState& s) { s.optimizer_steps = 7; }},
      {"'bad_steps' (9)", [](TrainState& s) { s.bad_steps = 9; }},
      {"'consecutive_bad_steps' (2)", [](TrainState& s) { s.consecutive_bad_steps = 2; }},
      {"'bco_mean' is not finite", [](TrainState& s) { s.bco_mean = 1.0 / 0.0; }},
      {"'evaluations[0].step' (40)", [](TrainState& s) { s.evaluations[0].step = 40; }},
  };
  for (const Case& c : cases) {
    TrainState state = sane_state();
    c.damage(state);
    const std::string message = state_error(state);
    EXPECT_NE(message.find(c.key), std::string::npos) << c.key << " -> " << message;
    EXPECT_NE(message.find("step-00000006/trainer_state.json"), std::string::npos) << message;
  }
}

TEST(CheckLoaderPosition, ACursorPastTheEpochIsRefused) {
  const TrainState state = sane_state();  // cursor 3
  EXPECT_NO_THROW(check_loader_position(state, 4, "s.json"));
  try {
    check_loader_position(state, 3, "s.json");
    FAIL() << "expected CheckpointError";
  } catch (const CheckpointError& error) {
    EXPECT_NE(
        std::string(error.what()).find("'s.json': key 'loader_cursor' (3)"), std::string::npos)
        << error.what();
  }
}

// The message check_resume_config gives, or "" when it accepts.
std::string resume_error(
    const Config& now,
    const std::vector<std::string>& allowed = {},
    const std::string& fingerprint = "f1",
    const std::string& reference = "r1",
    int64_t total_steps = 12) {
  try {
    check_resume_config(
        sane_state(), now, fingerprint, reference, total_steps, allowed, "ckpt/trainer_state.json");
    return "";
  } catch (const CheckpointError& error) {
    return error.what();
  }
}

TEST(CheckResumeConfig, TheSameConfigResumes) {
  EXPECT_EQ(resume_error(sane_state().config), "");
}

TEST(CheckResumeConfig, HarmlessChangesAreOnlyNoted) {
  Config now = sane_state().config;
  now.train.log_every_steps = 1;
  now.train.save_every_steps = 7;
  now.train.keep_checkpoints = 5;
  now.train.out_dir = "runs/moved";
  now.train.threads = 3;
  now.eval.every_steps = 2;
  now.eval.patience = 9;
  now.data.prepared = "elsewhere/copy.h5";  // same fingerprint
  now.model.path = "models/copy";
  EXPECT_EQ(resume_error(now), "");
}

TEST(CheckResumeConfig, ChangesOfTheDataOrderOrTheOptimisationAreRefusedAndListed) {
  Config now = sane_state().config;
  now.train.micro_batch_pairs = 8;
  now.optim.lr = 1e-3;
  now.train.seed = 3;
  const std::string message = resume_error(now);
  EXPECT_NE(message.find("cannot resume from 'ckpt/trainer_state.json'"), std::string::npos);
  EXPECT_NE(message.find("in 3 keys"), std::string::npos) << message;
  EXPECT_NE(message.find("train.micro_batch_pairs: 4 -> 8"), std::string::npos) << message;
  EXPECT_NE(message.find("optim.lr: 1e-06 -> 0.001"), std::string::npos) << message;
  EXPECT_NE(message.find("train.seed: 0 -> 3"), std::string::npos) << message;
  for (auto change : std::vector<void (*)(Config&)>{
           [](Config& c) { c.train.grad_accum = 2; },
           [](Config& c) { c.train.dtype = TrainDtype::bf16; },
           [](Config& c) { c.optim.schedule = ScheduleKind::linear; },
           [](Config& c) { c.optim.warmup_steps = 3; },
           [](Config& c) { c.loss.beta = 0.5; },
           [](Config& c) { c.reference.mode = ReferenceMode::live; },
       }) {
    Config changed = sane_state().config;
    change(changed);
    EXPECT_NE(resume_error(changed).find("the data order or the optimisation"), std::string::npos);
  }
}

TEST(CheckResumeConfig, OtherDataOrReferenceContentIsRefusedWhateverThePath) {
  const Config same = sane_state().config;
  EXPECT_NE(
      resume_error(same, {}, "f2").find("prepared data fingerprint: f1 -> f2"), std::string::npos);
  EXPECT_NE(
      resume_error(same, {}, "f1", "r2").find("reference model content hash: r1 -> r2"),
      std::string::npos);
  // A state written before these were recorded compares the config only.
  TrainState old = sane_state();
  old.prepared_fingerprint.clear();
  old.reference_hash.clear();
  EXPECT_NO_THROW(check_resume_config(old, same, "f9", "r9", 12, {}, "s.json"));
}

TEST(CheckResumeConfig, MaxStepsChangesTheScheduleAndNeedsToBeAllowed) {
  Config longer = sane_state().config;
  longer.train.max_steps = 20;
  const std::string message = resume_error(longer, {}, "f1", "r1", 20);
  EXPECT_NE(message.find("train.max_steps: 12 -> 20"), std::string::npos) << message;
  EXPECT_NE(message.find("total_steps: 12 -> 20"), std::string::npos) << message;
  EXPECT_EQ(resume_error(longer, {"train.max_steps"}, "f1", "r1", 20), "");
  // Allowed or not, a run cannot continue from a step past its end.
  Config shorter = sane_state().config;
  shorter.train.max_steps = 4;
  EXPECT_NE(
      resume_error(shorter, {"train.max_steps"}, "f1", "r1", 4)
          .find("its step 6 is past this run's last step 4"),
      std::string::npos);
}

TEST(CheckResumeConfig, AnAllowedKeyPassesAndOnlyThatOne) {
  Config now = sane_state().config;
  now.optim.lr = 1e-3;
  now.train.seed = 3;
  EXPECT_EQ(resume_error(now, {"optim.lr", "train.seed"}), "");
  const std::string message = resume_error(now, {"optim.lr"});
  EXPECT_NE(message.find("train.seed: 0 -> 3"), std::string::npos) << message;
  EXPECT_EQ(message.find("optim.lr"), std::string::npos) << message;
}

TEST(ConfigChanges, ListsEveryDifferingLeafKey) {
  Config a, b;
  b.optim.betas = {0.8, 0.99};
  b.train.out_dir = "y";
  std::vector<ConfigChange> changes = config_changes(a, b);
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[0].text(), "optim.betas: [0.9,0.999] -> [0.8,0.99]");
  EXPECT_EQ(changes[1].key, "train.out_dir");
  EXPECT_TRUE(change_is_harmless("train.out_dir"));
  EXPECT_FALSE(change_is_harmless("optim.betas"));
  EXPECT_FALSE(change_is_harmless("train.micro_batch_pairs"));
  EXPECT_FALSE(change_is_harmless("loss.types"));
}

}  // namespace
}  // namespace dpo
