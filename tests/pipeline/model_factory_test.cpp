// init_model_folder: a config.json whose sizes are out of bounds or would not fit in memory is
// refused naming the key (or the model) before anything is allocated or written.
#include "pipeline/model_factory.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "core/error.h"
#include "model/model_config.h"
#include "tests/support/test_support.h"

namespace dpo {
namespace {

using testing::TempDir;

class InitModelLimits : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.tokenizer_path =
        testing::train_tiny_sentencepiece(dir_, testing::tokenizer_test_corpus(), 100);
    options_.out_dir = dir_.file("model");
  }
  // Expects init_model_folder with config `c` to throw a ConfigError holding `fragment`.
  void expect_refused(const ModelConfig& c, const std::string& fragment) {
    write_model_config(dir_.file("config.json"), c);
    options_.config_path = dir_.file("config.json");
    try {
      init_model_folder(options_);
      ADD_FAILURE() << "wrote a model; expected " << fragment;
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
    EXPECT_FALSE(std::filesystem::exists(options_.out_dir));
    EXPECT_FALSE(std::filesystem::exists(options_.out_dir + ".tokenizer-staging"));
  }
  TempDir dir_;
  InitModelOptions options_;
};

TEST_F(InitModelLimits, OutOfBoundsSizesAreNamedByKey) {
  const ModelConfig tiny = model_config_preset("tiny", 100);
  ModelConfig c = tiny;
  c.num_hidden_layers = 1000000;
  expect_refused(c, "key 'num_hidden_layers' = 1000000 is above dpo's limit of 1024");
  c = tiny;
  c.vocab_size = int64_t{1} << 37;
  expect_refused(c, "key 'vocab_size' = 137438953472 is above dpo's limit");
  c = tiny;
  c.intermediate_size = int64_t{1} << 37;
  expect_refused(c, "key 'intermediate_size' = 137438953472 is above dpo's limit");
}

TEST_F(InitModelLimits, AModelLargerThanTheMachineIsRefusedBeforeAllocating) {
  ModelConfig c = model_config_preset("tiny", 100);
  c.hidden_size = kMaxHiddenSize;
  c.num_attention_heads = 64;
  c.num_key_value_heads = 64;
  c.head_dim = 1024;
  c.intermediate_size = kMaxIntermediateSize;
  c.num_hidden_layers = kMaxHiddenLayers;
  expect_refused(c, "does not fit in this machine's memory");
}

TEST_F(InitModelLimits, ASmallConfigStillWorks) {
  ModelConfig c = model_config_preset("tiny", 100);
  write_model_config(dir_.file("config.json"), c);
  options_.config_path = dir_.file("config.json");
  InitModelResult result = init_model_folder(options_);
  EXPECT_EQ(result.config.num_hidden_layers, 4);
  EXPECT_TRUE(std::filesystem::exists(options_.out_dir + "/model.safetensors"));
}

}  // namespace
}  // namespace dpo
