// Filters and tests (see filters.h). Each one follows jinja2/filters.py and jinja2/tests.py
// (3.1); the comments name the Python behaviour being reproduced where it is not obvious.
#include "templates/jinja/filters.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>

#include "templates/jinja/json_format.h"
#include "templates/jinja/limits.h"
#include "templates/jinja/operations.h"
#include "templates/jinja/unicode.h"

namespace dpo::jinja {

namespace {

using Filter = Value (*)(const Value& input, const CallArgs& args);
using Test = bool (*)(const Value& input, const CallArgs& args);

std::string filter_name(const char* name) {
  return std::string("filter '") + name + "'";
}

Value string_value(std::string text) {
  return Value::string(std::move(text));
}

// Python's float(str): optional sign, digits with single underscores between them, fraction,
// exponent, or inf/infinity/nan; surrounding whitespace allowed. False when not a number.
bool parse_python_float(const std::string& input, double& out) {
  std::string text = python_strip(input, true, true);
  std::string lower = python_lower(text);
  std::string body = lower;
  double sign = 1;
  if (!body.empty() && (body[0] == '+' || body[0] == '-')) {
    if (body[0] == '-')
      sign = -1;
    body.erase(0, 1);
  }
  if (body == "inf" || body == "infinity") {
    out = sign * INFINITY;
    return true;
  }
  if (body == "nan") {
    out = NAN;
    return true;
  }
  std::string cleaned;
  bool digits_before = false, digits_after = false, seen_dot = false, seen_exp = false;
  for (size_t i = 0; i < body.size(); ++i) {
    char c = body[i];
    if (c >= '0' && c <= '9') {
      (seen_dot && !seen_exp ? digits_after : digits_before) = true;
      cleaned += c;
    } else if (c == '_') {
      if (i == 0 || i + 1 >= body.size() ||
          !std::isdigit(static_cast<unsigned char>(body[i - 1])) ||
          !std::isdigit(static_cast<unsigned char>(body[i + 1]))) {
        return false;
      }
    } else if (c == '.' && !seen_dot && !seen_exp) {
      seen_dot = true;
      cleaned += c;
    } else if (c == 'e' && !seen_exp && (digits_before || digits_after)) {
      seen_exp = true;
      cleaned += c;
      if (i + 1 < body.size() && (body[i + 1] == '+' || body[i + 1] == '-'))
        cleaned += body[++i];
      if (i + 1 >= body.size() || !std::isdigit(static_cast<unsigned char>(body[i + 1])))
        return false;
    } else {
      return false;
    }
  }
  if (!digits_before && !digits_after)
    return false;
  out = sign * std::strtod(cleaned.c_str(), nullptr);
  return true;
}

// Python's int(str, base) for bases 2..36 (and 0: prefix decides).
bool parse_python_int(const std::string& input, int64_t base, int64_t& out) {
  std::string text = python_strip(input, true, true);
  bool negative = false;
  size_t i = 0;
  if (i < text.size() && (text[i] == '+' || text[i] == '-'))
    negative = text[i++] == '-';
  if (i + 1 < text.size() && text[i] == '0') {
    char p = static_cast<char>(std::tolower(static_cast<unsigned char>(text[i + 1])));
    int64_t prefix_base = p == 'x' ? 16 : p == 'o' ? 8 : p == 'b' ? 2 : 0;
    if (prefix_base != 0 && (base == 0 || base == prefix_base)) {
      base = prefix_base;
      i += 2;
      if (i < text.size() && text[i] == '_')
        ++i;
    }
  }
  if (base == 0)
    base = 10;
  if (i >= text.size())
    return false;
  unsigned long long value = 0;
  bool any = false;
  for (; i < text.size(); ++i) {
    char c = text[i];
    if (c == '_') {
      if (!any || i + 1 >= text.size() || text[i + 1] == '_')
        return false;
      continue;
    }
    int digit = std::isdigit(static_cast<unsigned char>(c)) ? c - '0'
                : std::isalpha(static_cast<unsigned char>(c))
                    ? std::tolower(static_cast<unsigned char>(c)) - 'a' + 10
                    : 99;
    if (digit >= base)
      return false;
    if (value > (static_cast<unsigned long long>(INT64_MAX) - digit) / base) {
      throw RenderError(RenderError::Kind::unsupported, "integer overflow in the int filter");
    }
    value = value * base + digit;
    any = true;
  }
  if (!any)
    return false;
  out = negative ? -static_cast<int64_t>(value) : static_cast<int64_t>(value);
  return true;
}

// Jinja2's make_attrgetter: "a.b.0" looked up with getitem semantics, part by part.
Value lookup_attribute_path(const Value& item, const Value& attribute) {
  if (!attribute.is_string())
    return get_item(item, attribute);
  Value current = item;
  for (const std::string& part : python_split(attribute.str(), ".", -1)) {
    bool numeric = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) {
      return c >= '0' && c <= '9';
    });
    current = get_item(current, numeric ? Value::integer(std::stoll(part)) : Value::string(part));
  }
  return current;
}

