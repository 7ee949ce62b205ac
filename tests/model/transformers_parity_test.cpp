// Parity with transformers itself: tools/check_transformers_parity.py (run with the oracle
// Python, DPO_ORACLE_PYTHON) builds tiny random models of every architecture with transformers
// and saves them; dpo loads each folder, computes per-token log-probs (the right-padded batched
// forward, and sequence_logprobs, the function behind dpo score and training) and must agree
// within 1e-5 nats per token; then dpo writes the model with its own checkpoint writer (the code
// that writes a run's final/) and the script loads that folder with AutoModelForCausalLM and
// compares again. Skipped, with the reason, when the oracle Python is absent.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "model/checkpoint.h"
#include "model/sequence_logprobs.h"
#include "tests/support/test_support.h"

namespace dpo {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using testing::run_command;

constexpr double kTolerance = 1e-5;  // nats per token

const std::string kScript = std::string(DPO_SOURCE_DIR) + "/tools/check_transformers_parity.py";

TEST(TransformersParity, EveryArchitectureMatchesTransformersBothWays) {
  const std::string python = DPO_ORACLE_PYTHON;
  if (!fs::exists(python)) {
    GTEST_SKIP() << "no oracle Python at " << python
                 << ": run `make oracle` (tools/oracle/setup.sh) or configure with "
                    "-DDPO_ORACLE_PYTHON=/path/to/python3 that has transformers and torch";
  }
  testing::TempDir dir;
  auto generated = run_command(python + " " + kScript + " generate --out " + dir.path());
  ASSERT_EQ(generated.exit_code, 0) << generated.output;
  const json cases = json::parse(testing::read_file(dir.file("cases.json")))["cases"];
  ASSERT_GE(cases.size(), 10u);

  json dpo_results = json::object();
  for (const auto& [name, c] : cases.items()) {
    SCOPED_TRACE(name);
    LoadedModel loaded = load_pretrained(c["folder"], at::kFloat, at::kCPU);
    auto& model = *loaded.model;
    at::NoGradGuard no_grad;

    // All sequences as one right-padded batch: padding and the sliding-window masks together.
    const auto sequences = c["sequences"].get<std::vector<std::vector<int64_t>>>();
    const auto expected = c["logprobs"].get<std::vector<std::vector<double>>>();
    const int64_t n = static_cast<int64_t>(sequences.size());
    int64_t t = 0;
    for (const auto& s : sequences)
      t = std::max<int64_t>(t, static_cast<int64_t>(s.size()));
    at::Tensor ids = at::zeros({n, t}, at::kLong);
    std::vector<int64_t> lengths;
    for (int64_t r = 0; r < n; ++r) {
      const auto& s = sequences[static_cast<size_t>(r)];
      ids[r].narrow(0, 0, static_cast<int64_t>(s.size())).copy_(at::tensor(s));
      lengths.push_back(static_cast<int64_t>(s.size()));
    }
    at::Tensor logp = at::log_softmax(model.forward(ids, at::tensor(lengths)).to(at::kFloat), -1);

    double worst = 0;
    json ours = json::array();
    for (int64_t r = 0; r < n; ++r) {
      const auto& s = sequences[static_cast<size_t>(r)];
      std::vector<double> row;
      for (size_t i = 1; i < s.size(); ++i) {
        const double value = logp[r][static_cast<int64_t>(i) - 1][s[i]].item<double>();
        row.push_back(value);
        worst = std::max(worst, std::abs(value - expected[static_cast<size_t>(r)][i - 1]));
      }
      ours.push_back(row);
    }
    EXPECT_LE(worst, kTolerance) << "forward, largest difference per token";

    // sequence_logprobs over the second half of each sequence (the completion), as dpo score.
    std::vector<int64_t> start, length;
    for (int64_t len : lengths) {
      start.push_back(std::max<int64_t>(1, len / 2));
      length.push_back(len - start.back());
    }
    SequenceLogprobs sums = sequence_logprobs(model, ids, at::tensor(start), at::tensor(length));
    for (int64_t r = 0; r < n; ++r) {
      const auto& e = expected[static_cast<size_t>(r)];
      double want = 0;
      for (int64_t i = start[static_cast<size_t>(r)]; i < lengths[static_cast<size_t>(r)]; ++i)
        want += e[static_cast<size_t>(i) - 1];
      const double per_token = std::abs(sums.sum[r].item<double>() - want) /
                               static_cast<double>(std::max<int64_t>(1, length[r]));
      EXPECT_LE(per_token, kTolerance) << "sequence_logprobs, row " << r;
    }

    const std::string saved = dir.file(name + "/dpo");
    save_pretrained(model, saved);
    dpo_results[name] = {{"logprobs", ours}, {"saved", saved}};
  }
  testing::write_file(dir.file("dpo.json"), dpo_results.dump());

  // The folders dpo wrote, loaded by transformers; the script prints the table of figures.
  auto compared = run_command(
      python + " " + kScript + " compare --cases " + dir.file("cases.json") + " --dpo " +
      dir.file("dpo.json") + " --tolerance " + std::to_string(kTolerance));
  std::printf("%s", compared.output.c_str());
  EXPECT_EQ(compared.exit_code, 0) << compared.output;
}

}  // namespace
}  // namespace dpo
