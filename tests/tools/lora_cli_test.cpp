// LoRA through the dpo binary: `dpo train` with lora.enabled writes a PEFT adapter, `dpo
// merge-lora` folds it into the base as a model folder that `dpo eval` reads, and bad LoRA input
// (rank 0, a target that matches no layer, an adapter of another PEFT type, DoRA, another base) is
// refused by name with exit 2.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <tuple>
#include <vector>

#include "tests/support/test_support.h"
#include "tests/trainer/trainer_fixture.h"

namespace dpo {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using testing::run_command;

const std::string kDpo = DPO_BINARY_PATH;

std::string quote(const std::string& text) {
  return "'" + text + "'";  // the test's paths hold no single quote
}

// pairs.jsonl -> tokenizer -> two models (2 layers, hidden 32, seeds 1 and 2) -> prepared.h5
// (for model1) in `dir`.
void make_world(const testing::TempDir& dir) {
  testing::write_file(dir.file("pairs.jsonl"), testing::support_pairs_jsonl(120));
  testing::write_file(dir.file("shape.json"), testing::tiny_model_config_json(512));
  const std::string markers = " --user-symbol '<|im_start|>' --user-symbol '<|im_end|>'";
  auto step = [](const std::string& command) {
    auto result = run_command(command);
    ASSERT_EQ(result.exit_code, 0) << command << "\n" << result.output;
  };
  step(
      kDpo + " train-tokenizer " + quote(dir.file("pairs.jsonl")) + " --out " +
      quote(dir.file("tok")) + " --vocab-size 512" + markers);
  for (const char* seed : {"1", "2"}) {
    step(
        kDpo + " init-model --config " + quote(dir.file("shape.json")) + " --tokenizer " +
        quote(dir.file("tok/tokenizer.model")) +
        " --template chatml --special-token '<|im_start|>' --special-token '<|im_end|>'"
        " --eos-token '<|im_end|>' --seed " +
        seed + " --out " + quote(dir.file(std::string("model") + seed)));
  }
  step(
      kDpo + " prepare --data " + quote(dir.file("pairs.jsonl")) + " --model " +
      quote(dir.file("model1")) + " --max-length 128 --val-fraction 0.2 --threads 1 --out " +
      quote(dir.file("prepared.h5")));
}

std::string train_command(const testing::TempDir& dir, const std::string& out_dir) {
  return kDpo + " train --set data.prepared=" + quote(dir.file("prepared.h5")) +
         " --set model.path=" + quote(dir.file("model1")) +
         " --set train.out_dir=" + quote(out_dir) +
         " --set train.device=cpu --set train.threads=1 --set train.max_steps=4"
         " --set train.micro_batch_pairs=4 --set train.save_every_steps=0 --set optim.lr=1e-2"
         " --set eval.every_steps=0 --set lora.enabled=true --set lora.rank=4"
         " --set 'lora.target_modules=[\"all-linear\"]'";
}

void expect_refused(const std::string& command, const std::string& needle) {
  auto result = run_command(command);
  EXPECT_EQ(result.exit_code, 2) << command << "\n" << result.output;
  EXPECT_NE(result.output.find(needle), std::string::npos) << result.output;
}

TEST(LoraCli, TrainWritesAnAdapterThatMergeLoraFoldsIntoAModelFolder) {
  testing::TempDir dir;
  make_world(dir);
  auto trained = run_command(train_command(dir, dir.file("run")));
  ASSERT_EQ(trained.exit_code, 0) << trained.output;
  ASSERT_TRUE(fs::exists(dir.file("run/final/adapter_model.safetensors")));

  auto merged = run_command(
      kDpo + " merge-lora --base " + quote(dir.file("model1")) + " --adapter " +
      quote(dir.file("run/final")) + " --out " + quote(dir.file("merged")));
  ASSERT_EQ(merged.exit_code, 0) << merged.output;
  EXPECT_NE(merged.output.find("rank 4"), std::string::npos) << merged.output;
  EXPECT_TRUE(fs::exists(dir.file("merged/model.safetensors")));
  EXPECT_TRUE(fs::exists(dir.file("merged/tokenizer.model")));  // copied from the base
  // The merged folder is a model dpo reads like any other.
  auto eval = run_command(
      kDpo + " eval --model " + quote(dir.file("merged")) + " --data " +
      quote(dir.file("prepared.h5")));
  EXPECT_EQ(eval.exit_code, 0) << eval.output;

  // Another base: its content hash is not the one the adapter records.
  expect_refused(
      kDpo + " merge-lora --base " + quote(dir.file("model2")) + " --adapter " +
          quote(dir.file("run/final")) + " --out " + quote(dir.file("merged2")),
      "trained on another base model");

  // Another PEFT type, DoRA.
  const std::vector<std::tuple<std::string, json, std::string>> unsupported = {
      {"peft_type", "IA3", "key 'peft_type' is 'IA3'"},
      {"use_dora", true, "key 'use_dora' is true"}};
  for (const auto& [key, value, needle] : unsupported) {
    const std::string adapter = dir.file("adapter-" + key);
    fs::copy(dir.file("run/final"), adapter);
    json config = json::parse(testing::read_file(adapter + "/adapter_config.json"));
    config[key] = value;
    testing::write_file(adapter + "/adapter_config.json", config.dump(2));
    expect_refused(
        kDpo + " merge-lora --base " + quote(dir.file("model1")) + " --adapter " + quote(adapter) +
            " --out " + quote(dir.file("merged-" + key)),
        needle);
  }
}

TEST(LoraCli, BadLoraConfigsAreRefusedByNameBeforeAnyWork) {
  testing::TempDir dir;
  make_world(dir);
  expect_refused(train_command(dir, dir.file("a")) + " --set lora.rank=0", "lora.rank is 0");
  expect_refused(
      train_command(dir, dir.file("b")) + " --set 'lora.target_modules=[\"qkv_proj\"]'",
      "lora.target_modules holds 'qkv_proj'");
  EXPECT_FALSE(fs::exists(dir.file("a/metrics.jsonl")));
}

}  // namespace
}  // namespace dpo
