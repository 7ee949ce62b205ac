// The `tojson` filter as transformers defines it: Python's json.dumps(value,
// ensure_ascii=False, indent=None, separators=None, sort_keys=False), byte for byte.
#pragma once

#include <optional>
#include <string>

#include "templates/jinja/value.h"

namespace dpo::jinja {

struct JsonOptions {
  bool ensure_ascii = false;
  std::optional<std::string> indent;          // absent: one line
  std::optional<std::string> item_separator;  // default ", " (one line) or "," (indented)
  std::string key_separator = ": ";
  bool sort_keys = false;
};

// Throws a type error for values JSON cannot hold (undefined, namespaces, functions).
std::string to_json(const Value& value, const JsonOptions& options);

}  // namespace dpo::jinja
