// tools/gpu/parity.py, the check of dpo's log-probs against another implementation of the model
// (transformers on a GPU machine), here with its numpy backend: a float64 forward written
// independently of dpo's C++, run with Debian's python3-numpy and python3-h5py.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "tests/support/test_support.h"
#include "tests/tools/tiny_pipeline.h"

namespace dpo {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using testing::dpo_ok;
using testing::run_command;
using testing::tiny_pipeline;

const std::string kParity =
    std::string("/usr/bin/python3 ") + DPO_SOURCE_DIR + "/tools/gpu/parity.py";

TEST(ParityScript, DpoLogProbsMatchTheNumpyForwardAndAnotherModelFails) {
  const auto& p = tiny_pipeline();
  testing::TempDir dir;
  // A copy of the pipeline's model whose norm weights `perturb` sets to values other than 1 (a
  // fresh model's unit norms would hide a mistake in them).
  fs::copy(p.model, dir.file("m"), fs::copy_options::recursive);
  auto perturbed = run_command(kParity + " perturb " + dir.file("m"));
  ASSERT_EQ(perturbed.exit_code, 0) << perturbed.output;
  EXPECT_NE(perturbed.output.find("9 bias and norm tensors"), std::string::npos)
      << perturbed.output;

  dpo_ok(
      "score --model " + dir.file("m") + " --data " + p.prepared +
      " --split val --threads 1 --out " + dir.file("s.jsonl"));
  const std::string compare = kParity + " --backend numpy --data " + p.prepared + " --scores " +
                              dir.file("s.jsonl") + " --max-pairs 12 --json " + dir.file("f.json");
  auto same = run_command(compare + " --model " + dir.file("m"));
  ASSERT_EQ(same.exit_code, 0) << same.output;
  json figures = json::parse(testing::read_file(dir.file("f.json")));
  EXPECT_EQ(figures["pairs"], 12);
  EXPECT_LT(figures["max_abs_diff_per_token"].get<double>(), 1e-4) << figures.dump();
  EXPECT_TRUE(figures["pass"].get<bool>());

  // The same scores against the unperturbed model: the norm weights differ, and it shows.
  auto other = run_command(compare + " --model " + p.model);
  EXPECT_EQ(other.exit_code, 1) << other.output;
  figures = json::parse(testing::read_file(dir.file("f.json")));
  EXPECT_GT(figures["max_abs_diff_per_token"].get<double>(), 1e-3) << figures.dump();
  EXPECT_FALSE(figures["pass"].get<bool>());
}

TEST(ParityScript, AScoresFileNamingAPairPastTheEndExitsNamingTheLine) {
  const auto& p = tiny_pipeline();
  testing::TempDir dir;
  testing::write_file(
      dir.file("s.jsonl"),
      R"({"split":"val","pair_index":0,"chosen_logps":-1,"rejected_logps":-1})"
      "\n"
      R"({"split":"val","pair_index":99999,"chosen_logps":-1,"rejected_logps":-1})"
      "\n");
  auto result = run_command(
      kParity + " --backend numpy --model " + p.model + " --data " + p.prepared + " --scores " +
      dir.file("s.jsonl"));
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(
      result.output.find(dir.file("s.jsonl") + ":2: pair 99999 is past the end"), std::string::npos)
      << result.output;
}

}  // namespace
}  // namespace dpo
