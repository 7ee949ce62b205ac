// dpo's loss family against TRL's DPOTrainer on the same log-probs. The peer harness
// (tools/peers/compare_trl.py check) runs TRL 1.16's own `_compute_loss` on per-token log-probs
// and writes, per loss case, TRL's loss and metrics into a JSON file; this test feeds the same
// per-pair sums and token counts to compute_loss and compares (docs/parity.md, "Side by side with
// TRL"). Where dpo's definition differs on purpose (sft over unequal lengths, bco_pair's running
// mean, accuracy ties; docs/losses.md) the file also holds dpo's documented value, computed by
// the harness, and the test holds dpo to that.
//
// Input: $DPO_TRL_LOSSES, or the committed tests/fixtures/trl_losses.json (made by the harness:
// `compare_trl.py check`, then `cp peers-out/check/trl_losses.json tests/fixtures/`), so that the
// comparison with TRL's figures runs even where TRL is not installed. With $DPO_TRL_LOSSES_OUT
// set, dpo's figures are written there for the harness's verdict table.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "losses/preference_loss.h"

namespace dpo {
namespace {

using json = nlohmann::json;

std::string input_path() {
  const char* env = std::getenv("DPO_TRL_LOSSES");
  return env && *env ? env : std::string(DPO_SOURCE_DIR) + "/tests/fixtures/trl_losses.json";
}

at::Tensor doubles(const json& values) {
  return at::tensor(values.get<std::vector<double>>(), at::TensorOptions().dtype(at::kDouble));
}

at::Tensor counts(const json& values) {
  return at::tensor(values.get<std::vector<int64_t>>());
}

TEST(TrlLossParity, EveryLossTypeAgreesWithTrlOnTheSameLogProbs) {
  const std::string path = input_path();
  std::ifstream in(path);
  ASSERT_TRUE(in) << "cannot read " << path;
  const json doc = json::parse(in);
  const json& p = doc.at("pairs");
  PairLogps logps;
  logps.policy_chosen = doubles(p.at("policy_chosen"));
  logps.policy_rejected = doubles(p.at("policy_rejected"));
  logps.reference_chosen = doubles(p.at("reference_chosen"));
  logps.reference_rejected = doubles(p.at("reference_rejected"));
  logps.chosen_tokens = counts(p.at("chosen_tokens"));
  logps.rejected_tokens = counts(p.at("rejected_tokens"));
  const int64_t pairs = logps.policy_chosen.size(0);
  const double tolerance = doc.at("tolerance").get<double>();
  ASSERT_GT(pairs, 0);
  ASSERT_GE(doc.at("cases").size(), 13u) << "every loss type dpo shares with TRL";

  // Ties (margin exactly 0): TRL counts them as wrong, dpo as half.
  const at::Tensor margins = (logps.policy_chosen - logps.reference_chosen) -
                             (logps.policy_rejected - logps.reference_rejected);
  const double ties = margins.eq(0).sum().item<double>();

  json out = {{"cases", json::array()}, {"ties", ties}, {"pairs", pairs}};
  for (const json& c : doc.at("cases")) {
    SCOPED_TRACE(c.at("name").get<std::string>());
    LossConfig config;
    config.types.clear();
    for (const json& name : c.at("types"))
      config.types.push_back(parse_loss_type(name.get<std::string>()));
    config.weights = c.at("weights").get<std::vector<double>>();
    config.beta = doc.at("beta").get<double>();
    config.discopop_tau = doc.at("discopop_tau").get<double>();
    config.label_smoothing = c.at("label_smoothing").get<double>();
    const LossOutput result = compute_loss(logps, config);
    const LossMeans m = result.metrics.mean();
    const double loss = result.loss.item<double>();
    EXPECT_NEAR(loss, c.at("dpo_expected_loss").get<double>(), tolerance);

    const json& trl = c.at("trl_metrics");
    const std::vector<std::pair<const char*, double>> same = {
        {"rewards/chosen", m.rewards_chosen},
        {"rewards/rejected", m.rewards_rejected},
        {"rewards/margins", m.rewards_margins},
        {"logps/chosen", m.logps_chosen},
        {"logps/rejected", m.logps_rejected}};
    bool metrics_ok = true;
    for (const auto& [name, value] : same) {
      const double want = trl.at(name).get<double>();
      // Summed log-probs reach a few hundred nats: the tolerance is relative there.
      const double limit = tolerance * std::max(1.0, std::fabs(want));
      EXPECT_NEAR(value, want, limit) << name;
      metrics_ok = metrics_ok && std::fabs(value - want) <= limit;
    }
    const double trl_accuracy = trl.at("rewards/accuracies").get<double>();
    const double accuracy_under_trl = m.rewards_accuracies - 0.5 * ties / pairs;
    EXPECT_NEAR(accuracy_under_trl, trl_accuracy, 1e-12) << "rewards/accuracies without ties";
    metrics_ok = metrics_ok && std::fabs(accuracy_under_trl - trl_accuracy) <= 1e-12;

    out["cases"].push_back(
        {{"name", c.at("name")},
         {"trl_loss", c.at("trl_loss")},
         {"dpo_expected_loss", c.at("dpo_expected_loss")},
         {"dpo_loss", loss},
         {"metrics_ok", metrics_ok},
         {"dpo_accuracy", m.rewards_accuracies},
         {"trl_accuracy", trl_accuracy}});
  }
  if (const char* out_path = std::getenv("DPO_TRL_LOSSES_OUT"); out_path && *out_path) {
    std::ofstream(out_path) << out.dump(1) << "\n";
  }
}

}  // namespace
}  // namespace dpo
