// Warmup and the three decay shapes of the learning-rate schedule, at hand-computed steps.
#include "trainer/lr_schedule.h"

#include <gtest/gtest.h>

#include <cmath>

namespace dpo {
namespace {

LrScheduleParams params(ScheduleKind kind, int64_t warmup, int64_t total, double min_ratio) {
  LrScheduleParams p;
  p.lr = 1e-3;
  p.warmup_steps = warmup;
  p.total_steps = total;
  p.kind = kind;
  p.min_lr_ratio = min_ratio;
  return p;
}

TEST(LrSchedule, WarmupRisesLinearlyFromZero) {
  const auto p = params(ScheduleKind::cosine, 4, 20, 0.1);
  EXPECT_EQ(learning_rate(p, 0), 0.0);
  EXPECT_DOUBLE_EQ(learning_rate(p, 1), 0.25e-3);  // 1e-3 * 1/4
  EXPECT_DOUBLE_EQ(learning_rate(p, 2), 0.5e-3);
  EXPECT_DOUBLE_EQ(learning_rate(p, 4), 1e-3);  // the peak at the last warmup step
}

TEST(LrSchedule, ConstantStaysAtThePeakAfterWarmup) {
  const auto p = params(ScheduleKind::constant, 2, 10, 0.5);
  EXPECT_DOUBLE_EQ(learning_rate(p, 1), 0.5e-3);
  EXPECT_DOUBLE_EQ(learning_rate(p, 3), 1e-3);
  EXPECT_DOUBLE_EQ(learning_rate(p, 10), 1e-3);
  EXPECT_DOUBLE_EQ(learning_rate(p, 50), 1e-3);
}

TEST(LrSchedule, LinearDecaysToMinRatioAtTheLastStep) {
  // W = 2, T = 12, m = 0.1: step 7 has p = 5/10 -> 1e-3 * (0.1 + 0.9 * 0.5) = 0.55e-3
  const auto p = params(ScheduleKind::linear, 2, 12, 0.1);
  EXPECT_DOUBLE_EQ(learning_rate(p, 2), 1e-3);
  EXPECT_NEAR(learning_rate(p, 3), 1e-3 * (0.1 + 0.9 * 0.9), 1e-18);  // p = 1/10
  EXPECT_NEAR(learning_rate(p, 7), 0.55e-3, 1e-18);
  EXPECT_NEAR(learning_rate(p, 12), 0.1e-3, 1e-18);
  EXPECT_NEAR(learning_rate(p, 100), 0.1e-3, 1e-18);  // past the end: stays at the floor
}

TEST(LrSchedule, CosineFollowsHalfACosine) {
  // W = 0, T = 8, m = 0: step 4 has p = 1/2 -> (1 + cos(pi/2)) / 2 = 0.5;
  // step 2 has p = 1/4 -> (1 + cos(pi/4)) / 2 = 0.85355339059327373
  const auto p = params(ScheduleKind::cosine, 0, 8, 0.0);
  EXPECT_DOUBLE_EQ(learning_rate(p, 0), 1e-3);  // no warmup: the peak from the start
  EXPECT_NEAR(learning_rate(p, 2), 0.85355339059327373e-3, 1e-15);
  EXPECT_NEAR(learning_rate(p, 4), 0.5e-3, 1e-15);
  EXPECT_NEAR(learning_rate(p, 8), 0.0, 1e-15);
  // With m = 0.2 the same midpoint is 0.2 + 0.8 * 0.5 = 0.6 of the peak.
  EXPECT_NEAR(learning_rate(params(ScheduleKind::cosine, 0, 8, 0.2), 4), 0.6e-3, 1e-15);
}

TEST(LrSchedule, IsMonotoneAfterWarmup) {
  for (ScheduleKind kind : {ScheduleKind::linear, ScheduleKind::cosine}) {
    const auto p = params(kind, 10, 200, 0.05);
    double previous = learning_rate(p, 10);
    for (int64_t step = 11; step <= 200; ++step) {
      const double lr = learning_rate(p, step);
      EXPECT_LE(lr, previous) << step;
      previous = lr;
    }
    EXPECT_NEAR(previous, 0.05e-3, 1e-15);
  }
}

TEST(LrSchedule, WarmupAsLongAsTheRunNeverDecays) {
  const auto p = params(ScheduleKind::linear, 10, 10, 0.0);
  EXPECT_DOUBLE_EQ(learning_rate(p, 10), 1e-3);
  EXPECT_DOUBLE_EQ(learning_rate(p, 11), 0.0);  // past the end: the floor
}

}  // namespace
}  // namespace dpo