Value ignore_case(const Value& value) {
  return value.is_string() ? Value::string(python_lower(value.str())) : value;
}

// The sort/unique/min/max key: attribute path (comma-separated: a tuple), lower-cased strings
// unless case_sensitive.
Value sort_key(const Value& item, const Value& attribute, bool case_sensitive) {
  Value key;
  if (attribute.is_none()) {
    key = item;
  } else if (attribute.is_string() && attribute.str().find(',') != std::string::npos) {
    ValueList parts;
    for (const std::string& part : python_split(attribute.str(), ",", -1)) {
      Value v = lookup_attribute_path(item, Value::string(part));
      parts.push_back(case_sensitive ? v : ignore_case(v));
    }
    return Value::tuple(std::move(parts));
  } else {
    key = lookup_attribute_path(item, attribute);
  }
  return case_sensitive ? key : ignore_case(key);
}

void require_hashable(const Value& key) {
  if (key.kind() == ValueKind::list || key.is_dict() || key.is_namespace()) {
    throw_type_error("unhashable type: '" + key.type_name() + "'");
  }
}

// ---- filters ----

Value f_abs(const Value& input, const CallArgs& args) {
  bind_arguments(filter_name("abs"), args, {});
  input.require_defined();
  if (input.is_float())
    return Value::floating(std::fabs(input.float_value()));
  if (input.is_integral()) {
    if (input.int_value() == INT64_MIN)
      throw_type_error("integer overflow");
    return Value::integer(std::llabs(input.int_value()));
  }
  throw_type_error("bad operand type for abs(): '" + input.type_name() + "'");
}

Value f_attr(const Value& input, const CallArgs& args) {
  ValueList a = bind_arguments(filter_name("attr"), args, {{"name", Value(), true}});
  if (!a[0].is_string())
    throw_type_error("attribute name must be a string");
  return get_attribute(input, a[0].str());
}

Value f_batch(const Value& input, const CallArgs& args) {
  ValueList a = bind_arguments(
      filter_name("batch"), args, {{"linecount", Value(), true}, {"fill_with", Value::none()}});
  int64_t count = require_int(a[0], "linecount");
  if (count <= 0)
    throw_type_error("batch size must be positive");
  if (!a[1].is_none())
    check_list_size(static_cast<uint64_t>(count));  // the last batch is filled up to count
  ValueList batches, current;
  for (const Value& item : iterate(input)) {
    current.push_back(item);
    if (static_cast<int64_t>(current.size()) == count) {
      batches.push_back(Value::list(std::move(current)));
      current.clear();
    }
  }
  if (!current.empty()) {
    if (!a[1].is_none()) {
      while (static_cast<int64_t>(current.size()) < count)
        current.push_back(a[1]);
    }
    batches.push_back(Value::list(std::move(current)));
  }
  return Value::sequence(std::move(batches), SequenceFlavor::generator);
}

// Python's str.center(width): the padding split in two, the odd space on the left when the width
// is odd (CPython: left = pad / 2 + (pad & width & 1)). The width is checked against the
// string limit before the padding is made.
Value f_center(const Value& input, const CallArgs& args) {
  ValueList a = bind_arguments(filter_name("center"), args, {{"width", Value::integer(80)}});
  const std::string text = input.to_str();
  const int64_t width = require_int(a[0], "width");
  const int64_t length = static_cast<int64_t>(code_point_count(text));
  if (width <= length)
    return string_value(text);
  const uint64_t pad = static_cast<uint64_t>(width - length);
  check_string_size(text.size() + pad);
  const uint64_t left = pad / 2 + (pad & static_cast<uint64_t>(width) & 1);
  return string_value(std::string(left, ' ') + text + std::string(pad - left, ' '));
}

Value f_capitalize(const Value& input, const CallArgs& args) {
  bind_arguments(filter_name("capitalize"), args, {});
  return string_value(python_capitalize(input.to_str()));
}

