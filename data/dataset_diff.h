// The data half of `dpo compare`: what changed between two versions of a preference dataset.
// Both versions are read with validate_files(); every accepted pair is reduced to a few hashes
// (prompt key, chosen, rejected) and its location, so memory grows by about 80 bytes per pair
// plus its id, never by its text.
//
// Matching. A pair whose id appears in both versions is matched by id (the k-th occurrence of
// an id with the k-th occurrence in the other version). The remaining pairs are matched by
// prompt key (the validator's definition: every message's role and content, whitespace runs
// collapsed, ends trimmed, ASCII lower-cased); two pairs that both have ids, different ones,
// never match. Within one prompt key, identical pairs are matched first, then label flips,
// then the rest in reading order.
//
// A matched pair is unchanged (same prompt key and same trimmed completions), a label flip
// (same prompt, chosen and rejected swapped) or changed (anything else). Unmatched pairs are
// added (candidate only) or removed (baseline only). Rows that the validator rejects or
// excludes are not pairs; they show in the validation deltas instead.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/validation_report.h"
#include "data/validator.h"

namespace dpo {

// When the data half of a comparison counts as a regression.
struct DataRegressionThresholds {
  // A row-error code (severity error) regresses when its count rises by more than this.
  uint64_t allowed_error_increase = 0;
  // With compare_rates, a code must also rise as a fraction of rows by more than
  // allowed_error_rate_increase (for candidates much larger than the baseline).
  bool compare_rates = false;
  double allowed_error_rate_increase = 0.0;
  // Warnings regress too when include_warnings is set.
  bool include_warnings = false;
  uint64_t allowed_warning_increase = 0;
  // Label flips as a fraction of the matched pairs; negative disables the check.
  double max_label_flip_fraction = -1.0;
};

struct DatasetDiffOptions {
  ValidateOptions validate;  // used for both versions (same split seed and fraction)
  size_t max_examples = 10;  // per category
  DataRegressionThresholds thresholds;
};

// Where a pair is: the file's path, its line (and array index), its id.
struct PairLocation {
  std::string file;
  uint64_t line = 0;
  int64_t index = -1;
  std::string id;
};

struct PairDiffExample {
  bool has_baseline = false, has_candidate = false;
  PairLocation baseline, candidate;
  std::string matched_by;  // "id" | "prompt" | "" (added, removed)
};

struct PairDiffCategory {
  uint64_t count = 0;
  std::vector<PairDiffExample> examples;  // the first few, in candidate (else baseline) order
};

struct PairDiff {
  uint64_t baseline_pairs = 0, candidate_pairs = 0;
  uint64_t matched_by_id = 0, matched_by_prompt = 0;
  PairDiffCategory added, removed, changed, unchanged, label_flips;
};

// One number in both versions.
struct NumberDelta {
  std::string name;
  double baseline = 0, candidate = 0;
  double delta() const {
    return candidate - baseline;
  }
};

struct IssueDelta {
  IssueCode code = IssueCode::invalid_json;
  uint64_t baseline = 0, candidate = 0;
};

struct BalanceDelta {
  std::string key, value;
  uint64_t baseline_pairs = 0, candidate_pairs = 0;
  double baseline_chosen_longer = 0, candidate_chosen_longer = 0;  // fractions
};

// How much older or newer the candidate's pairs are: the median age of each version's dated
// pairs (validation's staleness figures), both against the same reference date. `present` when
// both versions have dated pairs.
struct AgeShift {
  bool present = false;
  uint64_t baseline_dated = 0, candidate_dated = 0;
  double baseline_median_days = 0, candidate_median_days = 0;
  double shift_days() const {
    return candidate_median_days - baseline_median_days;
  }
};

struct DatasetDiff {
  std::vector<std::string> baseline_files, candidate_files;
  ValidationReport baseline, candidate;
  PairDiff pairs;
  std::vector<NumberDelta> counts;    // rows, pairs_ok, ..., split sizes, length statistics
  std::vector<IssueDelta> issues;     // every issue code, in table order
  std::vector<BalanceDelta> balance;  // every metadata key/value seen in either version
  AgeShift age_shift;
  DataRegressionThresholds thresholds;
  bool data_regression = false;
  std::vector<std::string> reasons;  // why it regressed; empty when it did not
};

// Validates both versions and compares them. Throws what validate_files throws (IoError for an
// unreadable file, UsageError for bad options).
DatasetDiff diff_datasets(
    const std::vector<std::string>& baseline_files,
    const std::vector<std::string>& candidate_files,
    const DatasetDiffOptions& options = {});

// The diff as JSON: {"pairs": {...}, "validation": {"baseline", "candidate", "deltas"},
// "data_regression", "reasons", "thresholds"}; `pretty` indents it.
std::string dataset_diff_to_json(const DatasetDiff& diff, bool pretty = true);

// A few lines for the console: pair counts, changed counts, the verdict and its reasons.
std::string dataset_diff_summary(const DatasetDiff& diff);

}  // namespace dpo
