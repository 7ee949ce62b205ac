// The two data gates of a pipeline: `dpo check` (does this dataset train cleanly?) and
// `dpo compare` (is version B of a dataset worse than version A?). Both run the same steps as
// the commands a person would run (validate, prepare, train, eval) and turn the figures into
// criteria with thresholds from the config's `check` and `compare` sections.
#pragma once

#include <string>
#include <vector>

namespace dpo {

struct Criterion {
  std::string name;
  double value = 0;
  double threshold = 0;
  bool passed = false;
  std::string detail;  // what was measured, in words
};

struct Config;
struct LossMeans;

struct CheckRequest {
  std::vector<std::string> files;
  std::string model_dir;
  std::string config_path;             // empty: defaults (configs/check.json is a good start)
  std::vector<std::string> overrides;  // --set
  int64_t steps = 0;                   // 0: check.steps
  std::string out_dir = "runs/check";
  std::vector<std::string> slice_by;  // --slice-by, added to data.slice_by
};

struct CheckOutcome {
  bool passed = false;
  std::vector<Criterion> criteria;
  // Information that does not fail the check: slices too small to judge, pairs that are nearly
  // all easy or all ambiguous for the reference ("code: message").
  std::vector<std::string> warnings;
  std::string informativeness;  // one line on the reference margins; empty: not measured
  std::string report_json;      // {"kind": "check", ...}
  std::string run_dir;
};

CheckOutcome run_check(const CheckRequest& request);

struct CompareRequest {
  std::vector<std::string> baseline, candidate;
  std::string model_dir;
  std::string config_path;
  std::vector<std::string> overrides;
  std::vector<std::string> eval_data;  // empty: held-out pairs present in both versions
  std::string out_dir = "runs/compare";
  std::vector<std::string> slice_by;  // --slice-by, added to data.slice_by
};

struct CompareOutcome {
  bool regression = false;
  std::vector<std::string> reasons;
  std::vector<std::string> warnings;  // slices that dropped but are too small to judge
  std::string report_json;            // {"kind": "compare", ...}
  std::string summary;                // for the console
};

CompareOutcome run_compare(const CompareRequest& request);

// The criteria of check that judge figures alone, kept apart so that their edge cases are tested
// without a run. Truncation passes when check.allow_truncation is set or data.length_policy asks
// for it (truncate_prompt_left, truncate_completion): a truncation the config chose is no fault.
Criterion truncation_criterion(int64_t truncated, int64_t dropped, const Config& config);
// compare's allowed drop of the overall held-out accuracy: the largest of
// compare.max_accuracy_drop, compare.noise_multiplier x the baseline seeds' spread, and
// compare.slice_noise_multiplier x the standard error of the difference of the two accuracies on
// the common held-out set (trainer/slice_metrics.h). Without the last, two seeds that both reach
// 1.000 (spread 0) made one pair of 12 a regression.
double overall_allowed_drop(const Config& config, double seed_spread, double standard_error);

// Held-out accuracy above 0.5 + check.min_val_accuracy_margin; with no held-out pair it fails
// saying so (nothing was measured), with the fix.
Criterion val_accuracy_criterion(
    const LossMeans& initial, const LossMeans& final_eval, const Config& config);

}  // namespace dpo
