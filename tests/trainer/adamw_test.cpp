#include "trainer/adamw.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <gtest/gtest.h>

#include <cmath>

namespace dpo {
namespace {

// Two steps on one scalar, computed by hand from the update rule in adamw.h.
TEST(AdamW, MatchesTheUpdateRuleByHand) {
  at::Tensor p = at::full({1, 1}, 1.0f).set_requires_grad(true);  // 2-D: in the decay group
  AdamWOptions options;
  options.weight_decay = 0.1;
  AdamW optimizer(adamw_parameter_groups({{"w", p}}), options);

  p.mutable_grad() = at::full({1, 1}, 0.5f);
  optimizer.step(0.01);
  // decay: 1 * (1 - 0.01*0.1) = 0.999; m = 0.05, v = 0.00025; m_hat = 0.5, v_hat = 0.25
  // p = 0.999 - 0.01 * 0.5 / (0.5 + 1e-8) = 0.989
  EXPECT_NEAR(p.item<float>(), 0.989f, 1e-6);

  p.mutable_grad() = at::full({1, 1}, -1.0f);
  optimizer.step(0.01);
  // decay: 0.989 * 0.999 = 0.988011; m = 0.045 - 0.1 = -0.055; v = 0.00024975 + 0.001 = 0.00124975
  // m_hat = -0.055 / 0.19 = -0.289474; v_hat = 0.00124975 / 0.001999 = 0.625188
  // p = 0.988011 + 0.01 * 0.289474 / 0.790688 = 0.991672
  EXPECT_NEAR(p.item<float>(), 0.991672f, 2e-6);
  EXPECT_EQ(optimizer.steps(), 2);
}

TEST(AdamW, BiasesAndNormWeightsAreNotDecayed) {
  auto groups = adamw_parameter_groups(
      {{"layer.weight", at::ones({2, 2}).set_requires_grad(true)},
       {"norm.weight", at::ones({2}).set_requires_grad(true)}});
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_TRUE(groups[0].decay);
  EXPECT_FALSE(groups[1].decay);
}

TEST(AdamW, StateRoundTripContinuesIdentically) {
  auto make = [] { return at::arange(6, at::kFloat).reshape({2, 3}).set_requires_grad(true); };
  at::Tensor a = make(), b = make();
  AdamW first(adamw_parameter_groups({{"w", a}}), {});
  a.mutable_grad() = at::full({2, 3}, 0.3f);
  first.step(0.1);

  AdamW second(adamw_parameter_groups({{"w", b}}), {});
  {
    at::NoGradGuard guard;
    b.copy_(a);
  }
  second.load_state(first.state_tensors(), first.steps());
  a.mutable_grad() = at::full({2, 3}, -0.2f);
  b.mutable_grad() = at::full({2, 3}, -0.2f);
  first.step(0.1);
  second.step(0.1);
  EXPECT_TRUE(at::equal(a, b));
}

TEST(AdamW, Bf16ParametersKeepFp32Masters) {
  at::Tensor p = at::full({2, 2}, 1.0, at::kBFloat16).set_requires_grad(true);
  AdamWOptions options;
  options.master_weights = true;
  AdamW optimizer(adamw_parameter_groups({{"w", p}}), options);
  // Many tiny steps: a bf16-only update would round each one away (1 - 1e-4 == 1 in bf16).
  for (int i = 0; i < 50; ++i) {
    p.mutable_grad() = at::full({2, 2}, 1.0, at::kBFloat16);
    optimizer.step(1e-4);
  }
  auto state = optimizer.state_tensors();
  ASSERT_TRUE(state.count("w.master"));
  EXPECT_NEAR(state["w.master"][0][0].item<float>(), 1.0f - 50e-4f, 1e-5);
  EXPECT_LT(p[0][0].item<float>(), 1.0f);
}

}  // namespace
}  // namespace dpo
