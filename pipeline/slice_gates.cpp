#include "pipeline/slice_gates.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "core/format.h"

namespace dpo {

SliceCheck check_slices(
    const std::vector<SliceBreakdown>& slices, double min_accuracy, int64_t min_pairs) {
  SliceCheck out;
  if (min_accuracy <= 0)
    return out;
  for (const SliceBreakdown& breakdown : slices) {
    for (const SliceMetrics& s : breakdown.slices) {
      const std::string name = breakdown.key + "=" + s.value;
      const std::string measured = "held-out accuracy " + format("%.3f", s.accuracy) + " on " +
                                   std::to_string(s.pairs) + " pairs";
      if (s.pairs >= min_pairs) {
        out.criteria.push_back(Criterion{
            "slice_accuracy[" + name + "]",
            s.accuracy,
            min_accuracy,
            s.accuracy >= min_accuracy,
            measured});
      } else if (s.accuracy < min_accuracy) {
        out.warnings.push_back(
            "small_slice: " + name + ": " + measured + ", below " + format("%.3f", min_accuracy) +
            " but fewer than check.min_slice_pairs (" + std::to_string(min_pairs) +
            ") pairs to judge");
      }
    }
  }
  return out;
}

std::vector<SliceComparison> compare_slices(
    const std::vector<std::vector<SliceBreakdown>>& baseline,
    const std::vector<SliceBreakdown>& candidate,
    double max_accuracy_drop,
    double noise_multiplier,
    int64_t min_pairs) {
  std::vector<SliceComparison> out;
  if (baseline.empty())
    return out;
  for (const SliceBreakdown& breakdown : candidate) {
    for (const SliceMetrics& s : breakdown.slices) {
      double sum = 0;
      int64_t seeds = 0;
      for (const std::vector<SliceBreakdown>& seed : baseline) {
        for (const SliceBreakdown& b : seed) {
          if (b.key != breakdown.key)
            continue;
          if (const SliceMetrics* m = b.find(s.value)) {
            sum += m->accuracy;
            seeds += 1;
          }
        }
      }
      if (seeds == 0)
        continue;  // not on the baseline side
      SliceComparison c;
      c.key = breakdown.key;
      c.value = s.value;
      c.pairs = s.pairs;
      c.baseline = sum / static_cast<double>(seeds);
      c.candidate = s.accuracy;
      c.drop = c.baseline - c.candidate;
      c.standard_error =
          accuracy_difference_standard_error(c.baseline, s.pairs, c.candidate, s.pairs);
      c.allowed = std::max(max_accuracy_drop, noise_multiplier * c.standard_error);
      c.judged = s.pairs >= min_pairs;
      c.regression = c.judged && c.drop > c.allowed;
      c.warning = !c.judged && c.drop > c.allowed;
      out.push_back(c);
    }
  }
  return out;
}

std::string slice_comparison_text(const SliceComparison& c) {
  std::string text = "slice " + c.key + "=" + c.value + ": held-out accuracy dropped by " +
                     format("%.3f", c.drop) + " (" + format("%.3f", c.baseline) + " -> " +
                     format("%.3f", c.candidate) + " on " + std::to_string(c.pairs) +
                     " pairs), more than the allowed " + format("%.3f", c.allowed) +
                     " (standard error " + format("%.3f", c.standard_error) + ")";
  if (c.warning)
    text += "; too few pairs to judge (compare.min_slice_pairs)";
  return text;
}

std::string slice_comparisons_json(const std::vector<SliceComparison>& comparisons) {
  nlohmann::json out = nlohmann::json::array();
  for (const SliceComparison& c : comparisons) {
    out.push_back(
        {{"key", c.key},
         {"value", c.value},
         {"pairs", c.pairs},
         {"baseline_accuracy", c.baseline},
         {"candidate_accuracy", c.candidate},
         {"drop", c.drop},
         {"standard_error", c.standard_error},
         {"allowed_drop", c.allowed},
         {"judged", c.judged},
         {"regression", c.regression},
         {"warning", c.warning}});
  }
  return out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace dpo