Value f_default(const Value& input, const CallArgs& args) {
  ValueList a = bind_arguments(
      filter_name("default"),
      args,
      {{"default_value", Value::string("")}, {"boolean", Value::boolean(false)}});
  if (input.is_undefined() || (a[1].truthy() && !input.truthy()))
    return a[0];
  return input;
}

Value f_dictsort(const Value& input, const CallArgs& args) {
  ValueList a = bind_arguments(
      filter_name("dictsort"),
      args,
      {{"case_sensitive", Value::boolean(false)},
       {"by", Value::string("key")},
       {"reverse", Value::boolean(false)}});
  input.require_defined();
  if (!input.is_dict())
    throw_type_error("dictsort expects a mapping, not " + input.type_name());
  if (!a[1].is_string() || (a[1].str() != "key" && a[1].str() != "value")) {
    throw_type_error("You can only sort by either 'key' or 'value'");
  }
  size_t position = a[1].str() == "key" ? 0 : 1;
  bool case_sensitive = a[0].truthy();
  ValueList items;
  for (const auto& entry : input.dict_data().entries)
    items.push_back(Value::tuple({entry.first, entry.second}));
  std::stable_sort(items.begin(), items.end(), [&](const Value& x, const Value& y) {
    Value kx = x.items()[position], ky = y.items()[position];
    if (!case_sensitive)
      kx = ignore_case(kx), ky = ignore_case(ky);
    return value_less(kx, ky);
  });
  if (a[2].truthy())
    std::reverse(items.begin(), items.end());
  return Value::list(std::move(items));
}

Value f_first(const Value& input, const CallArgs& args) {
  bind_arguments(filter_name("first"), args, {});
  ValueList items = iterate(input);
  if (items.empty())
    return Value::undefined("No first item, sequence was empty.");
  return items.front();
}

Value f_last(const Value& input, const CallArgs& args) {
  bind_arguments(filter_name("last"), args, {});
  if (input.is_sequence() && input.flavor() == SequenceFlavor::generator) {
    throw_type_error("'generator' object is not reversible");
  }
  ValueList items = iterate(input);
  if (items.empty())
    return Value::undefined("No last item, sequence was empty.");
  return items.back();
}

Value f_float(const Value& input, const CallArgs& args) {
  ValueList a = bind_arguments(filter_name("float"), args, {{"default", Value::floating(0.0)}});
  input.require_defined();  // Undefined.__float__ raises
  if (input.is_number())
    return Value::floating(input.float_value());
  double parsed;
  if (input.is_string() && parse_python_float(input.str(), parsed))
    return Value::floating(parsed);
  return a[0];
}

Value f_format(const Value& input, const CallArgs& args) {
  if (!args.keywords.empty() && !args.positional.empty()) {
    throw_type_error("can't handle positional and keyword arguments at the same time");
  }
  if (!args.keywords.empty()) {
    Value mapping = Value::dict();
    for (const auto& keyword : args.keywords)
      mapping.dict_data().set(Value::string(keyword.first), keyword.second);
    return string_value(percent_format(input.to_str(), mapping));
  }
  return string_value(percent_format(input.to_str(), Value::tuple(args.positional)));
}

Value f_indent(const Value& input, const CallArgs& args) {
  ValueList a = bind_arguments(
      filter_name("indent"),
      args,
      {{"width", Value::integer(4)},
       {"first", Value::boolean(false)},
       {"blank", Value::boolean(false)}});
  input.require_defined();
  if (!input.is_string())
    throw_type_error("the indent filter needs a string, not " + input.type_name());
  std::string indention;
  if (a[0].is_string()) {
    indention = a[0].str();
  } else {
    int64_t width = require_int(a[0], "indent width");
    check_string_size(static_cast<uint64_t>(std::max<int64_t>(width, 0)));
    indention = std::string(static_cast<size_t>(std::max<int64_t>(width, 0)), ' ');
  }
  std::vector<std::string> lines = python_splitlines(input.str() + "\n");
  // Every line may get the indentation: the size is known before anything is built.
  const unsigned __int128 size =
      input.str().size() + static_cast<unsigned __int128>(lines.size() + 1) * indention.size();
  check_string_size(size > UINT64_MAX ? UINT64_MAX : static_cast<uint64_t>(size));
  std::string out;
  if (a[2].truthy()) {
    for (size_t i = 0; i < lines.size(); ++i) {
      if (i > 0)
        out += "\n" + indention;
      out += lines[i];
    }
  } else {
    out = lines.empty() ? "" : lines[0];
    for (size_t i = 1; i < lines.size(); ++i) {
      out += "\n";
      if (!lines[i].empty())
        out += indention;
      out += lines[i];
    }
  }
  if (a[1].truthy())
    out = indention + out;
  return string_value(std::move(out));
}

