#include "data/row_fields.h"

#include "core/error.h"

namespace dpo {

namespace {

constexpr std::string_view kMetadataPrefix = "metadata.";

std::optional<std::string_view> find_value(
    const std::vector<std::pair<std::string, std::string>>& values, std::string_view key) {
  for (const auto& [name, value] : values) {
    if (name == key)
      return std::string_view(value);
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string_view> row_field(const PreferenceRow& row, std::string_view path) {
  if (path.substr(0, kMetadataPrefix.size()) == kMetadataPrefix)
    return find_value(row.metadata_values, path.substr(kMetadataPrefix.size()));
  return find_value(row.field_values, path);
}

void check_field_path(const std::string& path, const std::string& option) {
  std::string_view key = path;
  if (key.substr(0, kMetadataPrefix.size()) == kMetadataPrefix)
    key.remove_prefix(kMetadataPrefix.size());
  if (key.empty() || key.find('.') != std::string_view::npos) {
    throw UsageError(
        option + " '" + path + "' does not name a field",
        "use metadata.KEY for a scalar of the row's metadata object (metadata.rubric) or the name "
        "of a top-level field (source); nested objects cannot be named");
  }
}

}  // namespace dpo
