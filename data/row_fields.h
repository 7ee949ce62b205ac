// Named fields of a row for slices, reviewer ids, AI marks and timestamps. A field path is
// "metadata.KEY" for a value inside the row's `metadata` object, or the name of another
// top-level field of the row ("source", "locale"); dots go into nested objects
// ("metadata.review.rubric", "annotation.locale"). The same paths name the same values in
// `dpo eval`, `check` and `compare` (trainer/slice_metrics.h). Values are scalars as text
// (numbers as written, booleans as true/false); objects and arrays are not values.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "data/preference_row.h"

namespace dpo {

// The field's value, or nothing when the row does not have it (or it is not a scalar).
std::optional<std::string_view> row_field(const PreferenceRow& row, std::string_view path);

// Throws UsageError naming `option` when `path` cannot name a field ("", "metadata.",
// "metadata..b", "a.", ".a").
void check_field_path(const std::string& path, const std::string& option);

}  // namespace dpo
