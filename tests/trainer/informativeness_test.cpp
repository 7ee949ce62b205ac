#include "trainer/informativeness.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace dpo {
namespace {

TEST(ReferenceMargin, SummedAndPerToken) {
  // chosen: -12 nats over 4 tokens (-3 per token); rejected: -30 over 10 (-3 per token).
  // Summed the reference prefers the chosen by 18 nats; per token it cannot tell them apart.
  ReferenceMargin m = reference_margin(-12.0, -30.0, 4, 10);
  EXPECT_DOUBLE_EQ(m.summed, 18.0);
  EXPECT_DOUBLE_EQ(m.per_token, 0.0);
  // -4 over 2 tokens (-2) against -9 over 3 (-3): +1 per token, +5 summed.
  ReferenceMargin n = reference_margin(-4.0, -9.0, 2, 3);
  EXPECT_DOUBLE_EQ(n.summed, 5.0);
  EXPECT_DOUBLE_EQ(n.per_token, 1.0);
}

TEST(Informativeness, SharesAndQuantilesByHand) {
  // Per-token margins 1.0, 0.6, 0.01, -0.01, -0.3 (summed 10, 6, 0.1, -0.1, -3):
  //   ranked correctly (> 0): 3 of 5 = 0.6; easy (> 0.5): 2 = 0.4; ambiguous (|m| <= 0.02): 2
  //   mean per token = (1 + 0.6 + 0.01 - 0.01 - 0.3) / 5 = 0.26; mean summed = 13 / 5 = 2.6
  //   nearest-rank p10 = 1st of 5 = -0.3, p50 = 3rd = 0.01, p90 = 5th = 1.0
  std::vector<ReferenceMargin> margins = {
      {10, 1.0}, {6, 0.6}, {0.1, 0.01}, {-0.1, -0.01}, {-3, -0.3}};
  MarginSummary s = summarize_margins(margins, {0.5, 0.02});
  EXPECT_EQ(s.pairs, 5);
  EXPECT_EQ(s.ranked_correctly, 3);
  EXPECT_DOUBLE_EQ(s.ranked_share, 0.6);
  EXPECT_EQ(s.easy, 2);
  EXPECT_DOUBLE_EQ(s.easy_share, 0.4);
  EXPECT_EQ(s.ambiguous, 2);
  EXPECT_DOUBLE_EQ(s.ambiguous_share, 0.4);
  EXPECT_DOUBLE_EQ(s.mean, 0.26);
  EXPECT_DOUBLE_EQ(s.mean_summed, 2.6);
  EXPECT_DOUBLE_EQ(s.min, -0.3);
  EXPECT_DOUBLE_EQ(s.p10, -0.3);
  EXPECT_DOUBLE_EQ(s.p50, 0.01);
  EXPECT_DOUBLE_EQ(s.p90, 1.0);
  EXPECT_DOUBLE_EQ(s.max, 1.0);
  // Bands (e 0.5, a 0.02): -0.3 prefers rejected; 0.01 and -0.01 ambiguous; 0.6 and 1.0 easy.
  EXPECT_EQ(s.bands, (std::array<int64_t, 5>{0, 1, 2, 0, 2}));
  EXPECT_TRUE(informativeness_warnings(s, 0.95, 0.95).empty());  // a mixed set
}

TEST(Informativeness, PerSlice) {
  std::vector<ReferenceMargin> margins = {{5, 0.9}, {4, 0.8}, {0, 0.0}, {0, 0.01}};
  Informativeness info =
      informativeness(margins, {"metadata.rubric"}, {{"obvious", "obvious", "hard", "hard"}}, {});
  EXPECT_EQ(info.overall.pairs, 4);
  ASSERT_EQ(info.slices.size(), 1u);
  ASSERT_EQ(info.slices[0].second.size(), 2u);
  const MarginSummary& hard = info.slices[0].second[0];  // byte order: "hard" < "obvious"
  EXPECT_EQ(hard.value, "hard");
  EXPECT_DOUBLE_EQ(hard.ambiguous_share, 1.0);
  const MarginSummary& obvious = info.slices[0].second[1];
  EXPECT_DOUBLE_EQ(obvious.easy_share, 1.0);
  nlohmann::json j = nlohmann::json::parse(informativeness_to_json(info, {}));
  EXPECT_DOUBLE_EQ(j["easy_share"].get<double>(), 0.5);
  EXPECT_EQ(j["bands"][2]["band"], "ambiguous");
  EXPECT_EQ(j["bands"][2]["pairs"], 2);  // 0.0 and 0.01
  EXPECT_EQ(j["bands"][4]["pairs"], 2);  // 0.9 and 0.8
  EXPECT_DOUBLE_EQ(j["slices"]["metadata.rubric"]["hard"]["ambiguous_share"].get<double>(), 1.0);
}

TEST(Informativeness, WarnsWhenNearlyAllPairsAreEasyOrAmbiguous) {
  MarginSummary easy = summarize_margins({{9, 2.0}, {8, 1.5}, {7, 1.0}, {6, 0.9}}, {});
  std::vector<std::string> warnings = informativeness_warnings(easy, 0.95, 0.95);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0].rfind("easy_pairs:", 0), 0u) << warnings[0];

  MarginSummary flat = summarize_margins({{0, 0.0}, {0, 0.001}, {0, -0.001}}, {});
  warnings = informativeness_warnings(flat, 0.95, 0.95);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0].rfind("ambiguous_pairs:", 0), 0u) << warnings[0];

  // Three easy pairs of four is 75%: below the 95% default, no warning.
  MarginSummary mostly = summarize_margins({{9, 2.0}, {8, 1.5}, {7, 1.0}, {0, 0.1}}, {});
  EXPECT_TRUE(informativeness_warnings(mostly, 0.95, 0.95).empty());
  EXPECT_TRUE(informativeness_warnings(MarginSummary{}, 0.95, 0.95).empty());  // no pairs
}

}  // namespace
}  // namespace dpo
