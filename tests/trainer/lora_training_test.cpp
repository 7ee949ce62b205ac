// LoRA runs of train_dpo (lora.enabled) on the tiny world of dpo_trainer_test.cpp, built again
// here (the suites compile each test file on its own): only adapter tensors change, the run
// learns, checkpoints hold the adapters alone and resume bit for bit, final/ is a PEFT adapter
// folder that loads back, final-merged/ is the merged model, and a run can start from an adapter.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "dataloader/prepare.h"
#include "dataloader/tokenizer_training.h"
#include "model/checkpoint.h"
#include "model/lora.h"
#include "model/peft_adapter.h"
#include "model/safetensors.h"
#include "pipeline/model_factory.h"
#include "tests/support/test_support.h"
#include "tests/trainer/tiny_world.h"
#include "tests/trainer/trainer_fixture.h"
#include "trainer/checkpoint_store.h"
#include "trainer/config.h"
#include "trainer/dpo_trainer.h"
#include "trainer/evaluation.h"

namespace dpo {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

using LoraWorld = testing::TinyWorld;

void build_world(LoraWorld& w) {
  testing::build_tiny_world(w, testing::support_pairs_jsonl(240), 0.2);
}

const LoraWorld& world() {
  static LoraWorld w;
  static bool built = (build_world(w), true);
  (void)built;
  return w;
}

std::string copy_prepared(const testing::TempDir& dir) {
  std::string path = dir.file("prepared.h5");
  fs::copy_file(world().prepared_path, path, fs::copy_options::overwrite_existing);
  return path;
}

// tiny_config of dpo_trainer_test.cpp with LoRA on every linear layer; a LoRA run takes a larger
// learning rate than full training.
Config lora_config(const std::string& prepared_path, const std::string& out_dir) {
  Config config;
  config.data.prepared = prepared_path;
  config.model.path = world().model_dir;
  config.train.out_dir = out_dir;
  config.train.device = DeviceChoice::cpu;
  config.train.threads = 1;
  config.train.seed = 7;
  config.optim.lr = 2e-2;
  config.optim.schedule = ScheduleKind::constant;
  config.train.micro_batch_pairs = 8;
  config.train.max_steps = 40;
  config.train.log_every_steps = 1;
  config.train.save_every_steps = 0;
  config.eval.every_steps = 0;
  config.eval.batch_pairs = 16;
  config.lora.enabled = true;
  config.lora.rank = 4;
  config.lora.alpha = 8;
  config.lora.target_modules = {"all-linear"};
  return config;
}

std::map<int64_t, double> train_losses(const std::string& run_dir) {
  std::map<int64_t, double> out;
  for (const json& line : testing::metrics_lines(run_dir + "/metrics.jsonl", "train"))
    out[line["step"].get<int64_t>()] = line["loss"].get<double>();
  return out;
}

std::map<std::string, at::Tensor> adapter_tensors(const std::string& folder) {
  SafeTensorsFile file(folder + "/adapter_model.safetensors");
  std::map<std::string, at::Tensor> out;
  for (const std::string& name : file.names())
    out[name] = file.tensor(name).clone();
  return out;
}

TEST(LoraTraining, LearnsWithAFrozenBaseAndWritesAPeftAdapter) {
  testing::TempDir dir;
  Config config = lora_config(copy_prepared(dir), dir.file("run"));
  config.reference.mode = ReferenceMode::live;  // the policy with the adapters off
  TrainResult result = train_dpo(config);
  ASSERT_EQ(result.stop_reason, "max_steps");
  EXPECT_GT(result.final_eval.rewards_accuracies, result.initial_eval.rewards_accuracies);
  EXPECT_GT(result.final_eval.rewards_accuracies, 0.8);

  // final/ is a PEFT adapter folder, not a model folder.
  EXPECT_TRUE(fs::exists(result.final_dir + "/adapter_config.json"));
  EXPECT_FALSE(fs::exists(result.final_dir + "/model.safetensors"));
  json adapter_config = json::parse(testing::read_file(result.final_dir + "/adapter_config.json"));
  EXPECT_EQ(adapter_config["r"], 4);
  EXPECT_EQ(adapter_config["base_model_name_or_path"], world().model_dir);

  // Only adapter tensors changed: the base is still model.path's, bit for bit (its hash at the
  // end), and every B moved away from zero.
  LoadedModel base = load_pretrained(world().model_dir, at::kFloat, at::kCPU);
  const std::string base_hash = model_content_hash(*base.model);
  for (const auto& [name, tensor] : adapter_tensors(result.final_dir)) {
    if (name.find("lora_B") != std::string::npos) {
      EXPECT_GT(tensor.abs().max().item<double>(), 0) << name;
    }
  }
  json manifest = json::parse(testing::read_file(config.train.out_dir + "/manifest.json"));
  EXPECT_EQ(manifest["model"]["content_hash"], base_hash);
  EXPECT_EQ(manifest["reference"]["content_hash"], base_hash);
  EXPECT_EQ(manifest["final_model"]["base_content_hash"], base_hash);
  EXPECT_TRUE(manifest["lora"]["enabled"].get<bool>());
  EXPECT_EQ(manifest["gradient_checkpointing"], false);

  // The adapter loads back on the base and scores the held-out pairs as the run's final eval.
  load_peft_adapter(*base.model, result.final_dir, base_hash);
  EXPECT_EQ(lora_adapted_paths(*base.model).size(), 14u);  // 2 layers x 7 linear layers
}

TEST(LoraTraining, AStepChangesOnlyTheAdaptersAndTheirOptimizerState) {
  testing::TempDir dir;
  Config config = lora_config(copy_prepared(dir), dir.file("run"));
  config.train.max_steps = 1;
  config.train.save_every_steps = 1;
  TrainResult result = train_dpo(config);
  ASSERT_EQ(result.steps, 1);
  const std::string checkpoint = result.last_checkpoint;
  ASSERT_FALSE(checkpoint.empty());
  // The checkpoint holds the adapters and their optimizer state, no model weights.
  EXPECT_TRUE(fs::exists(checkpoint + "/adapter/adapter_model.safetensors"));
  EXPECT_FALSE(fs::exists(checkpoint + "/model"));
  std::map<std::string, at::Tensor> adapter = adapter_tensors(checkpoint + "/adapter");
  SafeTensorsFile optimizer(checkpoint + "/optimizer.safetensors");
  for (const std::string& name : optimizer.names()) {
    if (name == "rng.cpu")
      continue;
    const std::string param = name.substr(0, name.rfind('.'));
    EXPECT_EQ(adapter.count(param), 1u) << name << " is not the state of an adapter tensor";
  }
  // After one step every B moved from zero; A did not (its gradient is B^T times something, and
  // B was zero), as in any LoRA.
  auto fresh = load_pretrained(world().model_dir, at::kFloat, at::kCPU).model;
  attach_lora(*fresh, config.lora, config.train.seed);
  for (const auto& [name, start] : lora_parameters(*fresh)) {
    ASSERT_EQ(adapter.count(name), 1u) << name;
    const bool moved = !at::equal(adapter[name], start.detach());
    EXPECT_EQ(moved, name.find("lora_B") != std::string::npos) << name;
  }
  // And the base weights did not move.
  json manifest = json::parse(testing::read_file(config.train.out_dir + "/manifest.json"));
  EXPECT_EQ(manifest["final_model"]["base_content_hash"], manifest["model"]["content_hash"]);
}

TEST(LoraTraining, ResumedRunRepeatsTheUninterruptedLossesBitForBit) {
  testing::TempDir dir;
  const std::string prepared = copy_prepared(dir);
  Config a = lora_config(prepared, dir.file("a"));
  a.train.max_steps = 10;
  a.train.save_every_steps = 2;
  a.eval.every_steps = 4;
  a.lora.dropout = 0.1;  // the dropout masks come from the generator the checkpoint saves
  a.optim.schedule = ScheduleKind::cosine;
  a.optim.warmup_steps = 2;
  TrainResult straight = train_dpo(a);
  ASSERT_EQ(straight.stop_reason, "max_steps");

  Config b = a;
  b.train.out_dir = dir.file("b");
  RunFlags flags;
  flags.stop_after_steps = 5;
  TrainResult first = train_dpo(b, flags);
  ASSERT_EQ(first.stop_reason, "interrupted");
  flags.stop_after_steps = 0;
  flags.resume = true;
  TrainResult resumed = train_dpo(b, flags);
  EXPECT_EQ(resumed.steps, 10);

  std::map<int64_t, double> expected = train_losses(a.train.out_dir),
                            actual = train_losses(b.train.out_dir);
  ASSERT_EQ(expected.size(), 10u);
  ASSERT_EQ(actual.size(), 10u);
  for (const auto& [step, loss] : expected)
    EXPECT_EQ(actual[step], loss) << "step " << step;  // bit for bit
  std::map<std::string, at::Tensor> final_a = adapter_tensors(straight.final_dir),
                                    final_b = adapter_tensors(resumed.final_dir);
  ASSERT_EQ(final_a.size(), final_b.size());
  for (const auto& [name, tensor] : final_a)
    EXPECT_TRUE(at::equal(tensor, final_b[name])) << name;
}

TEST(LoraTraining, MergedFolderScoresAsTheAdapterOnTheBase) {
  testing::TempDir dir;
  Config config = lora_config(copy_prepared(dir), dir.file("run"));
  config.train.max_steps = 6;
  config.train.merge_lora = true;
  config.train.gradient_checkpointing = true;
  TrainResult result = train_dpo(config);
  const std::string merged = config.train.out_dir + "/final-merged";
  ASSERT_TRUE(fs::exists(merged + "/model.safetensors"));
  json manifest = json::parse(testing::read_file(config.train.out_dir + "/manifest.json"));
  EXPECT_EQ(manifest["gradient_checkpointing"], true);
  EXPECT_EQ(manifest["lora"]["merged_model"], merged);

  LoadedModel with_adapter = load_pretrained(world().model_dir, at::kFloat, at::kCPU);
  load_peft_adapter(*with_adapter.model, result.final_dir);
  LoadedModel folded = load_pretrained(merged, at::kFloat, at::kCPU);
  at::Tensor ids = at::arange(1, 40, at::kLong).view({3, 13});
  at::NoGradGuard no_grad;
  const double diff =
      (with_adapter.model->forward(ids) - folded.model->forward(ids)).abs().max().item<double>();
  EXPECT_LT(diff, 1e-5);
}

TEST(LoraTraining, StartsFromAnAdapterWithItMergedIntoTheReference) {
  testing::TempDir dir;
  // An "SFT adapter": a short LoRA run's final/.
  Config sft = lora_config(copy_prepared(dir), dir.file("sft"));
  sft.train.max_steps = 5;
  const std::string init = train_dpo(sft).final_dir;

  // Precomputed reference = base + that adapter: the step-0 check (policy = reference) passes,
  // and the first step's loss is ln 2.
  Config run = lora_config(copy_prepared(dir), dir.file("dpo"));
  run.lora.init_adapter = init;
  run.lora.rank = 16;  // the adapter's own config wins
  run.train.max_steps = 3;
  TrainResult result = train_dpo(run);
  ASSERT_EQ(result.stop_reason, "max_steps");
  EXPECT_NEAR(train_losses(run.train.out_dir).at(1), std::log(2.0), 1e-5);
  json adapter_config = json::parse(testing::read_file(result.final_dir + "/adapter_config.json"));
  EXPECT_EQ(adapter_config["r"], 4);

  // Live reference without the merge: the reference is the base, the policy starts elsewhere,
  // so the first loss is not ln 2.
  Config unmerged = run;
  unmerged.train.out_dir = dir.file("dpo-unmerged");
  unmerged.reference.mode = ReferenceMode::live;
  unmerged.lora.merge_init_adapter_into_reference = false;
  train_dpo(unmerged);
  EXPECT_GT(std::abs(train_losses(unmerged.train.out_dir).at(1) - std::log(2.0)), 1e-4);
}

TEST(LoraTraining, BadLoraConfigsAreRefusedByName) {
  testing::TempDir dir;
  auto refused = [&](Config config, const std::string& needle) {
    try {
      train_dpo(config);
      ADD_FAILURE() << "no error for " << needle;
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  Config zero = lora_config(copy_prepared(dir), dir.file("run"));
  zero.lora.rank = 0;
  refused(zero, "lora.rank is 0");
  Config unknown = lora_config(copy_prepared(dir), dir.file("run"));
  unknown.lora.target_modules = {"qkv_proj"};
  refused(unknown, "'qkv_proj'");
  Config dropout = lora_config(copy_prepared(dir), dir.file("run"));
  dropout.lora.dropout = 0.1;
  dropout.train.gradient_checkpointing = true;
  refused(dropout, "lora.dropout");
  Config not_an_adapter = lora_config(copy_prepared(dir), dir.file("run"));
  not_an_adapter.lora.init_adapter = world().model_dir;  // a model folder, no adapter_config.json
  try {
    train_dpo(not_an_adapter);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("adapter_config.json"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace dpo
