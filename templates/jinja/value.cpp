// Template values with Python semantics (see value.h).
#include "templates/jinja/value.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "templates/jinja/limits.h"
#include "templates/jinja/unicode.h"

namespace dpo::jinja {

void throw_type_error(const std::string& message) {
  throw RenderError(RenderError::Kind::type, message);
}

const Value* DictData::find(const Value& key) const {
  for (const auto& entry : entries) {
    if (values_equal(entry.first, key))
      return &entry.second;
  }
  return nullptr;
}

const Value* DictData::find(const std::string& key) const {
  for (const auto& entry : entries) {
    if (entry.first.is_string() && entry.first.str() == key)
      return &entry.second;
  }
  return nullptr;
}

namespace {

// Values nest no deeper than rendering may recurse, so that freeing one cannot exhaust the
// stack either (a loop can wrap a list in a list a million times).
uint32_t checked_depth(uint32_t depth) {
  const int limit = current_limits().max_render_depth;
  if (depth > static_cast<uint32_t>(limit)) {
    throw RenderError(
        RenderError::Kind::limit,
        "a value nested deeper than " + std::to_string(limit) + " levels");
  }
  return depth;
}

uint32_t list_depth(const ValueList& items) {
  uint32_t deepest = 0;
  for (const Value& item : items)
    deepest = std::max(deepest, item.nesting());
  return checked_depth(deepest + 1);
}

}  // namespace

void DictData::set(const Value& key, Value value) {
  depth = std::max(depth, checked_depth(std::max(key.nesting(), value.nesting()) + 1));
  for (auto& entry : entries) {
    if (values_equal(entry.first, key)) {
      entry.second = std::move(value);
      return;
    }
  }
  entries.emplace_back(key, std::move(value));
}

Value Value::undefined(std::string message, bool unsafe) {
  Value v;
  v.text_ = std::make_shared<const std::string>(std::move(message));
  v.number_.b = unsafe;
  return v;
}

Value Value::none() {
  Value v;
  v.kind_ = ValueKind::none;
  return v;
}

Value Value::boolean(bool value) {
  Value v;
  v.kind_ = ValueKind::boolean;
  v.number_.b = value;
  return v;
}

Value Value::integer(int64_t value) {
  Value v;
  v.kind_ = ValueKind::integer;
  v.number_.i = value;
  return v;
}

Value Value::floating(double value) {
  Value v;
  v.kind_ = ValueKind::floating;
  v.number_.f = value;
  return v;
}

Value Value::string(std::string value) {
  Value v;
  v.kind_ = ValueKind::string;
  v.text_ = std::make_shared<const std::string>(std::move(value));
  return v;
}

Value Value::markup(std::string value) {
  Value v = string(std::move(value));
  v.markup_ = true;
  return v;
}

Value Value::list(ValueList items) {
  Value v;
  v.depth_ = list_depth(items);
  v.kind_ = ValueKind::list;
  v.list_ = std::make_shared<ValueList>(std::move(items));
  return v;
}

Value Value::tuple(ValueList items) {
  Value v = list(std::move(items));
  v.kind_ = ValueKind::tuple;
  return v;
}

Value Value::sequence(ValueList items, SequenceFlavor flavor) {
  Value v = list(std::move(items));
  v.flavor_ = flavor;
  return v;
}

Value Value::dict() {
  Value v;
  v.kind_ = ValueKind::dict;
  v.dict_ = std::make_shared<DictData>();
  return v;
}

Value Value::namespace_object(bool read_only) {
  Value v = dict();
  v.kind_ = ValueKind::ns;
  v.dict_->read_only = read_only;
  if (!read_only)
    keep_namespace(v.dict_);
  return v;
}

uint32_t Value::nesting() const {
  switch (kind_) {
    case ValueKind::list:
    case ValueKind::tuple:
      return depth_;
    case ValueKind::dict:
      return dict_->depth;
    case ValueKind::ns:
      return dict_->read_only ? dict_->depth : 1;
    default:
      return 0;
  }
}

Value Value::function(std::string name, NativeFunction call) {
  Value v;
  v.kind_ = ValueKind::function;
  v.function_ = std::make_shared<FunctionData>(FunctionData{std::move(name), std::move(call)});
  return v;
}

int64_t Value::int_value() const {
  return kind_ == ValueKind::boolean ? (number_.b ? 1 : 0) : number_.i;
}

double Value::float_value() const {
  if (kind_ == ValueKind::floating)
    return number_.f;
  return static_cast<double>(int_value());
}

const std::string& Value::str() const {
  static const std::string empty;
  return text_ ? *text_ : empty;
}

const ValueList& Value::items() const {
  return *list_;
}

ValueList& Value::mutable_items() const {
  return *list_;
}

DictData& Value::dict_data() const {
  return *dict_;
}

const FunctionData& Value::function_data() const {
  return *function_;
}

void Value::require_defined() const {
  if (kind_ != ValueKind::undefined)
    return;
  throw RenderError(
      number_.b ? RenderError::Kind::security : RenderError::Kind::undefined,
      str().empty() ? "undefined value" : str());
}

bool Value::truthy() const {
  switch (kind_) {
    case ValueKind::undefined:
    case ValueKind::none:
      return false;
    case ValueKind::boolean:
      return number_.b;
    case ValueKind::integer:
      return number_.i != 0;
    case ValueKind::floating:
      return number_.f != 0.0;
    case ValueKind::string:
      return !text_->empty();
    case ValueKind::list:
      return flavor_ == SequenceFlavor::generator || !list_->empty();
    case ValueKind::tuple:
      return !list_->empty();
    case ValueKind::dict:
      return !dict_->entries.empty();
    case ValueKind::ns:
    case ValueKind::function:
      return true;
  }
  return false;
}

namespace {

// How deep the value being printed or compared is, on this thread: a namespace can hold itself
// (and lists nest as deep as a loop makes them), so the recursion below is bounded.
thread_local int g_walk_depth = 0;

class WalkGuard {
 public:
  WalkGuard() {
    const int limit = current_limits().max_render_depth;
    if (++g_walk_depth > limit) {
      --g_walk_depth;
      throw RenderError(
          RenderError::Kind::limit,
          "a value nested deeper than " + std::to_string(limit) +
              " levels (a namespace that holds itself?)");
    }
  }
  ~WalkGuard() {
    --g_walk_depth;
  }
  WalkGuard(const WalkGuard&) = delete;
  WalkGuard& operator=(const WalkGuard&) = delete;
};

std::string join_reprs(const ValueList& items) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0)
      out += ", ";
    out += items[i].repr();
    check_string_growth(out.size());
  }
  return out;
}