Value f_int(const Value& input, const CallArgs& args) {
  ValueList a = bind_arguments(
      filter_name("int"), args, {{"default", Value::integer(0)}, {"base", Value::integer(10)}});
  input.require_defined();  // Undefined.__int__ raises
  if (input.is_integral())
    return Value::integer(input.int_value());
  if (input.is_float()) {
    double v = input.float_value();
    if (std::isnan(v))
      return a[0];
    if (std::isinf(v))
      throw_type_error("OverflowError: cannot convert float infinity to integer");
    if (std::fabs(v) >= 9.2e18)
      throw RenderError(RenderError::Kind::unsupported, "integer overflow");
    return Value::integer(static_cast<int64_t>(v));
  }
  if (input.is_string()) {
    int64_t parsed;
    if (parse_python_int(input.str(), require_int(a[1], "base"), parsed))
      return Value::integer(parsed);
    double as_float;
    if (parse_python_float(input.str(), as_float) && std::isfinite(as_float)) {
      return Value::integer(static_cast<int64_t>(as_float));
    }
  }
  return a[0];
}

Value f_items(const Value& input, const CallArgs& args) {
  bind_arguments(filter_name("items"), args, {});
  if (input.is_undefined())
    return Value::sequence({}, SequenceFlavor::generator);
  if (!input.is_dict())
    throw_type_error("Can only get item pairs from a mapping.");
  ValueList items;
  for (const auto& entry : input.dict_data().entries)
    items.push_back(Value::tuple({entry.first, entry.second}));
  return Value::sequence(std::move(items), SequenceFlavor::generator);
}

Value f_join(const Value& input, const CallArgs& args) {
  ValueList a = bind_arguments(
      filter_name("join"), args, {{"d", Value::string("")}, {"attribute", Value::none()}});
  std::string separator = a[0].to_str();
  std::string out;
  bool first = true;
  for (const Value& item : iterate(input)) {
    if (!first)
      out += separator;
    first = false;
    out += a[1].is_none() ? item.to_str() : lookup_attribute_path(item, a[1]).to_str();
    check_string_growth(out.size());
  }
  check_string_size(out.size());
  return string_value(std::move(out));
}

Value f_length(const Value& input, const CallArgs& args) {
  bind_arguments(filter_name("length"), args, {});
  return Value::integer(length_of(input));
}

Value f_list(const Value& input, const CallArgs& args) {
  bind_arguments(filter_name("list"), args, {});
  return Value::list(iterate(input));
}

Value f_lower(const Value& input, const CallArgs& args) {
  bind_arguments(filter_name("lower"), args, {});
  return string_value(python_lower(input.to_str()));
}

Value f_upper(const Value& input, const CallArgs& args) {
  bind_arguments(filter_name("upper"), args, {});
  return string_value(python_upper(input.to_str()));
}

Value f_title(const Value& input, const CallArgs& args) {
  bind_arguments(filter_name("title"), args, {});
  return string_value(jinja_title(input.to_str()));
}

Value f_map(const Value& input, const CallArgs& args) {
  ValueList out;
  if (args.positional.empty()) {
    Value attribute, default_value = Value::none();
    bool has_attribute = false;
    for (const auto& keyword : args.keywords) {
      if (keyword.first == "attribute") {
        attribute = keyword.second;
        has_attribute = true;
      } else if (keyword.first == "default") {
        default_value = keyword.second;
      } else {
        throw_type_error("Unexpected keyword argument '" + keyword.first + "'");
      }
    }
    if (!has_attribute)
      throw_type_error("map requires a filter argument");
    if (!input.truthy())
      return Value::sequence({}, SequenceFlavor::generator);
    for (const Value& item : iterate(input)) {
      Value v = lookup_attribute_path(item, attribute);
      if (v.is_undefined() && !default_value.is_none())
        v = default_value;
      out.push_back(v);
    }
    return Value::sequence(std::move(out), SequenceFlavor::generator);
  }
  const Value& name = args.positional[0];
  if (!name.is_string() || !has_filter(name.str())) {
    throw_type_error("No filter named " + name.repr() + ".");
  }
  CallArgs rest;
  rest.positional.assign(args.positional.begin() + 1, args.positional.end());
  rest.keywords = args.keywords;
  if (!input.truthy())
    return Value::sequence({}, SequenceFlavor::generator);
  for (const Value& item : iterate(input))
    out.push_back(apply_filter(name.str(), item, rest));
  return Value::sequence(std::move(out), SequenceFlavor::generator);
}

