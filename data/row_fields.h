// Named fields of a row for slices, reviewer ids, AI marks and timestamps: "metadata.KEY" is a
// scalar of the row's `metadata` object, any other name a top-level scalar field of the row
// (`source`, `locale`). Only one level: nested objects cannot be named. Values are text (numbers
// as written, booleans as true/false).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "data/preference_row.h"

namespace dpo {

// The field's value, or nothing when the row does not have it (or it is not a scalar).
std::optional<std::string_view> row_field(const PreferenceRow& row, std::string_view path);

// Throws UsageError naming `option` when `path` cannot name a field ("", "metadata.",
// "metadata.a.b", a dot elsewhere).
void check_field_path(const std::string& path, const std::string& option);

}  // namespace dpo
