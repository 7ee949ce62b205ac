#include "trainer/divergence_monitor.h"

#include "trainer/config.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace dpo {
namespace {

bool has(const std::vector<std::string>& alarms, const std::string& name) {
  return std::find(alarms.begin(), alarms.end(), name) != alarms.end();
}

EvalPoint point(
    uint64_t step,
    double train_loss,
    double val_loss,
    double train_acc = 0.6,
    double val_acc = 0.6,
    double chosen_logps = -2.0) {
  return EvalPoint{step, train_loss, train_acc, val_loss, val_acc, chosen_logps};
}

TEST(DivergenceMonitor, HealthyRunRaisesNothing) {
  DivergenceMonitor monitor({});
  EXPECT_TRUE(monitor.add(point(0, 0.69, 0.69)).empty());
  EXPECT_TRUE(monitor.add(point(10, 0.60, 0.65, 0.7, 0.65)).empty());
  EXPECT_TRUE(monitor.add(point(20, 0.55, 0.62, 0.75, 0.68)).empty());
  EXPECT_TRUE(monitor.latest_is_best());
}

TEST(DivergenceMonitor, ValLossRisingWhileTrainFallsForPatienceEvaluations) {
  DivergenceThresholds thresholds;
  thresholds.patience = 2;
  thresholds.gap_threshold = 10;  // isolate this alarm
  DivergenceMonitor monitor(thresholds);
  monitor.add(point(0, 0.69, 0.60));
  EXPECT_FALSE(has(monitor.add(point(1, 0.60, 0.62)), "val_loss_rising"));  // one rise only
  EXPECT_TRUE(has(monitor.add(point(2, 0.50, 0.64)), "val_loss_rising"));   // two in a row
  EXPECT_EQ(monitor.best().step, 0u);
  EXPECT_EQ(monitor.evaluations_since_best(), 2u);
}

TEST(DivergenceMonitor, RisingValWithRisingTrainIsNotDivergence) {
  DivergenceThresholds thresholds;
  thresholds.patience = 2;
  thresholds.gap_threshold = 10;
  DivergenceMonitor monitor(thresholds);
  monitor.add(point(0, 0.50, 0.60));
  monitor.add(point(1, 0.55, 0.62));
  EXPECT_FALSE(has(monitor.add(point(2, 0.58, 0.64)), "val_loss_rising"));
}

TEST(DivergenceMonitor, RisingValNearZeroIsNotDivergence) {
  // An almost perfect fit: val loss 0.010 -> 0.012 -> 0.015 while train falls. Below
  // near_zero_loss (0.05) such wobbles are not a trend.
  DivergenceThresholds thresholds;
  thresholds.patience = 2;
  DivergenceMonitor monitor(thresholds);
  monitor.add(point(0, 0.020, 0.010, 1.0, 1.0));
  monitor.add(point(1, 0.010, 0.012, 1.0, 1.0));
  EXPECT_TRUE(monitor.add(point(2, 0.005, 0.015, 1.0, 1.0)).empty());
}

TEST(DivergenceMonitor, RisingValByLessThanMinRiseIsNoise) {
  // 0.600 -> 0.603 -> 0.606: a rise of 0.006 over two evaluations, below min_loss_rise (0.01).
  DivergenceThresholds thresholds;
  thresholds.patience = 2;
  DivergenceMonitor monitor(thresholds);
  monitor.add(point(0, 0.69, 0.600));
  monitor.add(point(1, 0.60, 0.603));
  EXPECT_FALSE(has(monitor.add(point(2, 0.50, 0.606)), "val_loss_rising"));
}

TEST(DivergenceMonitor, GapWhileValStopsImproving) {
  DivergenceMonitor monitor({});  // gap threshold 0.25
  monitor.add(point(0, 0.69, 0.69));
  EXPECT_FALSE(has(monitor.add(point(1, 0.40, 0.50)), "val_train_gap"));  // 0.10
  // Train falls to 0.20, val stays at 0.50 (no better than its best): gap 0.30 > 0.25.
  EXPECT_TRUE(has(monitor.add(point(2, 0.20, 0.50)), "val_train_gap"));
}

TEST(DivergenceMonitor, GapClosingFromAboveIsNotDivergence) {
  // A learning run whose train loss leads: gap 0.31, but val (0.36) is below its best so far
  // (0.45): the model still generalises better at every evaluation.
  DivergenceMonitor monitor({});
  monitor.add(point(0, 0.69, 0.69));
  monitor.add(point(1, 0.30, 0.45));
  EXPECT_FALSE(has(monitor.add(point(2, 0.05, 0.36)), "val_train_gap"));
}

TEST(DivergenceMonitor, GapAtTheFirstEvaluationIsNotDivergence) {
  DivergenceMonitor monitor({});
  EXPECT_FALSE(has(monitor.add(point(0, 0.20, 0.69)), "val_train_gap"));
}

TEST(DivergenceMonitor, LikelihoodDisplacementFromTheFirstEvaluation) {
  DivergenceMonitor monitor({});  // 1.0 nat per token
  monitor.add(point(0, 0.69, 0.69, 0.5, 0.5, -2.0));
  EXPECT_FALSE(has(monitor.add(point(1, 0.6, 0.65, 0.6, 0.6, -2.9)), "likelihood_displacement"));
  EXPECT_TRUE(has(monitor.add(point(2, 0.5, 0.6, 0.6, 0.6, -3.1)), "likelihood_displacement"));
}

TEST(DivergenceMonitor, SmallChosenDriftIsNotDisplacement) {
  // A healthy DPO run: the chosen log-prob per token drifts by 0.4 nats (the rejected one falls
  // further, which is what DPO does), never 1 nat.
  DivergenceMonitor monitor({});
  monitor.add(point(0, 0.69, 0.69, 0.5, 0.5, -2.0));
  EXPECT_FALSE(has(monitor.add(point(1, 0.5, 0.55, 0.7, 0.7, -2.2)), "likelihood_displacement"));
  EXPECT_FALSE(has(monitor.add(point(2, 0.4, 0.45, 0.8, 0.8, -2.4)), "likelihood_displacement"));
}

TEST(DivergenceMonitor, DisplacementThatRecoversIsNotReportedAgain) {
  // Fell 1.2 nats (alarm), then climbs back up: no new alarm while it recovers.
  DivergenceMonitor monitor({});
  monitor.add(point(0, 0.69, 0.69, 0.5, 0.5, -2.0));
  EXPECT_TRUE(has(monitor.add(point(1, 0.6, 0.6, 0.6, 0.6, -3.2)), "likelihood_displacement"));
  EXPECT_FALSE(has(monitor.add(point(2, 0.5, 0.5, 0.7, 0.7, -3.1)), "likelihood_displacement"));
}

TEST(DivergenceMonitor, AccuracyStallWhenTrainIsNearlyPerfect) {
  DivergenceThresholds thresholds;
  thresholds.patience = 2;
  thresholds.gap_threshold = 10;
  DivergenceMonitor monitor(thresholds);
  monitor.add(point(0, 0.6, 0.6, 0.80, 0.70));
  monitor.add(point(1, 0.5, 0.6, 0.96, 0.702));
  EXPECT_TRUE(has(monitor.add(point(2, 0.4, 0.6, 0.97, 0.703)), "accuracy_stall"));

  DivergenceMonitor improving(thresholds);
  improving.add(point(0, 0.6, 0.6, 0.80, 0.70));
  improving.add(point(1, 0.5, 0.6, 0.96, 0.72));
  EXPECT_FALSE(has(improving.add(point(2, 0.4, 0.6, 0.97, 0.74)), "accuracy_stall"));
}

TEST(DivergenceMonitor, SaturatedAccuracyIsNotAStall) {
  // The clean, easily learnable dataset of issue 19: held-out accuracy 1.000 at every
  // evaluation, train accuracy 1.0, losses falling. Nothing may fire.
  DivergenceMonitor monitor({});  // patience 3
  std::vector<std::string> fired;
  const double val_loss[] = {0.69, 0.40, 0.20, 0.12, 0.08, 0.06};
  for (int i = 0; i < 6; ++i) {
    for (const std::string& alarm :
         monitor.add(point(i, val_loss[i] - 0.01, val_loss[i], 1.0, 1.0, -2.0 - 0.05 * i)))
      fired.push_back(alarm);
  }
  EXPECT_TRUE(fired.empty()) << fired.front();
}

TEST(DivergenceMonitor, NearZeroValLossIsNotAStall) {
  // Accuracy 0.97 (one pair of 30 the model cannot get) but val loss 0.03: a finished fit.
  DivergenceThresholds thresholds;
  thresholds.patience = 2;
  DivergenceMonitor monitor(thresholds);
  monitor.add(point(0, 0.05, 0.04, 1.0, 0.97));
  monitor.add(point(1, 0.03, 0.035, 1.0, 0.97));
  EXPECT_FALSE(has(monitor.add(point(2, 0.02, 0.03, 1.0, 0.97)), "accuracy_stall"));
}

TEST(DivergenceMonitor, ThresholdsComeFromTheEvalSection) {
  EvalSection eval;
  eval.patience = 5;
  eval.saturated_accuracy = 0.9;
  eval.near_zero_loss = 0.1;
  eval.min_loss_rise = 0.2;
  DivergenceThresholds t = divergence_thresholds(eval);
  EXPECT_EQ(t.patience, 5);
  EXPECT_DOUBLE_EQ(t.saturated_accuracy, 0.9);
  EXPECT_DOUBLE_EQ(t.near_zero_loss, 0.1);
  EXPECT_DOUBLE_EQ(t.min_loss_rise, 0.2);
  EXPECT_DOUBLE_EQ(t.gap_threshold, eval.gap_threshold);
}

}  // namespace
}  // namespace dpo