Value min_or_max(const char* name, const Value& input, const CallArgs& args, bool want_max) {
  ValueList a = bind_arguments(
      filter_name(name),
      args,
      {{"case_sensitive", Value::boolean(false)}, {"attribute", Value::none()}});
  ValueList items = iterate(input);
  if (items.empty())
    return Value::undefined("No aggregated item, sequence was empty.");
  bool case_sensitive = a[0].truthy();
  size_t best = 0;
  Value best_key = sort_key(items[0], a[1], case_sensitive);
  for (size_t i = 1; i < items.size(); ++i) {
    Value key = sort_key(items[i], a[1], case_sensitive);
    if (want_max ? value_less(best_key, key) : value_less(key, best_key)) {
      best = i;
      best_key = key;
    }
  }
  return items[best];
}

Value f_max(const Value& input, const CallArgs& args) {
  return min_or_max("max", input, args, true);
}

Value f_min(const Value& input, const CallArgs& args) {
  return min_or_max("min", input, args, false);
}

Value f_replace(const Value& input, const CallArgs& args) {
  ValueList a = bind_arguments(
      filter_name("replace"),
      args,
      {{"old", Value(), true}, {"new", Value(), true}, {"count", Value::none()}});
  int64_t count = a[2].is_none() ? -1 : require_int(a[2], "count");
  return string_value(python_replace(input.to_str(), a[0].to_str(), a[1].to_str(), count));
}

Value f_reverse(const Value& input, const CallArgs& args) {
  bind_arguments(filter_name("reverse"), args, {});
  if (input.is_string()) {
    std::vector<uint32_t> cps = decode_utf8(input.str());
    std::reverse(cps.begin(), cps.end());
    return string_value(encode_utf8(cps));
  }
  ValueList items = iterate(input);
  std::reverse(items.begin(), items.end());
  // reversed(list) is an iterator; a generator is turned into a reversed list.
  bool was_generator = input.is_sequence() && input.flavor() == SequenceFlavor::generator;
  return Value::sequence(
      std::move(items), was_generator ? SequenceFlavor::list : SequenceFlavor::generator);
}

Value f_round(const Value& input, const CallArgs& args) {
  ValueList a = bind_arguments(
      filter_name("round"),
      args,
      {{"precision", Value::integer(0)}, {"method", Value::string("common")}});
  input.require_defined();
  if (!input.is_number())
    throw_type_error("type " + input.type_name() + " doesn't define __round__");
  int64_t precision = require_int(a[0], "precision");
  if (precision < 0 || precision > 15) {
    throw RenderError(
        RenderError::Kind::unsupported, "round precision outside 0..15 is not supported");
  }
  double value = input.float_value();
  std::string method = a[1].to_str();
  if (method == "common") {
    if (input.is_integral())
      return Value::integer(input.int_value());
    // printf rounds the exact binary value half-to-even, as Python's round() does.
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "%.*f", static_cast<int>(precision), value);
    return Value::floating(std::strtod(buffer, nullptr));
  }
  if (method != "ceil" && method != "floor")
    throw_type_error("method must be common, ceil or floor");
  double scale = std::pow(10.0, static_cast<double>(precision));
  double scaled = method == "ceil" ? std::ceil(value * scale) : std::floor(value * scale);
  return Value::floating(scaled / scale);
}

Value f_safe(const Value& input, const CallArgs& args) {
  bind_arguments(filter_name("safe"), args, {});
  return Value::markup(input.to_str());
}

Value select_or_reject(
    const char* name,
    const Value& input,
    const CallArgs& args,
    bool lookup_attribute,
    bool select) {
  size_t index = 0;
  Value attribute;
  if (lookup_attribute) {
    if (args.positional.empty())
      throw_type_error(filter_name(name) + " needs an attribute name");
    attribute = args.positional[index++];
  }
  std::string test;
  if (index < args.positional.size()) {
    const Value& test_name = args.positional[index++];
    if (!test_name.is_string() || !has_test(test_name.str())) {
      throw_type_error("No test named " + test_name.repr() + ".");
    }
    test = test_name.str();
  }
  CallArgs test_args;
  test_args.positional.assign(args.positional.begin() + index, args.positional.end());
  test_args.keywords = args.keywords;
  ValueList out;
  if (input.truthy()) {
    for (const Value& item : iterate(input)) {
      Value subject = lookup_attribute ? lookup_attribute_path(item, attribute) : item;
      bool passed = test.empty() ? subject.truthy() : apply_test(test, subject, test_args);
      if (passed == select)
        out.push_back(item);
    }
  }
  return Value::sequence(std::move(out), SequenceFlavor::generator);
}

