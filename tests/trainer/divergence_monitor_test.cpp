#include "trainer/divergence_monitor.h"

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

TEST(DivergenceMonitor, GapBetweenValAndTrainLoss) {
  DivergenceMonitor monitor({});  // gap threshold 0.25
  EXPECT_FALSE(has(monitor.add(point(0, 0.50, 0.74)), "val_train_gap"));
  EXPECT_TRUE(has(monitor.add(point(1, 0.30, 0.56)), "val_train_gap"));  // 0.26 > 0.25
}

TEST(DivergenceMonitor, LikelihoodDisplacementFromTheFirstEvaluation) {
  DivergenceMonitor monitor({});  // 1.0 nat per token
  monitor.add(point(0, 0.69, 0.69, 0.5, 0.5, -2.0));
  EXPECT_FALSE(has(monitor.add(point(1, 0.6, 0.65, 0.6, 0.6, -2.9)), "likelihood_displacement"));
  EXPECT_TRUE(has(monitor.add(point(2, 0.5, 0.6, 0.6, 0.6, -3.1)), "likelihood_displacement"));
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

}  // namespace
}  // namespace dpo
