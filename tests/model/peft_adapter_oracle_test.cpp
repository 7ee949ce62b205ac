// PEFT compatibility both ways against peft itself: tools/check_peft_adapter.py (run with the
// oracle Python, DPO_ORACLE_PYTHON) makes a tiny Llama with transformers and a LoRA adapter with
// peft; dpo loads that adapter on the base and must reproduce peft's per-token log-probs within
// 1e-5; then dpo writes its own adapter (B not zero) and peft loads it with
// PeftModel.from_pretrained and must reproduce dpo's. Skipped, with the reason, when the oracle
// Python is absent or has no peft.
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "model/checkpoint.h"
#include "model/lora.h"
#include "model/peft_adapter.h"
#include "tests/support/test_support.h"

namespace dpo {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using testing::run_command;

constexpr double kTolerance = 1e-5;  // nats per token

const std::string kScript = std::string(DPO_SOURCE_DIR) + "/tools/check_peft_adapter.py";

// Per-token log-probs log p(ids[t] | ids[:t]), t >= 1, each sequence run alone.
std::vector<std::vector<double>> token_logprobs(
    LlamaForCausalLMImpl& model, const std::vector<std::vector<int64_t>>& sequences) {
  at::NoGradGuard no_grad;
  std::vector<std::vector<double>> out;
  for (const auto& s : sequences) {
    at::Tensor ids = at::tensor(s).view({1, -1});
    at::Tensor logp = at::log_softmax(model.forward(ids).to(at::kFloat), -1)[0];  // [T, V]
    std::vector<double> row;
    for (size_t t = 1; t < s.size(); ++t)
      row.push_back(logp[static_cast<int64_t>(t) - 1][s[t]].item<double>());
    out.push_back(row);
  }
  return out;
}

double largest_difference(
    const std::vector<std::vector<double>>& a, const std::vector<std::vector<double>>& b) {
  double worst = 0;
  for (size_t r = 0; r < a.size(); ++r) {
    for (size_t t = 0; t < a[r].size(); ++t)
      worst = std::max(worst, std::abs(a[r][t] - b[r][t]));
  }
  return worst;
}

TEST(PeftOracle, AdaptersLoadBothWaysWithTheSameLogProbs) {
  const std::string python = DPO_ORACLE_PYTHON;
  if (!fs::exists(python)) {
    GTEST_SKIP() << "no oracle Python at " << python
                 << ": run `make oracle` (tools/oracle/setup.sh) or configure with "
                    "-DDPO_ORACLE_PYTHON=/path/to/python3 that has transformers, torch and peft";
  }
  if (run_command(python + " -c 'import peft'").exit_code != 0) {
    GTEST_SKIP() << "the oracle Python " << python
                 << " has no peft: pip install the pin of tools/oracle/requirements.txt";
  }
  testing::TempDir dir;
  auto generated = run_command(python + " " + kScript + " generate --out " + dir.path());
  ASSERT_EQ(generated.exit_code, 0) << generated.output;
  const json cases = json::parse(testing::read_file(dir.file("cases.json")));
  const auto sequences = cases["sequences"].get<std::vector<std::vector<int64_t>>>();
  const auto peft_logprobs = cases["logprobs"].get<std::vector<std::vector<double>>>();

  // (b) peft wrote it, dpo loads it.
  LoadedModel base = load_pretrained(dir.file("base"), at::kFloat, at::kCPU);
  load_peft_adapter(*base.model, dir.file("peft"), model_content_hash(*base.model));
  const double loaded_diff =
      largest_difference(token_logprobs(*base.model, sequences), peft_logprobs);
  std::printf(
      "dpo loads peft %s's adapter: largest |dpo - peft| = %.2e nats per token\n",
      cases["peft_version"].get<std::string>().c_str(),
      loaded_diff);
  EXPECT_LE(loaded_diff, kTolerance);

  // (a) dpo writes one (every linear layer, lm_head trained, B random), peft loads it.
  LoadedModel fresh = load_pretrained(dir.file("base"), at::kFloat, at::kCPU);
  LoraConfig config;
  config.rank = 4;
  config.alpha = 16;
  config.target_modules = {"all-linear"};
  config.train_lm_head = true;
  attach_lora(*fresh.model, config, 11);
  {
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(12);
    at::NoGradGuard no_grad;
    for (auto& [name, tensor] : lora_parameters(*fresh.model)) {
      if (name.find("lora_B") != std::string::npos)
        tensor.copy_(at::randn(tensor.sizes(), gen, at::kFloat) * 0.2);
      else if (name.find("lm_head") != std::string::npos)
        tensor.add_(at::randn(tensor.sizes(), gen, at::kFloat) * 0.05);
    }
  }
  PeftSaveOptions save;
  save.base_model_name_or_path = dir.file("base");
  save.base_model_hash = model_content_hash(*fresh.model);
  save_peft_adapter(*fresh.model, config, dir.file("dpo_adapter"), save);
  const auto ours = token_logprobs(*fresh.model, sequences);
  ASSERT_GT(largest_difference(ours, peft_logprobs), 1e-2);  // another adapter: it must show
  testing::write_file(
      dir.file("dpo.json"), json{{"sequences", sequences}, {"logprobs", ours}}.dump());
  auto compared = run_command(
      python + " " + kScript + " compare --base " + dir.file("base") + " --adapter " +
      dir.file("dpo_adapter") + " --dpo " + dir.file("dpo.json") + " --tolerance " +
      std::to_string(kTolerance));
  std::printf("%s", compared.output.c_str());
  EXPECT_EQ(compared.exit_code, 0) << compared.output;
}

}  // namespace
}  // namespace dpo