Value f_select(const Value& input, const CallArgs& args) {
  return select_or_reject("select", input, args, false, true);
}
Value f_reject(const Value& input, const CallArgs& args) {
  return select_or_reject("reject", input, args, false, false);
}
Value f_selectattr(const Value& input, const CallArgs& args) {
  return select_or_reject("selectattr", input, args, true, true);
}
Value f_rejectattr(const Value& input, const CallArgs& args) {
  return select_or_reject("rejectattr", input, args, true, false);
}

Value f_sort(const Value& input, const CallArgs& args) {
  ValueList a = bind_arguments(
      filter_name("sort"),
      args,
      {{"reverse", Value::boolean(false)},
       {"case_sensitive", Value::boolean(false)},
       {"attribute", Value::none()}});
  ValueList items = iterate(input);
  bool case_sensitive = a[1].truthy();
  std::vector<std::pair<Value, Value>> keyed;
  for (const Value& item : items)
    keyed.emplace_back(sort_key(item, a[2], case_sensitive), item);
  bool reverse = a[0].truthy();
  // Python's sorted(reverse=True) keeps equal items in their original order.
  std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& x, const auto& y) {
    return reverse ? value_less(y.first, x.first) : value_less(x.first, y.first);
  });
  ValueList out;
  for (auto& entry : keyed)
    out.push_back(entry.second);
  return Value::list(std::move(out));
}

Value f_string(const Value& input, const CallArgs& args) {
  bind_arguments(filter_name("string"), args, {});
  return string_value(input.to_str());
}

Value f_sum(const Value& input, const CallArgs& args) {
  ValueList a = bind_arguments(
      filter_name("sum"), args, {{"attribute", Value::none()}, {"start", Value::integer(0)}});
  Value total = a[1];
  for (const Value& item : iterate(input)) {
    total = binary_operation("+", total, a[0].is_none() ? item : lookup_attribute_path(item, a[0]));
  }
  return total;
}

Value f_tojson(const Value& input, const CallArgs& args) {
  ValueList a = bind_arguments(
      filter_name("tojson"),
      args,
      {{"ensure_ascii", Value::boolean(false)},
       {"indent", Value::none()},
       {"separators", Value::none()},
       {"sort_keys", Value::boolean(false)}});
  JsonOptions options;
  options.ensure_ascii = a[0].truthy();
  if (a[1].is_string()) {
    options.indent = a[1].str();
  } else if (!a[1].is_none()) {
    const int64_t width = std::max<int64_t>(require_int(a[1], "indent"), 0);
    check_string_size(static_cast<uint64_t>(width));
    options.indent = std::string(static_cast<size_t>(width), ' ');
  }
  if (!a[2].is_none()) {
    if (!a[2].is_sequence() || a[2].items().size() != 2 || !a[2].items()[0].is_string() ||
        !a[2].items()[1].is_string()) {
      throw_type_error("tojson separators must be a pair of strings");
    }
    options.item_separator = a[2].items()[0].str();
    options.key_separator = a[2].items()[1].str();
  }
  options.sort_keys = a[3].truthy();
  return string_value(to_json(input, options));
}

Value f_trim(const Value& input, const CallArgs& args) {
  ValueList a = bind_arguments(filter_name("trim"), args, {{"chars", Value::none()}});
  if (a[0].is_none())
    return string_value(python_strip(input.to_str(), true, true));
  return string_value(python_strip_chars(input.to_str(), a[0].to_str(), true, true));
}

Value f_unique(const Value& input, const CallArgs& args) {
  ValueList a = bind_arguments(
      filter_name("unique"),
      args,
      {{"case_sensitive", Value::boolean(false)}, {"attribute", Value::none()}});
  ValueList seen, out;
  for (const Value& item : iterate(input)) {
    Value key = sort_key(item, a[1], a[0].truthy());
    require_hashable(key);
    bool duplicate = false;
    charge_work(seen.size());  // quadratic: a long list must not run unbounded
    for (const Value& s : seen) {
      if (values_equal(s, key))
        duplicate = true;
    }
    if (duplicate)
      continue;
    seen.push_back(key);
    out.push_back(item);
  }
  return Value::sequence(std::move(out), SequenceFlavor::generator);
}