std::string dict_repr(const DictData& data) {
  std::string out = "{";
  for (size_t i = 0; i < data.entries.size(); ++i) {
    if (i > 0)
      out += ", ";
    out += data.entries[i].first.repr() + ": " + data.entries[i].second.repr();
    check_string_growth(out.size());
  }
  return out + "}";
}

}  // namespace

std::string Value::to_str() const {
  WalkGuard walk;
  if (kind_ == ValueKind::list && flavor_ != SequenceFlavor::list) {
    throw RenderError(
        RenderError::Kind::unsupported,
        "printing a " + type_name() +
            " object is not supported (Jinja2 prints its address); convert it "
            "with |list first");
  }
  switch (kind_) {
    case ValueKind::undefined:
      return "";
    case ValueKind::none:
      return "None";
    case ValueKind::boolean:
      return number_.b ? "True" : "False";
    case ValueKind::integer:
      return std::to_string(number_.i);
    case ValueKind::floating:
      return python_float_repr(number_.f);
    case ValueKind::string:
      return *text_;
    case ValueKind::list:
      return "[" + join_reprs(*list_) + "]";
    case ValueKind::tuple:
      return "(" + join_reprs(*list_) + (list_->size() == 1 ? ",)" : ")");
    case ValueKind::dict:
      return dict_repr(*dict_);
    case ValueKind::ns:
      return "<Namespace " + dict_repr(*dict_) + ">";
    case ValueKind::function:
      throw RenderError(
          RenderError::Kind::unsupported,
          "printing the function '" + function_->name +
              "' is not supported (Jinja2 prints its address); call it");
  }
  return "";
}

std::string Value::repr() const {
  if (kind_ == ValueKind::string)
    return python_string_repr(*text_);
  if (kind_ == ValueKind::undefined)
    return "Undefined";
  return to_str();
}

