// The per-slice verdicts of the data gates, as pure functions of the figures (so that tests feed
// them numbers worked out by hand): `dpo check`'s least held-out accuracy per slice, and
// `dpo compare`'s slice regression, an accuracy drop beyond the slice's own noise. Slices too
// small to judge are reported as warnings, never as failures.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pipeline/data_gates.h"
#include "trainer/slice_metrics.h"

namespace dpo {

// dpo check: one criterion "slice_accuracy[<key>=<value>]" per slice with at least `min_pairs`
// pairs (passed when its accuracy is at least `min_accuracy`); a warning for each smaller slice
// below `min_accuracy`. Nothing when min_accuracy is 0 (the gate is off).
struct SliceCheck {
  std::vector<Criterion> criteria;
  std::vector<std::string> warnings;
};
SliceCheck check_slices(
    const std::vector<SliceBreakdown>& slices, double min_accuracy, int64_t min_pairs);

// dpo compare: one slice on the common held-out set.
struct SliceComparison {
  std::string key, value;
  int64_t pairs = 0;    // common held-out pairs in the slice (the candidate's count)
  double baseline = 0;  // accuracy; the mean over the baseline seeds
  double candidate = 0;
  double drop = 0;            // baseline - candidate
  double standard_error = 0;  // accuracy_difference_standard_error(baseline, n, candidate, n)
  double allowed = 0;         // max(max_accuracy_drop, noise_multiplier x standard_error)
  bool judged = false;        // pairs >= min_pairs
  bool regression = false;    // judged and drop > allowed
  bool warning = false;       // too small to judge, and drop > allowed
};

// Every slice present on both sides; `baseline` holds one breakdown list per seed (the seeds'
// accuracies are averaged).
std::vector<SliceComparison> compare_slices(
    const std::vector<std::vector<SliceBreakdown>>& baseline,
    const std::vector<SliceBreakdown>& candidate,
    double max_accuracy_drop,
    double noise_multiplier,
    int64_t min_pairs);

// The reason line of a regressed slice, and the warning line of a small one.
std::string slice_comparison_text(const SliceComparison& c);

// [{"key", "value", "pairs", "baseline_accuracy", "candidate_accuracy", "drop",
//   "standard_error", "allowed_drop", "judged", "regression", "warning"}, ...]
std::string slice_comparisons_json(const std::vector<SliceComparison>& comparisons);

}  // namespace dpo