const std::map<std::string, Filter>& filters() {
  static const std::map<std::string, Filter> table = {
      {"abs", f_abs},
      {"attr", f_attr},
      {"batch", f_batch},
      {"capitalize", f_capitalize},
      {"center", f_center},
      {"count", f_length},
      {"d", f_default},
      {"default", f_default},
      {"dictsort", f_dictsort},
      {"first", f_first},
      {"float", f_float},
      {"format", f_format},
      {"indent", f_indent},
      {"int", f_int},
      {"items", f_items},
      {"join", f_join},
      {"last", f_last},
      {"length", f_length},
      {"list", f_list},
      {"lower", f_lower},
      {"map", f_map},
      {"max", f_max},
      {"min", f_min},
      {"reject", f_reject},
      {"rejectattr", f_rejectattr},
      {"replace", f_replace},
      {"reverse", f_reverse},
      {"round", f_round},
      {"safe", f_safe},
      {"select", f_select},
      {"selectattr", f_selectattr},
      {"sort", f_sort},
      {"string", f_string},
      {"sum", f_sum},
      {"title", f_title},
      {"tojson", f_tojson},
      {"trim", f_trim},
      {"unique", f_unique},
      {"upper", f_upper},
  };
  return table;
}

// ---- tests ----

std::string test_name(const char* name) {
  return std::string("test '") + name + "'";
}

bool t_defined(const Value& v, const CallArgs& a) {
  bind_arguments(test_name("defined"), a, {});
  return !v.is_undefined();
}
bool t_undefined(const Value& v, const CallArgs& a) {
  bind_arguments(test_name("undefined"), a, {});
  return v.is_undefined();
}
bool t_none(const Value& v, const CallArgs& a) {
  bind_arguments(test_name("none"), a, {});
  return v.is_none();
}
bool t_boolean(const Value& v, const CallArgs& a) {
  bind_arguments(test_name("boolean"), a, {});
  return v.is_bool();
}
bool t_true(const Value& v, const CallArgs& a) {
  bind_arguments(test_name("true"), a, {});
  return v.is_bool() && v.bool_value();
}
bool t_false(const Value& v, const CallArgs& a) {
  bind_arguments(test_name("false"), a, {});
  return v.is_bool() && !v.bool_value();
}
bool t_integer(const Value& v, const CallArgs& a) {
  bind_arguments(test_name("integer"), a, {});
  return v.is_int();
}
bool t_float(const Value& v, const CallArgs& a) {
  bind_arguments(test_name("float"), a, {});
  return v.is_float();
}
bool t_number(const Value& v, const CallArgs& a) {
  bind_arguments(test_name("number"), a, {});
  return v.is_number();
}
bool t_string(const Value& v, const CallArgs& a) {
  bind_arguments(test_name("string"), a, {});
  return v.is_string();
}
bool t_mapping(const Value& v, const CallArgs& a) {
  bind_arguments(test_name("mapping"), a, {});
  return v.is_dict();
}
bool t_sequence(const Value& v, const CallArgs& a) {
  bind_arguments(test_name("sequence"), a, {});
  // len() and __getitem__: str, list, tuple, dict, range; an undefined value has both.
  if (v.is_undefined() || v.is_string() || v.is_dict() || v.kind() == ValueKind::tuple)
    return true;
  return v.kind() == ValueKind::list &&
         (v.flavor() == SequenceFlavor::list || v.flavor() == SequenceFlavor::range);
}
bool t_iterable(const Value& v, const CallArgs& a) {
  bind_arguments(test_name("iterable"), a, {});
  return v.is_undefined() || v.is_string() || v.is_sequence() || v.is_dict();
}
bool t_callable(const Value& v, const CallArgs& a) {
  bind_arguments(test_name("callable"), a, {});
  return v.is_function() || v.is_undefined();  // Undefined defines __call__
}
bool t_lower(const Value& v, const CallArgs& a) {
  bind_arguments(test_name("lower"), a, {});
  return python_is_lower(v.to_str());
}
bool t_upper(const Value& v, const CallArgs& a) {
  bind_arguments(test_name("upper"), a, {});
  return python_is_upper(v.to_str());
}
bool t_odd(const Value& v, const CallArgs& a) {
  bind_arguments(test_name("odd"), a, {});
  return values_equal(binary_operation("%", v, Value::integer(2)), Value::integer(1));
}
bool t_even(const Value& v, const CallArgs& a) {
  bind_arguments(test_name("even"), a, {});
  return values_equal(binary_operation("%", v, Value::integer(2)), Value::integer(0));
}
bool t_divisibleby(const Value& v, const CallArgs& a) {
  ValueList args = bind_arguments(test_name("divisibleby"), a, {{"num", Value(), true}});
  return values_equal(binary_operation("%", v, args[0]), Value::integer(0));
}
bool t_in(const Value& v, const CallArgs& a) {
  ValueList args = bind_arguments(test_name("in"), a, {{"seq", Value(), true}});
  return contains(args[0], v);
}
bool t_sameas(const Value& v, const CallArgs& a) {
  ValueList args = bind_arguments(test_name("sameas"), a, {{"other", Value(), true}});
  const Value& o = args[0];
  if (v.kind() != o.kind())
    return false;
  switch (v.kind()) {
    case ValueKind::none:
    case ValueKind::undefined:
      return true;
    case ValueKind::boolean:
      return v.bool_value() == o.bool_value();
    case ValueKind::list:
    case ValueKind::tuple:
      return &v.items() == &o.items();
    case ValueKind::dict:
    case ValueKind::ns:
      return &v.dict_data() == &o.dict_data();
    default:
      throw RenderError(
          RenderError::Kind::unsupported,
          "'sameas' on numbers and strings depends on Python object identity");
  }
}
bool t_filter(const Value& v, const CallArgs& a) {
  bind_arguments(test_name("filter"), a, {});
  return v.is_string() && has_filter(v.str());
}
bool t_test(const Value& v, const CallArgs& a) {
  bind_arguments(test_name("test"), a, {});
  return v.is_string() && has_test(v.str());
}

