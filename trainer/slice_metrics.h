// Slice-level evaluation: loss, accuracy and margin of the held-out pairs per value of a slice
// key (a rubric, a locale, a source), from per-pair figures and per-pair slice labels. Sums
// first, then means, pairs counted per slice, with the loss module's accuracy (a tie counts
// one half). Also the noise of a slice's accuracy, for `dpo compare`. Torch-free; the JSON
// library stays in slice_metrics.cpp.
//
// Slice keys are the field paths of `dpo validate` (data/row_fields.h): "metadata.<field>" reads
// the row's `metadata` object ("metadata.review.rubric" inside a nested object), any other path
// the row's other top-level fields as prepared ("source", "annotation.locale"), and
// "source_file" the input file the pair came from. A pair without the field, or whose value is
// an object or array, is in the slice "(none)"; numbers and booleans are their JSON text ("3",
// "true").
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "dataloader/prepared_dataset.h"

namespace dpo {

constexpr const char* kNoSliceValue = "(none)";

// The value of `key` for one pair: its metadata and other fields (JSON object texts, empty:
// none) and source file.
std::string slice_value(
    const std::string& key,
    const std::string& metadata_json,
    const std::string& fields_json,
    const std::string& source_file);

// labels[k][i]: the value of slice_by[k] for pair i of `split`; `source_files` names the
// split's source_file indices (when one is not named: "file #<index>").
std::vector<std::vector<std::string>> slice_labels(
    const std::vector<std::string>& slice_by,
    const PreparedSplit& split,
    const std::vector<std::string>& source_files);

// What one held-out pair gave: the implicit rewards and its loss.
struct PairOutcome {
  double reward_chosen = 0;
  double reward_rejected = 0;
  double loss = 0;
};

// Means over the pairs of one slice.
struct SliceMetrics {
  std::string value;
  int64_t pairs = 0;
  double loss = 0;
  double accuracy = 0;  // share with margin > 0, ties one half
  double margin = 0;    // reward chosen - rejected
  double reward_chosen = 0;
  double reward_rejected = 0;
};

// Every slice of one key, by value (byte order).
struct SliceBreakdown {
  std::string key;
  std::vector<SliceMetrics> slices;
  const SliceMetrics* find(const std::string& value) const;
};

// labels[k][i]: the value of keys[k] for pair i (every labels[k] as long as `pairs`;
// std::invalid_argument otherwise).
std::vector<SliceBreakdown> slice_metrics(
    const std::vector<std::string>& keys,
    const std::vector<std::vector<std::string>>& labels,
    const std::vector<PairOutcome>& pairs);

// {"<key>": {"<value>": {"pairs": n, "loss": .., "accuracy": .., "margin": ..,
// "reward_chosen": .., "reward_rejected": ..}, ...}, ...}: the `slices` object of a val line of
// metrics.jsonl and of the gates' reports. Parsing it back gives the same breakdowns.
std::string slices_to_json(const std::vector<SliceBreakdown>& slices);
std::vector<SliceBreakdown> slices_from_json(const std::string& text);

// A console table: one line per slice ("metadata.rubric = concise  pairs 12  loss 0.4123 ...").
std::string slices_table(const std::vector<SliceBreakdown>& slices);

// The standard error of the difference of two accuracies measured on n1 and n2 pairs, under
// the hypothesis that they are equal (pooled proportion p = (p1 n1 + p2 n2) / (n1 + n2)):
// sqrt(p (1 - p) (1/n1 + 1/n2)). 0 when either count is 0.
double accuracy_difference_standard_error(double p1, int64_t n1, double p2, int64_t n2);

}  // namespace dpo
