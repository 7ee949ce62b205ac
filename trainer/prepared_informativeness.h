// The informativeness of a prepared dataset (trainer/informativeness.h) from the reference
// log-probs cached beside its pairs: every pair of both splits, overall and per slice key
// (data.slice_by). Written by `dpo train` (informativeness.json in the run folder, when the
// reference is precomputed) and by `dpo check` (its report). Torch-free.
#pragma once

#include <optional>
#include <string>

#include "dataloader/prepared_dataset.h"
#include "trainer/config.h"
#include "trainer/informativeness.h"

namespace dpo {

// check.easy_margin and check.ambiguous_margin.
InformativenessThresholds informativeness_thresholds(const Config& config);

// The margins of the pairs of `data` (train, then val) that `reference` covers.
Informativeness dataset_informativeness(
    const PreparedDataset& data, const ReferenceLogps& reference, const Config& config);

// The same from a prepared file and the first reference cached in it; nullopt when none is
// cached (reference.mode live).
std::optional<Informativeness> prepared_informativeness(
    const std::string& path, const Config& config);

// One console line: "informativeness: 120 pairs; the reference ranks 55.0% correctly; ...".
std::string informativeness_summary(const MarginSummary& summary);

}  // namespace dpo
