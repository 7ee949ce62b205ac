// PEFT adapter folders: what dpo writes reads back to the same forward, the config fields are
// peft's, and the adapters dpo must not apply (another PEFT type, DoRA, another base, other
// shapes, missing tensors) are refused by name.
#include "model/peft_adapter.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "core/atomic_file.h"
#include "core/error.h"
#include "model/checkpoint.h"
#include "model/lora.h"
#include "model/safetensors.h"
#include "tests/model/model_test_util.h"
#include "tests/support/test_support.h"

namespace dpo {
namespace {

using json = nlohmann::json;
using testing::make_test_model;
using testing::random_ids;
using testing::TempDir;
using testing::test_config;

LoraConfig config_for_test() {
  LoraConfig config;
  config.enabled = true;
  config.rank = 4;
  config.alpha = 16;
  config.target_modules = {"q_proj", "v_proj", "down_proj"};
  config.train_lm_head = true;
  return config;
}

void randomise_b(LlamaForCausalLMImpl& model, uint64_t seed) {
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  at::NoGradGuard no_grad;
  for (auto& [name, tensor] : lora_parameters(model)) {
    if (name.find("lora_B") != std::string::npos)
      tensor.copy_(at::randn(tensor.sizes(), gen, at::kFloat) * 0.1);
  }
}

// A model with a trained-looking adapter, saved to DIR/adapter.
struct SavedAdapter {
  LlamaForCausalLM model = make_test_model(test_config());
  std::string base_hash;
  std::string folder;
  explicit SavedAdapter(const TempDir& dir) {
    base_hash = model_content_hash(*model);
    attach_lora(*model, config_for_test(), 3);
    randomise_b(*model, 5);
    folder = dir.file("adapter");
    PeftSaveOptions options;
    options.base_model_hash = base_hash;
    options.base_model_name_or_path = "tiny-base";
    save_peft_adapter(*model, config_for_test(), folder, options);
  }
};

json read_json(const std::string& path) {
  return json::parse(testing::read_file(path));
}

TEST(PeftAdapter, WrittenFolderLoadsBackToTheSameForward) {
  TempDir dir;
  SavedAdapter saved(dir);
  at::Tensor ids = random_ids(2, 7, 53);
  at::Tensor expected = saved.model->forward(ids);

  auto fresh = make_test_model(test_config());  // the same base (same seed)
  PeftAdapterConfig loaded = load_peft_adapter(*fresh, saved.folder, model_content_hash(*fresh));
  EXPECT_EQ(loaded.lora.rank, 4);
  EXPECT_DOUBLE_EQ(loaded.lora.alpha, 16);
  EXPECT_TRUE(loaded.lora.train_lm_head);
  EXPECT_EQ(loaded.base_model_name_or_path, "tiny-base");
  EXPECT_TRUE(at::equal(fresh->forward(ids), expected));
}

TEST(PeftAdapter, ConfigHasPeftsFieldsAndTheTensorsPeftsNames) {
  TempDir dir;
  SavedAdapter saved(dir);
  json config = read_json(saved.folder + "/adapter_config.json");
  EXPECT_EQ(config["peft_type"], "LORA");
  EXPECT_EQ(config["task_type"], "CAUSAL_LM");
  EXPECT_EQ(config["r"], 4);
  EXPECT_EQ(config["lora_alpha"], 16);
  EXPECT_EQ(config["bias"], "none");
  EXPECT_EQ(config["use_dora"], false);
  EXPECT_EQ(config["init_lora_weights"], true);
  EXPECT_EQ(config["target_modules"], json({"q_proj", "v_proj", "down_proj"}));
  EXPECT_EQ(config["modules_to_save"], json({"lm_head"}));

  SafeTensorsFile file(saved.folder + "/adapter_model.safetensors");
  EXPECT_TRUE(file.contains("base_model.model.model.layers.1.mlp.down_proj.lora_B.weight"));
  EXPECT_TRUE(file.contains("base_model.model.lm_head.weight"));
  EXPECT_EQ(file.names().size(), 2u * 3 * 2 + 1);
  EXPECT_EQ(file.header().metadata.at(kPeftBaseHashKey), saved.base_hash);
}

TEST(PeftAdapter, AnotherBaseModelIsRefusedByItsHash) {
  TempDir dir;
  SavedAdapter saved(dir);
  auto other = make_test_model(test_config(), /*seed=*/8);
  try {
    load_peft_adapter(*other, saved.folder, model_content_hash(*other));
    FAIL();
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("trained on another base model"), std::string::npos)
        << e.what();
  }
}

TEST(PeftAdapter, ShapesOfAnotherArchitectureAreRefusedByName) {
  TempDir dir;
  SavedAdapter saved(dir);
  ModelConfig wider = test_config();
  wider.intermediate_size = 64;  // down_proj's A is [r, 64] there
  auto other = make_test_model(wider);
  try {
    load_peft_adapter(*other, saved.folder);  // no hash given: the shapes must still match
    FAIL();
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("down_proj.lora_A.weight' has shape"), std::string::npos)
        << e.what();
  }
}

