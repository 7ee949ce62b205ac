#include "trainer/slice_metrics.h"

#include <gtest/gtest.h>

#include <cmath>

namespace dpo {
namespace {

TEST(SliceValue, ReadsMetadataPathsOtherFieldsAndTheSourceFile) {
  // The row {"prompt": ..., "source": "web", "annotation": {"locale": "fr-FR"}, "tags": [...],
  //          "metadata": {"rubric": "concise", "reviewer": "r2", "review": {"round": 2}, ...}}
  const std::string metadata =
      R"({"rubric":"concise","reviewer":"r2","review":{"round":2},"ai":true})";
  const std::string fields = R"({"source":"web","annotation":{"locale":"fr-FR"}})";
  EXPECT_EQ(slice_value("metadata.rubric", metadata, fields, "a.jsonl"), "concise");
  EXPECT_EQ(slice_value("metadata.review.round", metadata, fields, "a.jsonl"), "2");
  EXPECT_EQ(slice_value("metadata.ai", metadata, fields, "a.jsonl"), "true");
  EXPECT_EQ(slice_value("metadata.locale", metadata, fields, "a.jsonl"), kNoSliceValue);
  EXPECT_EQ(slice_value("metadata.rubric", "", fields, "a.jsonl"), kNoSliceValue);
  // A path without "metadata." is a top-level field, as in `dpo validate`; not the metadata's.
  EXPECT_EQ(slice_value("source", metadata, fields, "a.jsonl"), "web");
  EXPECT_EQ(slice_value("annotation.locale", metadata, fields, "a.jsonl"), "fr-FR");
  EXPECT_EQ(slice_value("reviewer", metadata, fields, "a.jsonl"), kNoSliceValue);
  EXPECT_EQ(slice_value("source", metadata, "", "a.jsonl"), kNoSliceValue);
  // Objects are no value.
  EXPECT_EQ(slice_value("metadata.review", metadata, fields, "a.jsonl"), kNoSliceValue);
  EXPECT_EQ(slice_value("annotation", metadata, fields, "a.jsonl"), kNoSliceValue);
  EXPECT_EQ(slice_value("source_file", metadata, fields, "a.jsonl"), "a.jsonl");
}

TEST(SliceMetrics, TheTableWarnsWhenNoPairHasTheField) {
  // "rubric" without "metadata.": every pair lands in "(none)".
  std::vector<SliceBreakdown> by_top_level =
      slice_metrics({"rubric"}, {{kNoSliceValue, kNoSliceValue}}, {{1, 0, 0.3}, {0, 1, 1.3}});
  std::string table = slices_table(by_top_level);
  EXPECT_NE(
      table.find("warning: no pair has the field 'rubric' (a top-level field;"), std::string::npos)
      << table;
  // A key that some pairs have: no warning.
  std::vector<SliceBreakdown> partly =
      slice_metrics({"metadata.rubric"}, {{"tone", kNoSliceValue}}, {{1, 0, 0.3}, {0, 1, 1.3}});
  EXPECT_EQ(slices_table(partly).find("warning"), std::string::npos);
}

TEST(SliceMetrics, SumsThenMeansPerSlice) {
  // Four pairs, two rubrics:
  //   concise: margins 1.0 and -0.5 (losses 0.3, 0.9) -> accuracy 1/2, margin 0.25, loss 0.6
  //   detailed: margins 2.0 and 0.0 (losses 0.1, 0.7) -> accuracy (1 + 0.5)/2 = 0.75 (a tie
  //   counts one half), margin 1.0, loss 0.4
  std::vector<PairOutcome> pairs = {
      {1.5, 0.5, 0.3}, {0.0, 0.5, 0.9}, {2.5, 0.5, 0.1}, {0.2, 0.2, 0.7}};
  std::vector<std::vector<std::string>> labels = {{"concise", "concise", "detailed", "detailed"}};
  std::vector<SliceBreakdown> out = slice_metrics({"metadata.rubric"}, labels, pairs);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].key, "metadata.rubric");
  ASSERT_EQ(out[0].slices.size(), 2u);
  const SliceMetrics* concise = out[0].find("concise");
  ASSERT_NE(concise, nullptr);
  EXPECT_EQ(concise->pairs, 2);
  EXPECT_DOUBLE_EQ(concise->accuracy, 0.5);
  EXPECT_DOUBLE_EQ(concise->margin, 0.25);
  EXPECT_DOUBLE_EQ(concise->loss, 0.6);
  EXPECT_DOUBLE_EQ(concise->reward_chosen, 0.75);
  const SliceMetrics* detailed = out[0].find("detailed");
  ASSERT_NE(detailed, nullptr);
  EXPECT_EQ(detailed->pairs, 2);
  EXPECT_DOUBLE_EQ(detailed->accuracy, 0.75);
  EXPECT_DOUBLE_EQ(detailed->margin, 1.0);
  EXPECT_DOUBLE_EQ(detailed->loss, 0.4);
}