std::string Value::type_name() const {
  switch (kind_) {
    case ValueKind::undefined:
      return "Undefined";
    case ValueKind::none:
      return "NoneType";
    case ValueKind::boolean:
      return "bool";
    case ValueKind::integer:
      return "int";
    case ValueKind::floating:
      return "float";
    case ValueKind::string:
      return "str";
    case ValueKind::list:
      switch (flavor_) {
        case SequenceFlavor::generator:
          return "generator";
        case SequenceFlavor::view:
          return "dict_items";
        case SequenceFlavor::range:
          return "range";
        default:
          return "list";
      }
    case ValueKind::tuple:
      return "tuple";
    case ValueKind::dict:
      return "dict";
    case ValueKind::ns:
      return "Namespace";
    case ValueKind::function:
      return "function";
  }
  return "object";
}

bool values_equal(const Value& a, const Value& b) {
  WalkGuard walk;
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float())
      return a.float_value() == b.float_value();
    return a.int_value() == b.int_value();
  }
  if (a.is_sequence() && b.is_sequence()) {
    if (a.kind() != b.kind())
      return false;
    const ValueList& x = a.items();
    const ValueList& y = b.items();
    if (x.size() != y.size())
      return false;
    for (size_t i = 0; i < x.size(); ++i) {
      if (!values_equal(x[i], y[i]))
        return false;
    }
    return true;
  }
  if (a.kind() != b.kind())
    return false;
  switch (a.kind()) {
    case ValueKind::undefined:
    case ValueKind::none:
      return true;
    case ValueKind::string:
      return a.str() == b.str();
    case ValueKind::dict: {
      const DictData& x = a.dict_data();
      const DictData& y = b.dict_data();
      if (x.entries.size() != y.entries.size())
        return false;
      for (const auto& entry : x.entries) {
        const Value* other = y.find(entry.first);
        if (other == nullptr || !values_equal(entry.second, *other))
          return false;
      }
      return true;
    }
    case ValueKind::ns:
      return &a.dict_data() == &b.dict_data();
    case ValueKind::function:
      return &a.function_data() == &b.function_data();
    default:
      return false;
  }
}

bool value_less(const Value& a, const Value& b) {
  WalkGuard walk;
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float())
      return a.float_value() < b.float_value();
    return a.int_value() < b.int_value();
  }
  if (a.is_string() && b.is_string())
    return a.str() < b.str();  // UTF-8 keeps code-point order
  if (a.is_sequence() && a.kind() == b.kind()) {
    const ValueList& x = a.items();
    const ValueList& y = b.items();
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (!values_equal(x[i], y[i]))
        return value_less(x[i], y[i]);
    }
    return x.size() < y.size();
  }
  a.require_defined();
  b.require_defined();
  throw_type_error(
      "'<' not supported between instances of '" + a.type_name() + "' and '" + b.type_name() + "'");
}

std::string python_float_repr(double value) {
  if (std::isnan(value))
    return "nan";
  if (std::isinf(value))
    return value > 0 ? "inf" : "-inf";
  if (value == 0)
    return std::signbit(value) ? "-0.0" : "0.0";
  char buffer[48];
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buffer, sizeof buffer, "%.*e", precision - 1, value);
    if (std::strtod(buffer, nullptr) == value)
      break;
  }
  std::string text = buffer;
  std::string sign;
  if (text[0] == '-') {
    sign = "-";
    text.erase(0, 1);
  }
  size_t e = text.find('e');
  int exponent = std::atoi(text.c_str() + e + 1);
  std::string digits;
  for (size_t i = 0; i < e; ++i) {
    if (text[i] != '.')
      digits += text[i];
  }
  while (digits.size() > 1 && digits.back() == '0')
    digits.pop_back();
  if (exponent >= -4 && exponent < 16) {
    if (exponent < 0)
      return sign + "0." + std::string(-exponent - 1, '0') + digits;
    size_t int_digits = static_cast<size_t>(exponent) + 1;
    if (digits.size() <= int_digits) {
      return sign + digits + std::string(int_digits - digits.size(), '0') + ".0";
    }
    return sign + digits.substr(0, int_digits) + "." + digits.substr(int_digits);
  }
  std::string mantissa = digits.substr(0, 1);
  if (digits.size() > 1)
    mantissa += "." + digits.substr(1);
  char exp_text[16];
  std::snprintf(exp_text, sizeof exp_text, "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
  return sign + mantissa + exp_text;
}

}  // namespace dpo::jinja