template <int Op>
bool t_compare(const Value& v, const CallArgs& a) {
  static const char* const ops[] = {"==", "!=", "<", "<=", ">", ">="};
  ValueList args = bind_arguments(test_name(ops[Op]), a, {{"other", Value(), true}});
  return compare_values(ops[Op], v, args[0]);
}

const std::map<std::string, Test>& tests() {
  static const std::map<std::string, Test> table = {
      {"defined", t_defined},
      {"undefined", t_undefined},
      {"none", t_none},
      {"boolean", t_boolean},
      {"true", t_true},
      {"false", t_false},
      {"integer", t_integer},
      {"float", t_float},
      {"number", t_number},
      {"string", t_string},
      {"mapping", t_mapping},
      {"sequence", t_sequence},
      {"iterable", t_iterable},
      {"callable", t_callable},
      {"lower", t_lower},
      {"upper", t_upper},
      {"odd", t_odd},
      {"even", t_even},
      {"divisibleby", t_divisibleby},
      {"in", t_in},
      {"sameas", t_sameas},
      {"filter", t_filter},
      {"test", t_test},
      {"==", t_compare<0>},
      {"eq", t_compare<0>},
      {"equalto", t_compare<0>},
      {"!=", t_compare<1>},
      {"ne", t_compare<1>},
      {"<", t_compare<2>},
      {"lt", t_compare<2>},
      {"lessthan", t_compare<2>},
      {"<=", t_compare<3>},
      {"le", t_compare<3>},
      {">", t_compare<4>},
      {"gt", t_compare<4>},
      {"greaterthan", t_compare<4>},
      {">=", t_compare<5>},
      {"ge", t_compare<5>},
  };
  return table;
}

}  // namespace

bool has_filter(const std::string& name) {
  return filters().count(name) > 0;
}

bool is_known_unsupported_filter(const std::string& name) {
  static const char* const names[] = {
      "e",
      "escape",
      "filesizeformat",
      "forceescape",
      "groupby",
      "pprint",
      "random",
      "slice",
      "striptags",
      "truncate",
      "urlencode",
      "urlize",
      "wordcount",
      "wordwrap",
      "xmlattr"};
  for (const char* n : names) {
    if (name == n)
      return true;
  }
  return false;
}

bool has_test(const std::string& name) {
  return tests().count(name) > 0;
}

Value apply_filter(const std::string& name, const Value& input, const CallArgs& args) {
  auto it = filters().find(name);
  if (it == filters().end())
    throw_type_error("No filter named '" + name + "'.");
  return it->second(input, args);
}

bool apply_test(const std::string& name, const Value& input, const CallArgs& args) {
  auto it = tests().find(name);
  if (it == tests().end())
    throw_type_error("No test named '" + name + "'.");
  return it->second(input, args);
}

}  // namespace dpo::jinja
