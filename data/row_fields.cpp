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
  bool empty_part = key.empty() || key.front() == '.' || key.back() == '.' ||
                    key.find("..") != std::string_view::npos;
  if (empty_part) {
    throw UsageError(
        option + " '" + path + "' does not name a field",
        "use metadata.KEY for a value of the row's metadata object (metadata.rubric, "
        "metadata.review.rubric inside a nested object) or the name of another top-level field "
        "(source)");
  }
}

}  // namespace dpo
