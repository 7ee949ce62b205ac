// The criteria of `dpo check` that judge figures alone, on the cases where a naive rule cries
// wolf (issue 19, "gates that do not cry wolf").
#include "pipeline/data_gates.h"

#include <gtest/gtest.h>

#include "losses/preference_loss.h"
#include "trainer/config.h"
#include "trainer/slice_metrics.h"

namespace dpo {
namespace {

TEST(CheckCriteria, TruncationFailsOnlyWhenNobodyAskedForIt) {
  Config config;  // data.length_policy drop, check.allow_truncation false
  EXPECT_TRUE(truncation_criterion(0, 5, config).passed);  // dropped pairs are not truncated
  Criterion truncated = truncation_criterion(3, 0, config);
  EXPECT_FALSE(truncated.passed);
  EXPECT_EQ(truncated.value, 3);

  // The config chose truncation: cutting prompts is what it asked for, not a fault of the data.
  config.data.length_policy = LengthPolicy::truncate_prompt_left;
  Criterion asked = truncation_criterion(3, 0, config);
  EXPECT_TRUE(asked.passed);
  EXPECT_NE(asked.detail.find("data.length_policy asks for truncation"), std::string::npos);
  config.data.length_policy = LengthPolicy::truncate_completion;
  EXPECT_TRUE(truncation_criterion(3, 0, config).passed);

  Config allowed;
  allowed.check.allow_truncation = true;
  EXPECT_TRUE(truncation_criterion(3, 0, allowed).passed);
}

TEST(CheckCriteria, HeldOutAccuracyAboveChancePlusTheMargin) {
  Config config;  // margin 0.05: above 0.55
  LossMeans initial, final_eval;
  initial.pairs = final_eval.pairs = 40;
  initial.rewards_accuracies = 0.5;
  final_eval.rewards_accuracies = 1.0;  // saturated: passes
  EXPECT_TRUE(val_accuracy_criterion(initial, final_eval, config).passed);
  final_eval.rewards_accuracies = 0.55;  // at chance + margin: not above
  EXPECT_FALSE(val_accuracy_criterion(initial, final_eval, config).passed);
}

TEST(CheckCriteria, NoHeldOutPairSaysSoInsteadOfReportingAccuracyZero) {
  Config config;
  LossMeans none;
  Criterion c = val_accuracy_criterion(none, none, config);
  EXPECT_FALSE(c.passed);
  EXPECT_NE(c.detail.find("no held-out pair to measure"), std::string::npos) << c.detail;
  EXPECT_NE(c.detail.find("data.val_fraction"), std::string::npos) << c.detail;
}

TEST(CompareCriteria, OnePairOfASmallSaturatedSetIsNotARegression) {
  // Both baseline seeds at 12/12 (spread 0), the candidate at 11/12: drop 0.0833. Before, the
  // allowed drop was max(0.02, 2 x 0) = 0.02: a regression for one pair. Pooled p = 23/24,
  // SE = sqrt(23/24 * 1/24 * (1/12 + 1/12)) = 0.081579, allowed = 2 x SE = 0.163158.
  Config config;
  const double se = accuracy_difference_standard_error(1.0, 12, 11.0 / 12.0, 12);
  EXPECT_NEAR(se, 0.0815788, 1e-6);
  EXPECT_NEAR(overall_allowed_drop(config, 0.0, se), 0.1631575, 1e-6);
  EXPECT_LT(1.0 - 11.0 / 12.0, overall_allowed_drop(config, 0.0, se));

  // On 400 pairs the same accuracies are a real drop: SE = 0.01413, allowed 0.0283 < 0.0833.
  const double large = accuracy_difference_standard_error(1.0, 400, 11.0 / 12.0, 400);
  EXPECT_GT(1.0 - 11.0 / 12.0, overall_allowed_drop(config, 0.0, large));
  // The seeds' spread and the threshold still count.
  EXPECT_DOUBLE_EQ(overall_allowed_drop(config, 0.1, 0.0), 0.2);  // noise_multiplier 2
  EXPECT_DOUBLE_EQ(overall_allowed_drop(config, 0.0, 0.0), 0.02);
}

}  // namespace
}  // namespace dpo
