#include "trainer/prepared_informativeness.h"

#include <algorithm>

#include "core/format.h"
#include "trainer/slice_metrics.h"

namespace dpo {

InformativenessThresholds informativeness_thresholds(const Config& config) {
  return {config.check.easy_margin, config.check.ambiguous_margin};
}

Informativeness dataset_informativeness(
    const PreparedDataset& data, const ReferenceLogps& reference, const Config& config) {
  std::vector<ReferenceMargin> margins;
  std::vector<std::vector<std::string>> labels(config.data.slice_by.size());
  auto add_split = [&](const PreparedSplit& split, const ReferenceLogps::Split& logps) {
    const size_t n = std::min(split.size(), logps.chosen_logps.size());
    for (size_t i = 0; i < n; ++i) {
      margins.push_back(reference_margin(
          logps.chosen_logps[i],
          logps.rejected_logps[i],
          logps.chosen_tokens[i],
          logps.rejected_tokens[i]));
    }
    std::vector<std::vector<std::string>> split_labels =
        slice_labels(config.data.slice_by, split, data.header.source_files);
    for (size_t k = 0; k < labels.size(); ++k) {
      split_labels[k].resize(n);
      labels[k].insert(labels[k].end(), split_labels[k].begin(), split_labels[k].end());
    }
  };
  add_split(data.train, reference.train);
  add_split(data.val, reference.val);
  return informativeness(margins, config.data.slice_by, labels, informativeness_thresholds(config));
}

std::optional<Informativeness> prepared_informativeness(
    const std::string& path, const Config& config) {
  std::vector<std::string> hashes = list_reference_logps(path);
  if (hashes.empty())
    return std::nullopt;
  std::optional<ReferenceLogps> logps = read_reference_logps(path, hashes.front());
  if (!logps)
    return std::nullopt;
  return dataset_informativeness(read_prepared_dataset(path), *logps, config);
}

std::string informativeness_summary(const MarginSummary& s) {
  return "informativeness: " + std::to_string(s.pairs) + " pairs; the reference ranks " +
         format("%.1f%%", 100 * s.ranked_share) + " correctly; " +
         format("%.1f%%", 100 * s.easy_share) + " easy, " +
         format("%.1f%%", 100 * s.ambiguous_share) + " ambiguous; per-token margin p10/p50/p90 " +
         format("%.3f", s.p10) + " / " + format("%.3f", s.p50) + " / " + format("%.3f", s.p90);
}

}  // namespace dpo
