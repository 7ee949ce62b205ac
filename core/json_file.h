// Parsing the JSON files of a model folder (tokenizer_config.json, chat_template.json, ...) with
// errors that name the file. Only the forward declaration of nlohmann::json is seen here; the
// callers that walk the value include <nlohmann/json.hpp> in their .cpp.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>

namespace dpo {

// Parses `text`; throws ConfigError "'<file>' is not valid JSON: <where and why>" with a hint.
nlohmann::json parse_json_file_text(const std::string& text, const std::string& file);

}  // namespace dpo
