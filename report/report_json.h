// The JSON inputs of the `dpo report` page, shared by its section files: reading JSON and JSONL
// files tolerantly (a missing file is std::nullopt, a malformed one a DataError naming the file
// and line), reading values whatever their JSON type, and writing them as text or key/value
// rows. Internal to report/; only the forward declarations of nlohmann/json here.
#pragma once

#include <initializer_list>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace dpo::report_html {

using json = nlohmann::ordered_json;

// The file parsed, or std::nullopt when it does not exist. Throws IoError when it exists but
// cannot be read, DataError "<path>:<line>: malformed JSON: ..." when it is not JSON.
std::optional<json> read_json_file(const std::string& path);
// One JSON value per non-blank line; same errors as read_json_file.
std::optional<std::vector<json>> read_jsonl_file(const std::string& path);

// A number, or a string such as "nan" / "inf" (non-finite values cannot be JSON numbers);
// null for missing keys and non-numbers, NaN for explicit nulls (a non-finite value).
std::optional<double> number_of(const json& object, const std::string& key);

// Follows a path of object keys; nullptr when any is missing.
const json* at(const json& root, std::initializer_list<const char*> path);

// A scalar as text; arrays and objects as compact JSON.
std::string value_text(const json& value);

// value_text of object[key], or "not recorded".
std::string field_text(const json* object, const char* key);

// Nested objects become dotted keys; arrays of scalars one value; arrays of objects key[i].
void flatten(
    const json& value,
    const std::string& prefix,
    std::vector<std::pair<std::string, std::string>>& out);

// A prompt or completion as text: a string, or messages as "role: content" blocks.
std::string conversation_text(const json* value);

// Top-level fields of a report not in `shown`, flattened into a key/value table.
std::string other_fields_html(const json& report, const std::set<std::string>& shown);

}  // namespace dpo::report_html
