#include "core/json_file.h"

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace dpo {

nlohmann::json parse_json_file_text(const std::string& text, const std::string& file) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& error) {
    throw ConfigError(
        "'" + file + "' is not valid JSON: " + error.what(), "fix or re-download the file");
  }
}

}  // namespace dpo