TEST(PeftAdapter, MissingTensorsAreRefusedByName) {
  TempDir dir;
  SavedAdapter saved(dir);
  const std::string weights = saved.folder + "/adapter_model.safetensors";
  NamedTensors kept;
  {
    SafeTensorsFile file(weights);
    for (const std::string& name : file.names()) {
      if (name.find("layers.1.self_attn.v_proj.lora_B") == std::string::npos)
        kept.emplace_back(name, file.tensor(name).clone());
    }
  }
  write_safetensors(weights, kept);
  auto fresh = make_test_model(test_config());
  try {
    load_peft_adapter(*fresh, saved.folder);
    FAIL();
  } catch (const CheckpointError& e) {
    EXPECT_NE(
        std::string(e.what()).find("layers.1.self_attn.v_proj.lora_B.weight"), std::string::npos)
        << e.what();
  }
}

void expect_config_refused(const std::string& key, const json& value, const std::string& needle) {
  TempDir dir;
  SavedAdapter saved(dir);
  const std::string path = saved.folder + "/adapter_config.json";
  json config = read_json(path);
  config[key] = value;
  write_file_atomically(path, config.dump(2));
  auto fresh = make_test_model(test_config());
  try {
    load_peft_adapter(*fresh, saved.folder);
    FAIL() << key;
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(PeftAdapter, UnsupportedAdapterConfigsAreRefusedByName) {
  expect_config_refused("peft_type", "IA3", "key 'peft_type' is 'IA3'");
  expect_config_refused("use_dora", true, "key 'use_dora' is true");
  expect_config_refused("rank_pattern", json{{"q_proj", 2}}, "key 'rank_pattern' is set");
  expect_config_refused("r", 0, "rank is 0");
  expect_config_refused("init_lora_weights", "pissa", "key 'init_lora_weights'");
  expect_config_refused(
      "target_modules", json({"q_proj", "qkv_proj"}), "'qkv_proj' matches no linear layer");
}

TEST(PeftAdapter, RegexTargetsSelectModulePathsAsPeftDoes) {
  TempDir dir;
  SavedAdapter saved(dir);
  at::Tensor ids = random_ids(1, 6, 53);
  at::Tensor expected = saved.model->forward(ids);
  const std::string path = saved.folder + "/adapter_config.json";
  json config = read_json(path);
  config["target_modules"] = R"(.*\.(q_proj|v_proj|down_proj))";
  write_file_atomically(path, config.dump(2));
  auto fresh = make_test_model(test_config());
  load_peft_adapter(*fresh, saved.folder);
  EXPECT_EQ(lora_adapted_paths(*fresh).size(), 6u);
  EXPECT_TRUE(at::equal(fresh->forward(ids), expected));
}

TEST(PeftAdapter, AnAdapterOnSomeLayersOfANameIsWrittenWithModulePaths) {
  TempDir dir;
  auto model = make_test_model(test_config());
  LoraConfig config = config_for_test();
  config.train_lm_head = false;
  config.target_modules = {"model.layers.1.self_attn.q_proj", "v_proj"};
  attach_lora(*model, config, 3);
  randomise_b(*model, 5);
  save_peft_adapter(*model, config, dir.file("adapter"));
  json written = read_json(dir.file("adapter/adapter_config.json"));
  EXPECT_EQ(written["target_modules"], json({"v_proj", "model.layers.1.self_attn.q_proj"}));

  at::Tensor ids = random_ids(1, 6, 53);
  auto fresh = make_test_model(test_config());
  load_peft_adapter(*fresh, dir.file("adapter"));
  EXPECT_EQ(lora_adapted_paths(*fresh), lora_adapted_paths(*model));
  EXPECT_TRUE(at::equal(fresh->forward(ids), model->forward(ids)));
}

TEST(PeftAdapter, AnExistingFolderIsKeptUnlessOverwriting) {
  TempDir dir;
  SavedAdapter saved(dir);
  EXPECT_THROW(save_peft_adapter(*saved.model, config_for_test(), saved.folder), CheckpointError);
  PeftSaveOptions overwrite;
  overwrite.overwrite = true;
  save_peft_adapter(*saved.model, config_for_test(), saved.folder, overwrite);
  EXPECT_TRUE(std::filesystem::exists(saved.folder + "/adapter_model.safetensors"));
}

}  // namespace
}  // namespace dpo
