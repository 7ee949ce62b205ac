// The JSON inputs of `dpo report`: tolerant reading of JSON and JSONL files (missing is
// std::nullopt, malformed is a DataError with file:line), values of any JSON type read as
// numbers or text, and objects flattened into key/value rows.
#include "report/report_json.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/file_io.h"
#include "core/json_file.h"
#include "report/html_page.h"

namespace dpo::report_html {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Missing is not an error here (the page says "not recorded"); unreadable is.
std::optional<std::string> read_if_exists(const std::string& path) {
  if (!is_regular_file(path))
    return std::nullopt;
  return read_file(path, "report input");
}

json parse_json(const std::string& text, const std::string& path, uint64_t first_line) {
  json value;
  JsonProblem problem;
  JsonParseOptions options;
  options.first_line = first_line;
  if (!parse_json_strict(text, value, problem, options)) {
    throw DataError(
        path + ":" + std::to_string(problem.line) + ": malformed JSON: " + problem.describe(),
        "dpo report reads the files that dpo writes; regenerate or repair this one");
  }
  return value;
}

}  // namespace

std::optional<json> read_json_file(const std::string& path) {
  std::optional<std::string> text = read_if_exists(path);
  if (!text)
    return std::nullopt;
  return parse_json(*text, path, 1);
}

std::optional<std::vector<json>> read_jsonl_file(const std::string& path) {
  std::optional<std::string> text = read_if_exists(path);
  if (!text)
    return std::nullopt;
  std::vector<json> rows;
  std::istringstream in(*text);
  std::string line;
  uint64_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.find_first_not_of(" \t\r") == std::string::npos)
      continue;
    rows.push_back(parse_json(line, path, number));
  }
  return rows;
}

std::optional<double> number_of(const json& object, const std::string& key) {
  if (!object.is_object())
    return std::nullopt;
  auto found = object.find(key);
  if (found == object.end())
    return std::nullopt;
  if (found->is_number())
    return found->get<double>();
  if (found->is_boolean())
    return found->get<bool>() ? 1.0 : 0.0;
  if (found->is_null())
    return kNaN;
  if (found->is_string()) {
    const std::string& s = found->get_ref<const std::string&>();
    char* end = nullptr;
    double value = std::strtod(s.c_str(), &end);
    if (!s.empty() && end == s.c_str() + s.size())
      return value;
  }
  return std::nullopt;
}
const json* at(const json& root, std::initializer_list<const char*> path) {
  const json* node = &root;
  for (const char* key : path) {
    if (!node->is_object())
      return nullptr;
    auto found = node->find(key);
    if (found == node->end())
      return nullptr;
    node = &*found;
  }
  return node;
}

std::string value_text(const json& value) {
  if (value.is_string())
    return value.get<std::string>();
  if (value.is_boolean())
    return value.get<bool>() ? "true" : "false";
  if (value.is_null())
    return "null";
  if (value.is_number_integer() || value.is_number_unsigned())
    return value.dump();
  if (value.is_number())
    return fmt_number(value.get<double>());
  std::string text = value.dump();
  return text.size() > 300 ? text.substr(0, 300) + "..." : text;
}

std::string field_text(const json* object, const char* key) {
  if (object == nullptr)
    return "not recorded";
  const json* value = at(*object, {key});
  return value == nullptr ? "not recorded" : value_text(*value);
}

void flatten(
    const json& value,
    const std::string& prefix,
    std::vector<std::pair<std::string, std::string>>& out) {
  if (value.is_object()) {
    if (value.empty())
      out.emplace_back(prefix, "{}");
    for (auto it = value.begin(); it != value.end(); ++it) {
      flatten(it.value(), prefix.empty() ? it.key() : prefix + "." + it.key(), out);
    }
    return;
  }
  if (value.is_array()) {
    bool scalars =
        std::none_of(value.begin(), value.end(), [](const json& v) { return v.is_structured(); });
    if (scalars) {
      std::string joined;
      for (const json& v : value)
        joined += (joined.empty() ? "" : ", ") + value_text(v);
      out.emplace_back(prefix, value.empty() ? "[]" : joined);
      return;
    }
    for (size_t i = 0; i < value.size(); ++i)
      flatten(value[i], prefix + "[" + std::to_string(i) + "]", out);
    return;
  }
  out.emplace_back(prefix, value_text(value));
}

std::string conversation_text(const json* value) {
  if (value == nullptr || value->is_null())
    return "not recorded";
  if (value->is_string())
    return value->get<std::string>();
  if (value->is_array()) {
    std::string text;
    for (const json& message : *value) {
      if (!text.empty())
        text += "\n\n";
      if (message.is_object()) {
        text += field_text(&message, "role") + ": " + field_text(&message, "content");
      } else {
        text += value_text(message);
      }
    }
    return text;
  }
  return value->dump();
}

// Top-level fields not shown elsewhere, flattened.
std::string other_fields_html(const json& report, const std::set<std::string>& shown) {
  std::vector<std::pair<std::string, std::string>> rows;
  for (auto it = report.begin(); it != report.end(); ++it) {
    if (shown.count(it.key()) == 0)
      flatten(it.value(), it.key(), rows);
  }
  return rows.empty() ? "<p>None.</p>" : kv_table(rows);
}

}  // namespace dpo::report_html
