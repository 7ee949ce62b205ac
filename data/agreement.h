// Chance-corrected agreement between reviewers who judged the same comparisons.
//
// Cohen's kappa (two raters, each item judged by both): with p_o the share of items on which
// they agree and p_e = sum_k p1(k) * p2(k) the agreement expected from each rater's own label
// shares, kappa = (p_o - p_e) / (1 - p_e).
//
// Fleiss' kappa (any number of raters per item): item i with n_i judgments, n_ik of them in
// category k. P_i = (sum_k n_ik^2 - n_i) / (n_i (n_i - 1)) is the share of agreeing rater pairs
// on the item; P_bar is their mean over items; p_k = sum_i n_ik / sum_i n_i is the category's
// share of all judgments and P_e = sum_k p_k^2. kappa = (P_bar - P_e) / (1 - P_e). With the same
// n on every item this is Fleiss (1971); items with different n use the same formulas (each item
// weighs the same). Items with fewer than two judgments are skipped.
#pragma once

#include <cstdint>
#include <vector>

namespace dpo {

struct KappaResult {
  uint64_t items = 0;
  double observed = 0;  // p_o (Cohen) or P_bar (Fleiss)
  double expected = 0;  // p_e or P_e
  double kappa = 0;
  // False when there are no items or every judgment falls in one category (p_e = 1): kappa
  // is then undefined and `kappa` holds 0.
  bool defined = false;
};

// table[a][b]: items that rater 1 put in category a and rater 2 in category b (square).
KappaResult cohen_kappa(const std::vector<std::vector<uint64_t>>& table);

// counts[i][k]: judgments of item i in category k (every row the same length).
KappaResult fleiss_kappa(const std::vector<std::vector<uint64_t>>& counts);

}  // namespace dpo
