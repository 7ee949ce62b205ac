#include "pipeline/slice_gates.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace dpo {
namespace {

SliceMetrics slice(const std::string& value, int64_t pairs, double accuracy) {
  SliceMetrics s;
  s.value = value;
  s.pairs = pairs;
  s.accuracy = accuracy;
  return s;
}

SliceBreakdown by_rubric(std::vector<SliceMetrics> slices) {
  return SliceBreakdown{"metadata.rubric", std::move(slices)};
}

TEST(CheckSlices, EachLargeEnoughSliceIsACriterion) {
  // min accuracy 0.7, min 10 pairs: "concise" (40 pairs, 0.9) passes, "detailed" (30, 0.6)
  // fails, "legal" (4 pairs, 0.25) is too small to judge: a warning, not a failure.
  std::vector<SliceBreakdown> slices = {
      by_rubric({slice("concise", 40, 0.9), slice("detailed", 30, 0.6), slice("legal", 4, 0.25)})};
  SliceCheck check = check_slices(slices, 0.7, 10);
  ASSERT_EQ(check.criteria.size(), 2u);
  EXPECT_EQ(check.criteria[0].name, "slice_accuracy[metadata.rubric=concise]");
  EXPECT_TRUE(check.criteria[0].passed);
  EXPECT_EQ(check.criteria[1].name, "slice_accuracy[metadata.rubric=detailed]");
  EXPECT_FALSE(check.criteria[1].passed);
  EXPECT_DOUBLE_EQ(check.criteria[1].value, 0.6);
  EXPECT_DOUBLE_EQ(check.criteria[1].threshold, 0.7);
  ASSERT_EQ(check.warnings.size(), 1u);
  EXPECT_EQ(check.warnings[0].rfind("small_slice: metadata.rubric=legal", 0), 0u)
      << check.warnings[0];
}

TEST(CheckSlices, OffByDefaultAndQuietForSmallSlicesThatPass) {
  std::vector<SliceBreakdown> slices = {by_rubric({slice("concise", 40, 0.2)})};
  EXPECT_TRUE(check_slices(slices, 0.0, 10).criteria.empty());  // check.min_slice_accuracy 0
  SliceCheck small = check_slices({by_rubric({slice("legal", 3, 1.0)})}, 0.7, 10);
  EXPECT_TRUE(small.criteria.empty());
  EXPECT_TRUE(small.warnings.empty());
}

TEST(CompareSlices, APlantedSliceRegressionIsCaughtWhileTheAverageBarelyMoves) {
  // Baseline (two seeds): every rubric at 0.9 on 100 + 100 + 40 common held-out pairs, overall
  // 0.900. Candidate: concise and detailed improve to 0.95, "legal" drops to 0.55. Overall
  // (95 + 95 + 22) / 240 = 0.883: a drop of 0.017, inside compare.max_accuracy_drop (0.02).
  // The legal slice: pooled p = (0.9 * 40 + 0.55 * 40) / 80 = 0.725,
  // SE = sqrt(0.725 * 0.275 * (1/40 + 1/40)) = 0.09984, allowed max(0.02, 2 x SE) = 0.1997;
  // its drop 0.35 is beyond its noise: a regression.
  std::vector<SliceBreakdown> seed = {by_rubric(
      {slice("concise", 100, 0.9), slice("detailed", 100, 0.9), slice("legal", 40, 0.9)})};
  std::vector<SliceBreakdown> candidate = {by_rubric(
      {slice("concise", 100, 0.95), slice("detailed", 100, 0.95), slice("legal", 40, 0.55)})};
  const double overall_before = 0.9;
  const double overall_after = (95.0 + 95.0 + 22.0) / 240.0;
  EXPECT_LT(overall_before - overall_after, 0.02);

  std::vector<SliceComparison> out = compare_slices({seed, seed}, candidate, 0.02, 2.0, 20);
  ASSERT_EQ(out.size(), 3u);
  const SliceComparison& legal = out[2];
  EXPECT_EQ(legal.value, "legal");
  EXPECT_NEAR(legal.drop, 0.35, 1e-12);
  EXPECT_NEAR(legal.standard_error, 0.0998435, 1e-6);
  EXPECT_NEAR(legal.allowed, 0.199687, 1e-6);
  EXPECT_TRUE(legal.judged);
  EXPECT_TRUE(legal.regression);
  EXPECT_FALSE(out[0].regression);  // improved
  EXPECT_FALSE(out[1].regression);
  EXPECT_NE(slice_comparison_text(legal).find("0.900 -> 0.550 on 40 pairs"), std::string::npos)
      << slice_comparison_text(legal);
}

TEST(CompareSlices, ADropWithinTheSlicesNoiseIsNoRegression) {
  // 30 pairs, 0.80 -> 0.70: pooled p = 0.75, SE = sqrt(0.75 * 0.25 * 2/30) = 0.1118, allowed
  // 0.2236 > 0.10.
  std::vector<SliceComparison> out = compare_slices(
      {{by_rubric({slice("concise", 30, 0.8)})}},
      {by_rubric({slice("concise", 30, 0.7)})},
      0.02,
      2.0,
      20);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_NEAR(out[0].allowed, 0.2236068, 1e-6);
  EXPECT_FALSE(out[0].regression);
  EXPECT_FALSE(out[0].warning);
}

TEST(CompareSlices, SmallSlicesOnlyWarn) {
  // 8 pairs, 1.0 -> 0.25: beyond the noise (pooled p 0.625, SE 0.2421, allowed 0.484), but below
  // compare.min_slice_pairs (20): a warning.
  std::vector<SliceComparison> out = compare_slices(
      {{by_rubric({slice("legal", 8, 1.0)})}},
      {by_rubric({slice("legal", 8, 0.25)})},
      0.02,
      2.0,
      20);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_FALSE(out[0].judged);
  EXPECT_FALSE(out[0].regression);
  EXPECT_TRUE(out[0].warning);
}

TEST(CompareSlices, BaselineSeedsAreAveragedAndNewSlicesSkipped) {
  std::vector<SliceComparison> out = compare_slices(
      {{by_rubric({slice("a", 50, 0.8)})}, {by_rubric({slice("a", 50, 0.9)})}},
      {by_rubric({slice("a", 50, 0.85), slice("new", 50, 0.1)})},
      0.02,
      2.0,
      20);
  ASSERT_EQ(out.size(), 1u);                // "new" has no baseline
  EXPECT_DOUBLE_EQ(out[0].baseline, 0.85);  // (0.8 + 0.9) / 2
  EXPECT_NEAR(out[0].drop, 0.0, 1e-12);
  nlohmann::json j = nlohmann::json::parse(slice_comparisons_json(out));
  EXPECT_EQ(j[0]["value"], "a");
  EXPECT_EQ(j[0]["regression"], false);
}

}  // namespace
}  // namespace dpo
