// init_model_folder: a config.json whose sizes are out of bounds or would not fit in memory is
// refused naming the key (or the model) before anything is allocated or written.
#include "pipeline/model_factory.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "core/error.h"
#include "model/model_config.h"
#include "templates/chat_template.h"
#include "tests/support/test_support.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_folder.h"

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

// --tokenizer may name a Hugging Face tokenizer folder: its files are shipped as they are, with
// the chat template replaced when one is given.
TEST(InitModelFromTokenizerFolder, ShipsTheFolderWithTheGivenTemplate) {
  TempDir dir;
  const std::string model =
      testing::train_tiny_sentencepiece(dir, testing::tokenizer_test_corpus(), 100);
  const std::string source = dir.file("tokenizer");
  std::filesystem::create_directories(source);
  TokenizerFolderOptions folder_options;
  folder_options.chat_template = "{{ messages[0]['content'] }}";
  write_tokenizer_folder(source, model, folder_options);

  InitModelOptions options;
  options.preset = "tiny";
  options.tokenizer_path = source;
  options.template_spec = "chatml";
  options.out_dir = dir.file("model");
  InitModelResult result = init_model_folder(options);
  EXPECT_EQ(result.config.vocab_size, Tokenizer::from_model_folder(source).vocab_size());
  EXPECT_EQ(
      Tokenizer::from_model_folder(options.out_dir).sha256(),
      Tokenizer::from_model_folder(source).sha256());
  EXPECT_EQ(ChatTemplate::load(options.out_dir).text(), ChatTemplate::load("chatml").text());
  EXPECT_FALSE(std::filesystem::exists(options.out_dir + ".tokenizer-staging"));

  options.out_dir = dir.file("model2");
  options.eos_token = "</s>";
  try {
    init_model_folder(options);
    ADD_FAILURE() << "--eos-token with a tokenizer folder was accepted";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("tokenizer folder"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(std::filesystem::exists(options.out_dir));
}

}  // namespace
}  // namespace dpo
