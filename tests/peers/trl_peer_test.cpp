// The CI guard of the peer harness (tools/peers/compare_trl.py, docs/parity.md "Side by side
// with TRL"): dpo and TRL's DPOTrainer on the same tiny model, pairs, batches and settings must
// keep giving the same numbers. Runs `compare_trl.py check` for a few steps on the first rows of
// the bundled pairs with the peers Python (DPO_PEERS_PYTHON, default .venv-peers, made by
// `make peers` or tools/peers/setup.sh): step-0 log-probs within 1e-5 per token, the losses of
// every step within 1e-4, the metrics of the same names, every shared loss type within 1e-6.
// Skipped, with the reason, when that Python is absent. About a minute on 2 cores.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "tests/support/test_support.h"

namespace dpo {
namespace {

namespace fs = std::filesystem;
using testing::run_command;

TEST(TrlPeer, TinyModelTrainsAsTrlDoes) {
  const std::string python = DPO_PEERS_PYTHON;
  if (!fs::exists(python)) {
    GTEST_SKIP() << "no peers Python at " << python
                 << ": run `make peers` or tools/peers/setup.sh (TRL, transformers and torch "
                    "pinned in tools/peers/requirements.txt), or configure with "
                    "-DDPO_PEERS_PYTHON=/path/to/python3 that has them";
  }
  testing::TempDir dir;
  const std::string command =
      python + " " + DPO_SOURCE_DIR + "/tools/peers/compare_trl.py check --build " +
      DPO_BINARY_DIR + " --work " + dir.path() +
      " --steps 4 --rows 48 --batch 4 --logps-batches 2 --tokenization-rows 16 --threads 2 2>&1";
  const auto result = run_command(command);
  std::printf("%s\n", result.output.c_str());  // the verdict table, in the ctest log
  EXPECT_EQ(result.exit_code, 0) << "a check failed (1) or the harness refused its input (2):\n"
                                 << result.output;
  EXPECT_NE(result.output.find("checks pass"), std::string::npos) << result.output;
}

// A model folder transformers cannot load (an architecture it does not know) cannot be given to
// both sides: the harness refuses it before any training, with exit 2 and the reason.
TEST(TrlPeer, RefusesAModelTransformersCannotLoad) {
  const std::string python = DPO_PEERS_PYTHON;
  if (!fs::exists(python))
    GTEST_SKIP() << "no peers Python at " << python << ": run `make peers`";
  testing::TempDir dir;
  const std::string dpo = std::string(DPO_BINARY_DIR) + "/dpo --log-level warn ";
  const std::string data = std::string(DPO_SOURCE_DIR) + "/examples/support/pairs.jsonl";
  auto made = run_command(
      dpo + "train-tokenizer " + data + " --out " + dir.file("tok") +
      " --vocab-size 2000 --user-symbol '<|im_start|>' --user-symbol '<|im_end|>' 2>&1 && " + dpo +
      "init-model --preset tiny --tokenizer " + dir.file("tok/tokenizer.model") +
      " --template chatml --special-token '<|im_start|>' --special-token '<|im_end|>' "
      "--eos-token '<|im_end|>' --out " +
      dir.file("model") + " 2>&1");
  ASSERT_EQ(made.exit_code, 0) << made.output;
  std::string config = testing::read_file(dir.file("model/config.json"));
  const size_t at = config.find("LlamaForCausalLM");
  ASSERT_NE(at, std::string::npos) << config;
  config.replace(at, std::string("LlamaForCausalLM").size(), "FooForCausalLM");
  const size_t type = config.find("\"llama\"");
  ASSERT_NE(type, std::string::npos) << config;
  config.replace(type, std::string("\"llama\"").size(), "\"foo\"");
  testing::write_file(dir.file("model/config.json"), config);

  const auto result = run_command(
      python + " " + DPO_SOURCE_DIR + "/tools/peers/compare_trl.py check --build " +
      DPO_BINARY_DIR + " --work " + dir.file("work") + " --model " + dir.file("model") +
      " --rows 48 --steps 2 2>&1");
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(
      result.output.find("refused: transformers cannot load the model folder"), std::string::npos)
      << result.output;
}

}  // namespace
}  // namespace dpo
