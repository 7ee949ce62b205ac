// Every loss of the family against values worked out by hand, gradient checks against finite
// differences, the accuracy tie rule, weighted sums and gradient accumulation.
#include "losses/preference_loss.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace dpo {
namespace {

at::Tensor vec(std::vector<double> values) {
  return at::tensor(values, at::TensorOptions().dtype(at::kDouble));
}

// Two pairs, beta = 0.5 throughout:
//   pair 0: policy (chosen -10, rejected -12), reference (-11, -11), tokens (4, 2)
//           chosen ratio +1, rejected ratio -1, delta +2, z = beta * delta = +1
//   pair 1: policy (-5, -5), reference (-4, -6), tokens (1, 1)
//           chosen ratio -1, rejected ratio +1, delta -2, z = -1
// Notation: sp(x) = log(1 + e^x), so -log sigmoid(x) = sp(-x); sp(-1) = 0.31326168751822286,
// sp(1) = 1.31326168751822286, sp(-0.5) = 0.47407698418010663, sp(0.5) = 0.97407698418010663,
// sigmoid(0.5) = 0.62245933120185456, sigmoid(1) = 0.73105857863000488.
PairLogps two_pairs() {
  PairLogps p;
  p.policy_chosen = vec({-10, -5});
  p.policy_rejected = vec({-12, -5});
  p.reference_chosen = vec({-11, -4});
  p.reference_rejected = vec({-11, -6});
  p.chosen_tokens = at::tensor(std::vector<int64_t>{4, 1});
  p.rejected_tokens = at::tensor(std::vector<int64_t>{2, 1});
  return p;
}

LossConfig config_for(LossType type) {
  LossConfig c;
  c.types = {type};
  c.beta = 0.5;
  return c;
}

void expect_per_pair(const LossOutput& out, double pair0, double pair1) {
  ASSERT_EQ(out.per_pair.size(0), 2);
  EXPECT_NEAR(out.per_pair[0].item<double>(), pair0, 1e-12);
  EXPECT_NEAR(out.per_pair[1].item<double>(), pair1, 1e-12);
  EXPECT_NEAR(out.loss.item<double>(), (pair0 + pair1) / 2, 1e-12);
  EXPECT_NEAR(out.metrics.loss, pair0 + pair1, 1e-12);
}

TEST(PreferenceLoss, SigmoidIsMinusLogSigmoidOfBetaTimesDelta) {
  // pair 0: -log sigmoid(1) = sp(-1); pair 1: -log sigmoid(-1) = sp(1)
  expect_per_pair(
      compute_loss(two_pairs(), config_for(LossType::sigmoid)),
      0.31326168751822286,
      1.3132616875182228);
}

TEST(PreferenceLoss, SigmoidWithLabelSmoothingIsConservativeDpo) {
  // -(0.9) log sigmoid(z) - 0.1 log sigmoid(-z); since sp(1) = 1 + sp(-1):
  // pair 0: 0.9 sp(-1) + 0.1 sp(1) = sp(-1) + 0.1 = 0.41326168751822286
  // pair 1: 0.9 sp(1) + 0.1 sp(-1) = sp(-1) + 0.9 = 1.21326168751822286
  LossConfig c = config_for(LossType::sigmoid);
  c.label_smoothing = 0.1;
  expect_per_pair(compute_loss(two_pairs(), c), 0.41326168751822286, 1.2132616875182229);
}

TEST(PreferenceLoss, RobustDividesTheDebiasedTermsByOneMinusTwoEpsilon) {
  // (0.9 sp(-z) - 0.1 sp(z)) / 0.8
  // pair 0: (0.9 sp(-1) - 0.1 (1 + sp(-1))) / 0.8 = sp(-1) - 0.125 = 0.18826168751822286
  // pair 1: (0.9 (1 + sp(-1)) - 0.1 sp(-1)) / 0.8 = sp(-1) + 1.125 = 1.43826168751822286
  LossConfig c = config_for(LossType::robust);
  c.label_smoothing = 0.1;
  expect_per_pair(compute_loss(two_pairs(), c), 0.18826168751822286, 1.4382616875182229);
}

TEST(PreferenceLoss, IpoUsesPerTokenMeanLogRatios) {
  // 1 / (2 beta) = 1
  // pair 0: d = 1/4 - (-1)/2 = 0.75; (0.75 - 1)^2 = 0.0625
  // pair 1: d = -1/1 - 1/1 = -2;     (-2 - 1)^2 = 9
  expect_per_pair(compute_loss(two_pairs(), config_for(LossType::ipo)), 0.0625, 9.0);
}

TEST(PreferenceLoss, HingeIsReluOfOneMinusBetaDelta) {
  // pair 0: relu(1 - 1) = 0; pair 1: relu(1 + 1) = 2
  expect_per_pair(compute_loss(two_pairs(), config_for(LossType::hinge)), 0.0, 2.0);
}

TEST(PreferenceLoss, ExoPairIsTheKlToTheSmoothedLabels) {
  // s(z) (log s(z) - log 0.9) + s(-z) (log s(-z) - log 0.1), s = sigmoid
  // pair 0 (z = 1):  0.7310585786 (-0.3132616875 + 0.1053605157)
  //                + 0.2689414214 (-1.3132616875 + 2.3025850930) = 0.11408210766749785
  // pair 1 (z = -1): 0.2689414214 (-1.3132616875 + 0.1053605157)
  //                + 0.7310585786 (-0.3132616875 + 2.3025850930) = 1.129457283207938
  LossConfig c = config_for(LossType::exo_pair);
  c.label_smoothing = 0.1;
  expect_per_pair(compute_loss(two_pairs(), c), 0.11408210766749785, 1.129457283207938);
}

TEST(PreferenceLoss, ExoPairTreatsZeroSmoothingAsOneInAThousand) {
  LossConfig zero = config_for(LossType::exo_pair);
  LossConfig small = zero;
  small.label_smoothing = 1e-3;
  const LossOutput a = compute_loss(two_pairs(), zero);
  EXPECT_TRUE(std::isfinite(a.loss.item<double>()));
  EXPECT_NEAR(a.loss.item<double>(), compute_loss(two_pairs(), small).loss.item<double>(), 1e-15);
}

TEST(PreferenceLoss, NcaPairActsOnEachRewardSeparately) {
  // -log s(rc) - 0.5 log s(-rc) - 0.5 log s(-rr), rc = beta * chosen ratio, rr likewise
  // pair 0 (rc = 0.5, rr = -0.5):  sp(-0.5) + 0.5 sp(0.5) + 0.5 sp(-0.5)
  //                              = 1.5 * 0.47407698418 + 0.5 * 0.97407698418 = 1.1981539683602134
  // pair 1 (rc = -0.5, rr = 0.5):  sp(0.5) + 0.5 sp(-0.5) + 0.5 sp(0.5)
  //                              = 1.5 * 0.97407698418 + 0.5 * 0.47407698418 = 1.6981539683602134
  expect_per_pair(
      compute_loss(two_pairs(), config_for(LossType::nca_pair)),
      1.1981539683602134,
      1.6981539683602134);
}

TEST(PreferenceLoss, SppoHardPullsRatiosToPlusMinusHalfOverBeta) {
  // (chosen ratio - 1)^2 + (rejected ratio + 1)^2 with 0.5 / beta = 1
  // pair 0: (1 - 1)^2 + (-1 + 1)^2 = 0; pair 1: (-1 - 1)^2 + (1 + 1)^2 = 8
  expect_per_pair(compute_loss(two_pairs(), config_for(LossType::sppo_hard)), 0.0, 8.0);
}

TEST(PreferenceLoss, BcoPairShiftsRewardsByTheirRunningMean) {
  // Batch rewards: chosen (0.5, -0.5), rejected (-0.5, 0.5): mean 0, so delta = 0.
  // pair 0: -log s(0.5) - log s(0.5) = 2 sp(-0.5) = 0.94815396836021326
  // pair 1: -log s(-0.5) - log s(-0.5) = 2 sp(0.5) = 1.94815396836021326
  const BcoState start;
  const LossOutput first = compute_loss(two_pairs(), config_for(LossType::bco_pair), start);
  expect_per_pair(first, 0.9481539683602133, 1.9481539683602133);
  EXPECT_EQ(first.bco.count, 1);
  EXPECT_DOUBLE_EQ(first.bco.mean_value(), 0.0);

  // A second batch whose rewards are all beta * 2 = 1: the running mean becomes (0 + 1) / 2.
  // loss = -log s(1 - 0.5) - log s(-(1 - 0.5)) = sp(-0.5) + sp(0.5) = 1.4481539683602133
  PairLogps second;
  second.policy_chosen = vec({0});
  second.policy_rejected = vec({0});
  second.reference_chosen = vec({-2});
  second.reference_rejected = vec({-2});
  second.chosen_tokens = vec({1});
  second.rejected_tokens = vec({1});
  const LossOutput out = compute_loss(second, config_for(LossType::bco_pair), first.bco);
  EXPECT_EQ(out.bco.count, 2);
  EXPECT_DOUBLE_EQ(out.bco.mean_value(), 0.5);
  EXPECT_NEAR(out.loss.item<double>(), 1.4481539683602133, 1e-12);
  // The running mean stays a float64 tensor on the inputs' device.
  EXPECT_EQ(out.bco.mean.scalar_type(), at::kDouble);
  EXPECT_EQ(out.bco.mean.device(), second.policy_chosen.device());
}

TEST(PreferenceLoss, ComputeLossIsPureForBco) {
  // The state passed in is not touched, and the same inputs give the same output: delta 0.5 as
  // above (state mean 0 after one batch, then the second batch's mean reward 1 folds in).
  const BcoState state = BcoState::from_value(0.0, 1, at::kCPU);
  PairLogps second;
  second.policy_chosen = vec({0});
  second.policy_rejected = vec({0});
  second.reference_chosen = vec({-2});
  second.reference_rejected = vec({-2});
  second.chosen_tokens = vec({1});
  second.rejected_tokens = vec({1});
  const LossOutput a = compute_loss(second, config_for(LossType::bco_pair), state);
  const LossOutput b = compute_loss(second, config_for(LossType::bco_pair), state);
  EXPECT_EQ(state.count, 1);
  EXPECT_EQ(state.mean_value(), 0.0);
  EXPECT_EQ(a.loss.item<double>(), b.loss.item<double>());
  EXPECT_NEAR(a.loss.item<double>(), 1.4481539683602133, 1e-12);
  EXPECT_EQ(a.bco.count, 2);
  EXPECT_DOUBLE_EQ(a.bco.mean_value(), 0.5);
  // A loss without bco_pair hands the state back unchanged.
  const LossOutput sigmoid = compute_loss(second, config_for(LossType::sigmoid), a.bco);
  EXPECT_EQ(sigmoid.bco.count, 2);
  EXPECT_DOUBLE_EQ(sigmoid.bco.mean_value(), 0.5);
}

TEST(PreferenceLoss, BcoPairFromTheDefaultStateStartsTheRunningMean) {
  // Without a state the running mean starts empty: rewards all 1 give delta 1, so
  // loss = -log s(1 - 1) - log s(-(1 - 1)) = 2 log 2.
  PairLogps p;
  p.policy_chosen = vec({0});
  p.policy_rejected = vec({0});
  p.reference_chosen = vec({-2});
  p.reference_rejected = vec({-2});
  p.chosen_tokens = vec({1});
  p.rejected_tokens = vec({1});
  const LossOutput out = compute_loss(p, config_for(LossType::bco_pair));
  EXPECT_NEAR(out.loss.item<double>(), 2.0 * std::log(2.0), 1e-12);
  EXPECT_EQ(out.bco.count, 1);
  EXPECT_DOUBLE_EQ(out.bco.mean_value(), 1.0);
}

TEST(PreferenceLoss, ApoZeroRaisesChosenAndLowersRejected) {
  // (1 - s(beta * chosen ratio)) + s(beta * rejected ratio)
  // pair 0: 1 - s(0.5) + s(-0.5) = 2 * 0.37754066879814544 = 0.7550813375962909
  // pair 1: 1 - s(-0.5) + s(0.5) = 2 * 0.62245933120185456 = 1.2449186624037091
  expect_per_pair(
      compute_loss(two_pairs(), config_for(LossType::apo_zero)),
      0.7550813375962908,
      1.2449186624037092);
}

TEST(PreferenceLoss, ApoDownLowersChosenAndRejectedMore) {
  // s(beta * chosen ratio) + 1 - s(beta * delta)
  // pair 0: s(0.5) + 1 - s(1)   = 0.62245933120 + 1 - 0.73105857863 = 0.8914007525718496
  // pair 1: s(-0.5) + 1 - s(-1) = 0.37754066880 + 1 - 0.26894142137 = 1.1085992474281503
  expect_per_pair(
      compute_loss(two_pairs(), config_for(LossType::apo_down)),
      0.8914007525718496,
      1.1085992474281503);
}

TEST(PreferenceLoss, DiscopopMixesLogisticAndExponentialByTheModulation) {
  // m = s(z / tau); (1 - m) sp(-z) + m e^{-z}
  // tau = 1, pair 0 (z = 1): m = 0.73105857863; 0.26894142137 * 0.31326168752
  //                          + 0.73105857863 * 0.36787944117 = 0.3531904648719093
  // tau = 1, pair 1 (z = -1): m = 0.26894142137; 0.73105857863 * 1.31326168752
  //                          + 0.26894142137 * 2.71828182846 = 1.6911298012763183
  LossConfig c = config_for(LossType::discopop);
  c.discopop_tau = 1.0;
  const double m0 = 1 / (1 + std::exp(-1.0));
  ASSERT_NEAR((1 - m0) * 0.31326168751822286 + m0 * std::exp(-1.0), 0.3531904648719093, 1e-12);
  expect_per_pair(compute_loss(two_pairs(), c), 0.3531904648719093, 1.6911298012763183);
}

TEST(PreferenceLoss, SigmoidNormUsesPerTokenMeanLogRatios) {
  // pair 0: d = 1/4 + 1/2 = 0.75, -log s(0.375) = sp(-0.375) = 0.52312326413984
  // pair 1: d = -2,               -log s(-1)    = sp(1)      = 1.3132616875182228
  expect_per_pair(
      compute_loss(two_pairs(), config_for(LossType::sigmoid_norm)),
      0.52312326413984,
      1.3132616875182228);
}

TEST(PreferenceLoss, SimpoIsReferenceFreeWithMarginGammaOverBeta) {
  // gamma = 0.5, gamma / beta = 1; u = policy chosen / tokens - policy rejected / tokens - 1
  // pair 0: u = -10/4 + 12/2 - 1 = 2.5, -log s(1.25)  = sp(-1.25) = 0.2519290813453729
  // pair 1: u = -5 + 5 - 1 = -1,        -log s(-0.5) = sp(0.5)   = 0.97407698418010663
  PairLogps p = two_pairs();
  const LossOutput with_reference = compute_loss(p, config_for(LossType::simpo));
  expect_per_pair(with_reference, 0.2519290813453729, 0.97407698418010663);
  // The reference changes nothing but the reported rewards; without it the rewards are beta *
  // policy.
  p.reference_chosen = at::Tensor();
  p.reference_rejected = at::Tensor();
  const LossOutput without = compute_loss(p, config_for(LossType::simpo));
  expect_per_pair(without, 0.2519290813453729, 0.97407698418010663);
  EXPECT_NEAR(without.metrics.rewards_chosen, 0.5 * (-10 - 5), 1e-12);
}

TEST(PreferenceLoss, SftIsTheChosenPerTokenNegativeLogLikelihood) {
  // pair 0: 10 / 4 = 2.5; pair 1: 5 / 1 = 5
  PairLogps p = two_pairs();
  p.reference_chosen = at::Tensor();
  p.reference_rejected = at::Tensor();
  expect_per_pair(compute_loss(p, config_for(LossType::sft)), 2.5, 5.0);
}

TEST(PreferenceLoss, ReferenceFreeTakesTheReferenceAsZero) {
  // delta = policy chosen - policy rejected: pair 0: 2, pair 1: 0
  // pair 0: sp(-1) = 0.31326168751822286; pair 1: -log s(0) = log 2
  LossConfig c = config_for(LossType::sigmoid);
  c.reference_free = true;
  expect_per_pair(compute_loss(two_pairs(), c), 0.31326168751822286, std::log(2.0));
}

TEST(PreferenceLoss, MissingReferenceIsAnErrorForLossesThatNeedIt) {
  PairLogps p = two_pairs();
  p.reference_rejected = at::Tensor();
  EXPECT_THROW(compute_loss(p, config_for(LossType::sigmoid)), c10::Error);
}

TEST(PreferenceLoss, MismatchedShapesAreAnError) {
  PairLogps p = two_pairs();
  p.policy_rejected = vec({1, 2, 3});
  EXPECT_THROW(compute_loss(p, config_for(LossType::sigmoid)), c10::Error);
}

TEST(PreferenceLoss, ZeroTokenCountsAreTreatedAsOne) {
  // sft of an empty completion (sum 0, count 0) is 0, not NaN.
  PairLogps p = two_pairs();
  p.policy_chosen = vec({0, -5});
  p.chosen_tokens = at::tensor(std::vector<int64_t>{0, 1});
  const LossOutput out = compute_loss(p, config_for(LossType::sft));
  EXPECT_EQ(out.per_pair[0].item<double>(), 0.0);
}

TEST(PreferenceLoss, WeightedSumAddsTheWeightedLossesPerPair) {
  // sigmoid + 0.2 * sft; pair 0: 0.31326168751822286 + 0.2 * 2.5 = 0.81326168751822286
  //                      pair 1: 1.3132616875182228 + 0.2 * 5   = 2.3132616875182228
  LossConfig c = config_for(LossType::sigmoid);
  c.types = {LossType::sigmoid, LossType::sft};
  c.weights = {1.0, 0.2};
  expect_per_pair(compute_loss(two_pairs(), c), 0.81326168751822286, 2.3132616875182228);
  // Empty weights mean 1 each: pair 0: 0.31326168751822286 + 2.5
  c.weights.clear();
  EXPECT_NEAR(compute_loss(two_pairs(), c).per_pair[0].item<double>(), 2.8132616875182229, 1e-12);
}

TEST(PreferenceLoss, MetricsAreSumsOverPairs) {
  const LossOutput out = compute_loss(two_pairs(), config_for(LossType::sigmoid));
  const LossSums& m = out.metrics;
  EXPECT_EQ(m.pairs, 2);
  EXPECT_NEAR(m.rewards_chosen, 0.5 * 1 + 0.5 * -1, 1e-12);    // beta * chosen ratios
  EXPECT_NEAR(m.rewards_rejected, 0.5 * -1 + 0.5 * 1, 1e-12);  // beta * rejected ratios
  EXPECT_NEAR(m.rewards_margins, 1.0 + -1.0, 1e-12);           // per pair: +1, -1
  EXPECT_EQ(m.rewards_accuracies, 1.0);                        // 1 + 0
  EXPECT_EQ(m.logps_chosen, -15.0);                            // -10 + -5
  EXPECT_EQ(m.logps_rejected, -17.0);                          // -12 + -5
  EXPECT_EQ(m.logps_chosen_per_token, -7.5);                   // -10/4 + -5/1
  EXPECT_EQ(m.logps_rejected_per_token, -11.0);                // -12/2 + -5/1
  EXPECT_NEAR(out.rewards_chosen[0].item<double>(), 0.5, 1e-12);
  EXPECT_NEAR(out.rewards_rejected[1].item<double>(), 0.5, 1e-12);
  const LossMeans mean = m.mean();
  EXPECT_EQ(mean.pairs, 2);
  EXPECT_EQ(mean.rewards_accuracies, 0.5);
  EXPECT_EQ(mean.logps_chosen, -7.5);
}

TEST(PreferenceLoss, AccuracyCountsATieAsHalf) {
  // Policy equal to the reference (step 0): every margin is exactly 0, the loss is log 2.
  PairLogps p = two_pairs();
  p.reference_chosen = p.policy_chosen.clone();
  p.reference_rejected = p.policy_rejected.clone();
  const LossOutput out = compute_loss(p, config_for(LossType::sigmoid));
  EXPECT_EQ(out.metrics.rewards_accuracies, 1.0);  // 0.5 + 0.5
  EXPECT_EQ(out.metrics.rewards_margins, 0.0);
  EXPECT_NEAR(out.loss.item<double>(), std::log(2.0), 1e-15);
  // One pair won, one tied, one lost: 1 + 0.5 + 0 = 1.5
  PairLogps q;
  q.policy_chosen = vec({-1, -2, -3});
  q.policy_rejected = vec({-2, -2, -1});
  q.reference_chosen = vec({-1, -1, -1});
  q.reference_rejected = vec({-1, -1, -1});
  q.chosen_tokens = vec({1, 1, 1});
  q.rejected_tokens = vec({1, 1, 1});
  // margins: 0.5 * ((0) - (-1)) = 0.5; 0.5 * (-1 - (-1)) = 0; 0.5 * (-2 - 0) = -1
  EXPECT_EQ(compute_loss(q, config_for(LossType::sigmoid)).metrics.rewards_accuracies, 1.5);
}

TEST(PreferenceLoss, LowPrecisionInputsAreComputedInFloat32) {
  PairLogps p = two_pairs();
  p.policy_chosen = p.policy_chosen.to(at::kBFloat16);
  p.policy_rejected = p.policy_rejected.to(at::kBFloat16);
  const LossOutput out = compute_loss(p, config_for(LossType::sigmoid));
  EXPECT_EQ(out.loss.scalar_type(), at::kFloat);
  EXPECT_NEAR(out.per_pair[0].item<double>(), 0.31326168751822286, 1e-6);
}

// Random pairs whose deltas keep away from hinge's kink at beta * delta = 1.
PairLogps random_pairs(int64_t n, uint64_t seed) {
  at::manual_seed(seed);
  auto opts = at::TensorOptions().dtype(at::kDouble);
  PairLogps p;
  p.policy_chosen = -20 * at::rand({n}, opts) - 1;
  p.policy_rejected = -20 * at::rand({n}, opts) - 1;
  p.reference_chosen = -20 * at::rand({n}, opts) - 1;
  p.reference_rejected = -20 * at::rand({n}, opts) - 1;
  p.chosen_tokens = at::randint(1, 30, {n}, at::TensorOptions().dtype(at::kLong));
  p.rejected_tokens = at::randint(1, 30, {n}, at::TensorOptions().dtype(at::kLong));
  return p;
}

TEST(PreferenceLoss, GradientsMatchFiniteDifferences) {
  const PairLogps base = random_pairs(5, 7);
  LossConfig c;
  c.beta = 0.3;
  c.label_smoothing = 0.1;
  c.discopop_tau = 0.5;
  for (LossType type : all_loss_types()) {
    SCOPED_TRACE(loss_type_name(type));
    PairLogps p = base;
    p.policy_chosen = base.policy_chosen.clone().requires_grad_(true);
    p.policy_rejected = base.policy_rejected.clone().requires_grad_(true);
    const double bco_delta = 0.2;
    auto f = [&](const PairLogps& q) { return per_pair_loss(type, q, c, bco_delta).sum(); };
    f(p).backward();
    const double h = 1e-6;
    for (int which = 0; which < 2; ++which) {
      const at::Tensor& x = which == 0 ? p.policy_chosen : p.policy_rejected;
      const at::Tensor grad = x.grad();
      for (int64_t i = 0; i < x.size(0); ++i) {
        PairLogps plus = base, minus = base;
        at::Tensor& xp = which == 0 ? plus.policy_chosen : plus.policy_rejected;
        at::Tensor& xm = which == 0 ? minus.policy_chosen : minus.policy_rejected;
        xp = xp.clone();
        xm = xm.clone();
        xp[i] += h;
        xm[i] -= h;
        const double numeric = (f(plus).item<double>() - f(minus).item<double>()) / (2 * h);
        const double analytic = grad.defined() ? grad[i].item<double>() : 0.0;
        EXPECT_NEAR(analytic, numeric, 1e-6 * std::max(1.0, std::abs(numeric)))
            << (which == 0 ? "chosen" : "rejected") << " pair " << i;
      }
    }
  }
}

TEST(PreferenceLoss, ReferenceLogpsGetNoGradient) {
  PairLogps p = random_pairs(3, 3);
  p.reference_chosen.requires_grad_(true);
  p.policy_chosen.requires_grad_(true);
  compute_loss(p, config_for(LossType::sigmoid)).loss.backward();
  EXPECT_TRUE(p.policy_chosen.grad().defined());
  EXPECT_FALSE(p.reference_chosen.grad().defined());
}

TEST(PreferenceLoss, AccumulatingMicroBatchesEqualsOneBatch) {
  // Every loss but bco_pair (whose running mean sees each micro-batch) in one weighted sum.
  LossConfig c;
  c.beta = 0.2;
  c.label_smoothing = 0.05;
  c.types.clear();
  for (LossType type : all_loss_types()) {
    if (type != LossType::bco_pair) {
      c.types.push_back(type);
      c.weights.push_back(0.1 * static_cast<double>(c.types.size()));
    }
  }
  const int64_t n = 6;
  const PairLogps all = random_pairs(n, 11);

  // One batch of 6 pairs.
  PairLogps whole = all;
  whole.policy_chosen = all.policy_chosen.clone().requires_grad_(true);
  whole.policy_rejected = all.policy_rejected.clone().requires_grad_(true);
  const LossOutput one = compute_loss(whole, c);
  one.loss.backward();

  // Micro-batches of 1, 2 and 3 pairs, each loss scaled by its share of the pairs.
  const at::Tensor chosen = all.policy_chosen.clone().requires_grad_(true);
  const at::Tensor rejected = all.policy_rejected.clone().requires_grad_(true);
  LossSums summed;
  double accumulated_loss = 0;
  const std::vector<std::pair<int64_t, int64_t>> spans{{0, 1}, {1, 3}, {3, 6}};
  for (const auto& [begin, end] : spans) {
    PairLogps micro;
    micro.policy_chosen = chosen.slice(0, begin, end);
    micro.policy_rejected = rejected.slice(0, begin, end);
    micro.reference_chosen = all.reference_chosen.slice(0, begin, end);
    micro.reference_rejected = all.reference_rejected.slice(0, begin, end);
    micro.chosen_tokens = all.chosen_tokens.slice(0, begin, end);
    micro.rejected_tokens = all.rejected_tokens.slice(0, begin, end);
    const LossOutput out = compute_loss(micro, c);
    const double share = static_cast<double>(end - begin) / static_cast<double>(n);
    (out.loss * share).backward();
    accumulated_loss += out.loss.item<double>() * share;
    summed.add(out.metrics);
  }
  EXPECT_NEAR(accumulated_loss, one.loss.item<double>(), 1e-12);
  EXPECT_TRUE(at::allclose(chosen.grad(), whole.policy_chosen.grad(), 1e-12, 1e-14));
  EXPECT_TRUE(at::allclose(rejected.grad(), whole.policy_rejected.grad(), 1e-12, 1e-14));
  const LossMeans a = summed.mean();
  const LossMeans b = one.metrics.mean();
  EXPECT_EQ(a.pairs, b.pairs);
  EXPECT_NEAR(a.loss, b.loss, 1e-12);
  EXPECT_NEAR(a.rewards_chosen, b.rewards_chosen, 1e-12);
  EXPECT_NEAR(a.rewards_rejected, b.rewards_rejected, 1e-12);
  EXPECT_NEAR(a.rewards_margins, b.rewards_margins, 1e-12);
  EXPECT_NEAR(a.rewards_accuracies, b.rewards_accuracies, 1e-12);
  EXPECT_NEAR(a.logps_chosen, b.logps_chosen, 1e-12);
  EXPECT_NEAR(a.logps_rejected, b.logps_rejected, 1e-12);
  EXPECT_NEAR(a.logps_chosen_per_token, b.logps_chosen_per_token, 1e-12);
  EXPECT_NEAR(a.logps_rejected_per_token, b.logps_rejected_per_token, 1e-12);
}

}  // namespace
}  // namespace dpo
