#include "data/agreement.h"

#include <gtest/gtest.h>

#include "core/error.h"

namespace dpo {
namespace {

// Wikipedia, "Cohen's kappa", simple example: 50 proposals, reader A said yes to 25, reader B
// to 30. 20 yes/yes, 5 yes (A) / no (B), 10 no (A) / yes (B), 15 no/no.
// p_o = (20 + 15) / 50 = 0.7; p_e = 0.5 * 0.6 + 0.5 * 0.4 = 0.5; kappa = 0.2 / 0.5 = 0.4.
TEST(Agreement, CohenKappaOnTheTextbookTable) {
  KappaResult k = cohen_kappa({{20, 5}, {10, 15}});
  EXPECT_EQ(k.items, 50u);
  EXPECT_DOUBLE_EQ(k.observed, 0.7);
  EXPECT_DOUBLE_EQ(k.expected, 0.5);
  EXPECT_NEAR(k.kappa, 0.4, 1e-12);
  EXPECT_TRUE(k.defined);
}

// Perfect agreement is 1; agreement exactly at chance (each rater's labels independent of the
// other's: p_o = p_e = 0.5) is 0; systematic disagreement is negative.
TEST(Agreement, CohenKappaBounds) {
  EXPECT_DOUBLE_EQ(cohen_kappa({{10, 0}, {0, 10}}).kappa, 1.0);
  EXPECT_NEAR(cohen_kappa({{5, 5}, {5, 5}}).kappa, 0.0, 1e-12);
  EXPECT_DOUBLE_EQ(cohen_kappa({{0, 10}, {10, 0}}).kappa, -1.0);
}

// Fleiss (1971) as on Wikipedia ("Fleiss' kappa", worked example): 10 subjects, 14 raters,
// 5 categories. p_j = 0.143, 0.200, 0.279, 0.150, 0.229; P_bar = 0.378, P_e = 0.213,
// kappa = (0.378 - 0.213) / (1 - 0.213) = 0.210.
TEST(Agreement, FleissKappaOnTheWikipediaExample) {
  KappaResult k = fleiss_kappa({
      {0, 0, 0, 0, 14},
      {0, 2, 6, 4, 2},
      {0, 0, 3, 5, 6},
      {0, 3, 9, 2, 0},
      {2, 2, 8, 1, 1},
      {7, 7, 0, 0, 0},
      {3, 2, 6, 3, 0},
      {2, 5, 3, 2, 2},
      {6, 5, 2, 1, 0},
      {0, 2, 2, 3, 7},
  });
  EXPECT_EQ(k.items, 10u);
  EXPECT_NEAR(k.observed, 0.378, 5e-4);
  EXPECT_NEAR(k.expected, 0.213, 5e-4);
  EXPECT_NEAR(k.kappa, 0.210, 5e-4);
}

// Two raters per item, by hand: items [2,0], [0,2], [1,1], [2,0]. P_i = 1, 1, 0, 1, so
// P_bar = 0.75; p = (5/8, 3/8), P_e = 25/64 + 9/64 = 34/64; kappa = (0.75 - 34/64) / (30/64)
// = 14/30. Items with one judgment are skipped; items may have different numbers of raters.
TEST(Agreement, FleissKappaSkipsSingleJudgmentsAndAllowsUnequalRaters) {
  KappaResult k = fleiss_kappa({{2, 0}, {0, 2}, {1, 1}, {2, 0}, {1, 0}});
  EXPECT_EQ(k.items, 4u);
  EXPECT_DOUBLE_EQ(k.observed, 0.75);
  EXPECT_DOUBLE_EQ(k.expected, 34.0 / 64.0);
  EXPECT_NEAR(k.kappa, 14.0 / 30.0, 1e-12);
  // A third rater on the first item: P_1 = (9 - 3) / 6 = 1 still; p = (6/9, 3/9).
  KappaResult three = fleiss_kappa({{3, 0}, {0, 2}, {1, 1}, {2, 0}});
  EXPECT_DOUBLE_EQ(three.expected, 36.0 / 81.0 + 9.0 / 81.0);
}

TEST(Agreement, UndefinedWithoutItemsOrWithOneLabel) {
  EXPECT_FALSE(fleiss_kappa({}).defined);
  EXPECT_FALSE(fleiss_kappa({{1, 0}}).defined);
  KappaResult one_label = fleiss_kappa({{2, 0}, {3, 0}});
  EXPECT_FALSE(one_label.defined);
  EXPECT_EQ(one_label.kappa, 0.0);
  EXPECT_FALSE(cohen_kappa({{7, 0}, {0, 0}}).defined);
  EXPECT_THROW(cohen_kappa({{1, 2}, {3}}), UsageError);
  EXPECT_THROW(fleiss_kappa({{1, 2}, {3}}), UsageError);
}

}  // namespace
}  // namespace dpo