TEST(SliceMetrics, SeveralKeysEachCoverEveryPair) {
  std::vector<PairOutcome> pairs = {{1, 0, 0.2}, {0, 1, 1.2}, {1, 0, 0.2}};
  std::vector<std::vector<std::string>> labels = {{"en", "de", "en"}, {"r1", "r1", "r1"}};
  std::vector<SliceBreakdown> out = slice_metrics({"locale", "reviewer"}, labels, pairs);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].find("en")->pairs, 2);
  EXPECT_DOUBLE_EQ(out[0].find("de")->accuracy, 0.0);
  EXPECT_EQ(out[1].find("r1")->pairs, 3);
  EXPECT_DOUBLE_EQ(out[1].find("r1")->accuracy, 2.0 / 3.0);
}

TEST(SliceMetrics, LabelsMustCoverEveryPair) {
  EXPECT_THROW(slice_metrics({"k"}, {{"a"}}, {{1, 0, 0}, {1, 0, 0}}), std::invalid_argument);
  EXPECT_THROW(slice_metrics({"k", "j"}, {{"a"}}, {{1, 0, 0}}), std::invalid_argument);
}

TEST(SliceMetrics, JsonRoundTrip) {
  std::vector<SliceBreakdown> out = slice_metrics(
      {"metadata.rubric"}, {{"a", "b", "b"}}, {{1, 0, 0.25}, {0, 1, 1.5}, {1, 0, 0.5}});
  std::vector<SliceBreakdown> back = slices_from_json(slices_to_json(out));
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0].key, "metadata.rubric");
  ASSERT_NE(back[0].find("b"), nullptr);
  EXPECT_EQ(back[0].find("b")->pairs, 2);
  EXPECT_DOUBLE_EQ(back[0].find("b")->loss, 1.0);
  EXPECT_DOUBLE_EQ(back[0].find("b")->accuracy, 0.5);
  EXPECT_NE(slices_table(out).find("by metadata.rubric"), std::string::npos);
}

TEST(SliceNoise, StandardErrorOfTwoAccuraciesByHand) {
  // 40 pairs each, 0.9 and 0.7: pooled p = 0.8, SE = sqrt(0.8 * 0.2 * (1/40 + 1/40))
  // = sqrt(0.008) = 0.0894427...
  EXPECT_NEAR(accuracy_difference_standard_error(0.9, 40, 0.7, 40), 0.0894427191, 1e-9);
  // 20 and 80 pairs, 1.0 and 0.95: p = (20 + 76) / 100 = 0.96,
  // SE = sqrt(0.96 * 0.04 * (1/20 + 1/80)) = sqrt(0.0024) = 0.0489898...
  EXPECT_NEAR(accuracy_difference_standard_error(1.0, 20, 0.95, 80), 0.0489897949, 1e-9);
  // Both perfect: no spread; no pairs: no estimate.
  EXPECT_DOUBLE_EQ(accuracy_difference_standard_error(1.0, 30, 1.0, 30), 0.0);
  EXPECT_DOUBLE_EQ(accuracy_difference_standard_error(0.5, 0, 0.5, 30), 0.0);
}

}  // namespace
}  // namespace dpo
