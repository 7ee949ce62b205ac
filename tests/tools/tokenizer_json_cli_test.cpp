// Models whose folder holds only tokenizer.json (no tokenizer.model), as Llama 3.x, Qwen2.5 and
// Qwen3 ship: init-model, prepare, train and eval run end to end through the dpo binary, on a
// Qwen3-shaped and a Llama-3-shaped tiny model with the small tokenizer.json fixtures of
// tests/fixtures/hf_tokenizers (made by tools/make_hf_tokenizer_fixtures.py).
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "dataloader/prepared_dataset.h"
#include "tests/support/test_support.h"
#include "tests/trainer/trainer_fixture.h"
#include "tokenizer/tokenizer.h"

namespace dpo {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using testing::run_command;

const std::string kDpo = DPO_BINARY_PATH;

std::string quote(const std::string& text) {
  return "'" + text + "'";  // the test's paths hold no single quote
}

std::string run_ok(const std::string& command) {
  auto result = run_command(command);
  EXPECT_EQ(result.exit_code, 0) << command << "\n" << result.output;
  return result.output;
}

struct JsonModel {
  std::string fixture;        // folder under tests/fixtures/hf_tokenizers
  json tokenizer_config;      // the role tokens a hub tokenizer_config.json gives
  std::string template_name;  // dpo's built-in copy of the hub template
  std::string preset;         // model shape
};

// tokenizer.json + tokenizer_config.json -> init-model -> prepare -> train 3 steps -> eval.
void run_end_to_end(const JsonModel& m) {
  testing::TempDir dir;
  const std::string tok = dir.file("tok");
  fs::create_directories(tok);
  fs::copy_file(
      std::string(DPO_SOURCE_DIR) + "/tests/fixtures/hf_tokenizers/" + m.fixture +
          "/tokenizer.json",
      tok + "/tokenizer.json");
  testing::write_file(tok + "/tokenizer_config.json", m.tokenizer_config.dump(2));
  testing::write_file(dir.file("pairs.jsonl"), testing::support_pairs_jsonl(40));

  const std::string model = dir.file("model");
  run_ok(
      kDpo + " init-model --preset " + m.preset + " --tokenizer " + quote(tok) + " --template " +
      m.template_name + " --seed 3 --out " + quote(model));
  ASSERT_TRUE(fs::exists(model + "/tokenizer.json"));
  ASSERT_FALSE(fs::exists(model + "/tokenizer.model"));

  const std::string prepared = dir.file("prepared.h5");
  run_ok(
      kDpo + " prepare --data " + quote(dir.file("pairs.jsonl")) + " --model " + quote(model) +
      " --max-length 256 --val-fraction 0.25 --threads 1 --out " + quote(prepared));
  const PreparedHeader header = read_prepared_header(prepared);
  EXPECT_EQ(header.tokenizer_format, "json");
  const Tokenizer tokenizer = Tokenizer::from_model_folder(model);
  EXPECT_EQ(header.tokenizer_sha256, tokenizer.sha256());
  PreparedDataset data = read_prepared_dataset(prepared);
  ASSERT_GT(data.train.size(), 0u);
  ASSERT_GT(data.val.size(), 0u);
  // The prompt ids decode to the rendered template: its markers are single special tokens.
  const std::string prompt = tokenizer.decode(data.train.pair(0).prompt.to_vector());
  EXPECT_NE(prompt.find(m.tokenizer_config["eos_token"].get<std::string>()), std::string::npos)
      << prompt;

  testing::write_file(dir.file("config.json"), R"({
  "reference": {"mode": "precomputed"},
  "loss": {"types": ["sigmoid"], "beta": 0.1},
  "optim": {"lr": 5e-3, "warmup_steps": 1},
  "train": {"device": "cpu", "dtype": "fp32", "micro_batch_pairs": 4, "max_steps": 3,
            "seed": 5, "threads": 1, "log_every_steps": 1, "save_every_steps": 3},
  "eval": {"every_steps": 3}
})");
  const std::string out = dir.file("run");
  run_ok(
      kDpo + " train --config " + quote(dir.file("config.json")) + " --set data.prepared=" +
      quote(prepared) + " --set model.path=" + quote(model) + " --set train.out_dir=" + quote(out));
  ASSERT_TRUE(fs::exists(out + "/final/tokenizer.json"));
  ASSERT_TRUE(fs::exists(out + "/final/model.safetensors"));
  const std::string eval = run_ok(
      kDpo + " eval --model " + quote(out + "/final") + " --reference " + quote(model) +
      " --data " + quote(prepared) + " --device cpu");
  EXPECT_NE(eval.find("accuracy"), std::string::npos) << eval;
}

TEST(TokenizerJsonCli, AQwen3ShapedModelWithOnlyTokenizerJsonPreparesTrainsAndEvaluates) {
  run_end_to_end(
      {"qwen",
       {{"eos_token", "<|im_end|>"}, {"pad_token", "<|endoftext|>"}, {"bos_token", nullptr}},
       "qwen3",
       "tiny-qwen3"});
}

TEST(TokenizerJsonCli, ALlama3ShapedModelWithOnlyTokenizerJsonPreparesTrainsAndEvaluates) {
  run_end_to_end(
      {"llama3",
       {{"bos_token", "<|begin_of_text|>"}, {"eos_token", "<|eot_id|>"}},
       "llama3_1",
       "tiny"});
}

// A folder with both files reads tokenizer.json by default (as AutoTokenizer) and tokenizer.model
// with --tokenizer-format sentencepiece; the prepared file records which, and a bad name exits 2.
TEST(TokenizerJsonCli, TokenizerFormatChoosesTheFileAndThePreparedFileRecordsIt) {
  testing::TempDir dir;
  const std::string model = dir.file("model");
  testing::write_file(dir.file("pairs.jsonl"), testing::support_pairs_jsonl(20));
  const std::string tok = dir.file("tok");
  fs::create_directories(tok);
  fs::copy_file(
      std::string(DPO_SOURCE_DIR) + "/tests/fixtures/hf_tokenizers/qwen/tokenizer.json",
      tok + "/tokenizer.json");
  testing::write_file(tok + "/tokenizer_config.json", R"({"eos_token": "<|im_end|>"})");
  run_ok(
      kDpo + " init-model --preset tiny-qwen3 --tokenizer " + quote(tok) +
      " --template qwen3 --out " + quote(model));
  auto refused = run_command(
      kDpo + " prepare --data " + quote(dir.file("pairs.jsonl")) + " --model " + quote(model) +
      " --tokenizer-format sentencepiece --out " + quote(dir.file("p.h5")));
  EXPECT_EQ(refused.exit_code, 2) << refused.output;
  EXPECT_NE(refused.output.find("tokenizer.model"), std::string::npos) << refused.output;
  auto bad = run_command(
      kDpo + " prepare --data " + quote(dir.file("pairs.jsonl")) + " --model " + quote(model) +
      " --tokenizer-format fast --out " + quote(dir.file("p.h5")));
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  EXPECT_NE(bad.output.find("fast"), std::string::npos) << bad.output;
  run_ok(
      kDpo + " prepare --data " + quote(dir.file("pairs.jsonl")) + " --model " + quote(model) +
      " --tokenizer-format json --max-length 256 --out " + quote(dir.file("p.h5")));
  EXPECT_EQ(read_prepared_header(dir.file("p.h5")).tokenizer_format, "json");
  const std::string inspect = run_ok(kDpo + " inspect " + quote(dir.file("p.h5")));
  EXPECT_NE(inspect.find("tokenizer.json"), std::string::npos) << inspect;
}

}  // namespace
}  // namespace dpo
