#include "data/similarity.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

namespace dpo {
namespace {

// The textbook full dynamic programme, as the reference.
size_t naive_levenshtein(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j)
    prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1])});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

TEST(Similarity, KnownDistances) {
  EXPECT_EQ(bounded_levenshtein("kitten", "sitting", 10), 3u);
  EXPECT_EQ(bounded_levenshtein("", "abc", 10), 3u);
  EXPECT_EQ(bounded_levenshtein("same", "same", 0), 0u);
  EXPECT_EQ(bounded_levenshtein("kitten", "sitting", 2), 3u);  // over the bound: bound + 1
}

TEST(Similarity, BandedDistanceEqualsTheFullProgrammeWithinTheBound) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> letter('a', 'd');
  for (int trial = 0; trial < 2000; ++trial) {
    std::string a, b;
    int n = static_cast<int>(rng() % 30), m = static_cast<int>(rng() % 30);
    for (int i = 0; i < n; ++i)
      a.push_back(static_cast<char>(letter(rng)));
    // b is often a small edit of a, sometimes unrelated
    if (trial % 2 == 0) {
      b = a;
      for (int e = 0; e < static_cast<int>(rng() % 4); ++e) {
        size_t pos = b.empty() ? 0 : rng() % b.size();
        if (rng() % 2 && !b.empty())
          b.erase(pos, 1);
        else
          b.insert(pos, 1, 'x');
      }
    } else {
      for (int i = 0; i < m; ++i)
        b.push_back(static_cast<char>(letter(rng)));
    }
    size_t exact = naive_levenshtein(a, b);
    for (size_t bound : {0u, 1u, 3u, 8u, 40u}) {
      size_t got = bounded_levenshtein(a, b, bound);
      if (exact <= bound) {
        EXPECT_EQ(got, exact) << a << " / " << b << " bound " << bound;
      } else {
        EXPECT_EQ(got, bound + 1) << a << " / " << b << " bound " << bound;
      }
    }
  }
}

TEST(Similarity, ThresholdOnNormalisedSimilarity) {
  std::string a(100, 'a');
  std::string b = a;
  b[10] = 'b';  // one substitution in 100: similarity 0.99
  double s = 0;
  EXPECT_TRUE(similar_at_least(a, b, 0.95, &s));
  EXPECT_DOUBLE_EQ(s, 0.99);
  std::string c = a;
  for (int i = 0; i < 10; ++i)
    c[i * 10] = 'c';  // 10 substitutions: 0.90
  EXPECT_FALSE(similar_at_least(a, c, 0.95, &s));
  EXPECT_TRUE(similar_at_least(a, c, 0.90, &s));
  EXPECT_DOUBLE_EQ(s, 0.90);
}

TEST(Similarity, SurroundingWhitespaceIsIgnoredAndLengthAloneCanRuleOut) {
  double s = 0;
  EXPECT_TRUE(similar_at_least("  same text\n", "same text", 0.95, &s));
  EXPECT_DOUBLE_EQ(s, 1.0);
  EXPECT_FALSE(similar_at_least("short", std::string(1000, 'x'), 0.5, &s));
}

}  // namespace
}  // namespace dpo
