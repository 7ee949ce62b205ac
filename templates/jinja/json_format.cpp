// Python json.dumps formatting of template values (see json_format.h).
#include "templates/jinja/json_format.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/text.h"
#include "templates/jinja/limits.h"
#include "templates/jinja/unicode.h"

namespace dpo::jinja {

namespace {

void append_escaped_code_point(uint32_t c, std::string& out) {
  char buffer[16];
  if (c >= 0x10000 && !(c >= 0xDC80 && c <= 0xDCFF)) {
    uint32_t v = c - 0x10000;
    std::snprintf(
        buffer, sizeof buffer, "\\u%04x\\u%04x", 0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF));
  } else {
    std::snprintf(buffer, sizeof buffer, "\\u%04x", c);
  }
  out += buffer;
}

// Python's json.dumps escapes; with ensure_ascii every code point above 0x7E as \uXXXX (a
// surrogate pair above the BMP), the stray bytes of invalid UTF-8 included.
void append_json_string(const std::string& text, bool ensure_ascii, std::string& out) {
  out += '"';
  if (!ensure_ascii) {
    append_json_escaped(text, out);  // bytes pass through, stray ones too, as decode + encode would
  } else {
    for (uint32_t c : decode_utf8(text)) {
      if (c > 0x7E) {
        append_escaped_code_point(c, out);
      } else {
        const char ascii = static_cast<char>(c);
        append_json_escaped(std::string_view(&ascii, 1), out);
      }
    }
  }
  out += '"';
}

std::string float_json(double value) {
  if (std::isnan(value))
    return "NaN";
  if (std::isinf(value))
    return value > 0 ? "Infinity" : "-Infinity";
  return python_float_repr(value);
}

[[noreturn]] void not_serializable(const Value& value) {
  throw_type_error("Object of type " + value.type_name() + " is not JSON serializable");
}

class JsonWriter {
 public:
  explicit JsonWriter(const JsonOptions& options) : options_(options) {
    item_separator_ =
        options.item_separator ? *options.item_separator : (options.indent ? "," : ", ");
  }

  void write(const Value& value, int depth, std::string& out) {
    // Bounded like every string a template builds, and nested no deeper than rendering may be.
    check_string_growth(out.size());
    if (depth > current_limits().max_render_depth) {
      throw RenderError(
          RenderError::Kind::limit,
          "tojson: a value nested deeper than " +
              std::to_string(current_limits().max_render_depth) + " levels");
    }
    switch (value.kind()) {
      case ValueKind::none:
        out += "null";
        return;
      case ValueKind::boolean:
        out += value.bool_value() ? "true" : "false";
        return;
      case ValueKind::integer:
        out += std::to_string(value.int_value());
        return;
      case ValueKind::floating:
        out += float_json(value.float_value());
        return;
      case ValueKind::string:
        append_json_string(value.str(), options_.ensure_ascii, out);
        return;
      case ValueKind::list:
      case ValueKind::tuple:
        if (value.flavor() != SequenceFlavor::list)
          not_serializable(value);
        write_list(value.items(), depth, out);
        return;
      case ValueKind::dict:
        write_dict(value.dict_data(), depth, out);
        return;
      default:
        not_serializable(value);
    }
  }

 private:
  void newline(int depth, std::string& out) {
    if (!options_.indent)
      return;
    out += '\n';
    for (int i = 0; i < depth; ++i) {
      out += *options_.indent;
      check_string_growth(out.size());
    }
  }

  void write_list(const ValueList& items, int depth, std::string& out) {
    if (items.empty()) {
      out += "[]";
      return;
    }
    out += '[';
    newline(depth + 1, out);
    for (size_t i = 0; i < items.size(); ++i) {
      if (i > 0) {
        out += item_separator_;
        newline(depth + 1, out);
      }
      write(items[i], depth + 1, out);
    }
    newline(depth, out);
    out += ']';
  }

  static std::string key_text(const Value& key) {
    switch (key.kind()) {
      case ValueKind::string:
        return key.str();
      case ValueKind::boolean:
        return key.bool_value() ? "true" : "false";
      case ValueKind::integer:
        return std::to_string(key.int_value());
      case ValueKind::floating:
        return float_json(key.float_value());
      case ValueKind::none:
        return "null";
      default:
        throw_type_error("keys must be str, int, float, bool or None, not " + key.type_name());
    }
  }

  void write_dict(const DictData& dict, int depth, std::string& out) {
    if (dict.entries.empty()) {
      out += "{}";
      return;
    }
    std::vector<const std::pair<Value, Value>*> entries;
    for (const auto& entry : dict.entries)
      entries.push_back(&entry);
    if (options_.sort_keys) {
      std::stable_sort(entries.begin(), entries.end(), [](const auto* a, const auto* b) {
        return value_less(a->first, b->first);
      });
    }
    out += '{';
    newline(depth + 1, out);
    for (size_t i = 0; i < entries.size(); ++i) {
      if (i > 0) {
        out += item_separator_;
        newline(depth + 1, out);
      }
      append_json_string(key_text(entries[i]->first), options_.ensure_ascii, out);
      out += options_.key_separator;
      write(entries[i]->second, depth + 1, out);
    }
    newline(depth, out);
    out += '}';
  }

  const JsonOptions& options_;
  std::string item_separator_;
};

}  // namespace

std::string to_json(const Value& value, const JsonOptions& options) {
  std::string out;
  JsonWriter(options).write(value, 0, out);
  check_string_size(out.size());
  return out;
}

}  // namespace dpo::jinja
