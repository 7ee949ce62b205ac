// Python operators and sandboxed access on template values (see operations.h).
#include "templates/jinja/operations.h"

#include <cctype>
#include <cmath>
#include <cstdio>

#include "core/text.h"
#include "templates/jinja/limits.h"
#include "templates/jinja/methods.h"
#include "templates/jinja/unicode.h"

namespace dpo::jinja {

namespace {

[[noreturn]] void overflow() {
  throw RenderError(
      RenderError::Kind::unsupported,
      "integer overflow (this engine computes with 64-bit integers)");
}

[[noreturn]] void zero_division(const std::string& message) {
  throw_type_error("ZeroDivisionError: " + message);
}

[[noreturn]] void unsupported_operands(const std::string& op, const Value& a, const Value& b) {
  throw_type_error(
      "unsupported operand type(s) for " + op + ": '" + a.type_name() + "' and '" + b.type_name() +
      "'");
}

// What Jinja2 calls object_type_repr: "dict object", "None", "str object".
std::string object_description(const Value& object) {
  if (object.is_none())
    return "None";
  if (object.is_namespace())
    return "jinja2.utils.Namespace object";
  return object.type_name() + " object";
}

Value missing_attribute(const Value& object, const std::string& name) {
  return Value::undefined("'" + object_description(object) + "' has no attribute '" + name + "'");
}

Value missing_element(const Value& object, const Value& key) {
  if (key.is_string())
    return missing_attribute(object, key.str());
  return Value::undefined(object_description(object) + " has no element " + key.repr());
}

// The size of `times` copies of something of `size`, checked before anything is built
// (`'x' * 1000000000` must be refused, not computed). Python gives an empty result for n <= 0.
uint64_t repeated_size(uint64_t size, int64_t times) {
  if (times <= 0 || size == 0)
    return 0;
  uint64_t total = 0;
  if (__builtin_mul_overflow(size, static_cast<uint64_t>(times), &total))
    return UINT64_MAX;
  return total;
}

Value repeat(const Value& sequence, int64_t times) {
  if (sequence.is_string()) {
    check_string_size(repeated_size(sequence.str().size(), times));
    std::string out;
    for (int64_t i = 0; i < times; ++i)
      out += sequence.str();
    return Value::string(std::move(out));
  }
  check_list_size(repeated_size(sequence.items().size(), times));
  ValueList out;
  for (int64_t i = 0; i < times && !sequence.items().empty(); ++i) {
    out.insert(out.end(), sequence.items().begin(), sequence.items().end());
  }
  return sequence.kind() == ValueKind::tuple ? Value::tuple(std::move(out))
                                             : Value::list(std::move(out));
}

bool is_plain_sequence(const Value& v) {
  return v.is_sequence() && v.flavor() == SequenceFlavor::list;
}

double python_float_mod(double x, double y) {
  double mod = std::fmod(x, y);
  if (mod != 0) {
    if ((y < 0) != (mod < 0))
      mod += y;
  } else {
    mod = std::copysign(0.0, y);
  }
  return mod;
}

double python_float_floordiv(double x, double y) {
  double mod = std::fmod(x, y);
  double div = (x - mod) / y;
  if (mod != 0 && ((y < 0) != (mod < 0)))
    div -= 1.0;
  if (div == 0)
    return std::copysign(0.0, x / y);
  double floor_div = std::floor(div);
  if (div - floor_div > 0.5)
    floor_div += 1.0;
  return floor_div;
}

int64_t checked_pow(int64_t base, int64_t exponent) {
  // 0, 1 and -1 never overflow, whatever the exponent: answered without looping over it.
  if (base == 0)
    return exponent == 0 ? 1 : 0;
  if (base == 1)
    return 1;
  if (base == -1)
    return exponent % 2 == 0 ? 1 : -1;
  int64_t result = 1;
  for (int64_t i = 0; i < exponent; ++i) {  // |base| >= 2: overflows within 63 steps
    if (__builtin_mul_overflow(result, base, &result))
      overflow();
  }
  return result;
}

// Python's slice.indices() for a sequence of `length`.
void slice_indices(
    const Value& start_v,
    const Value& stop_v,
    const Value& step_v,
    int64_t length,
    int64_t& start,
    int64_t& stop,
    int64_t& step) {
  step = step_v.is_none() || step_v.is_undefined() ? 1 : step_v.int_value();
  if (step == 0)
    throw_type_error("slice step cannot be zero");
  auto adjust = [&](const Value& v, int64_t fallback) -> int64_t {
    if (v.is_none() || v.is_undefined())
      return fallback;
    int64_t i = v.int_value();
    if (i < 0) {
      i += length;
      if (i < 0)
        i = step < 0 ? -1 : 0;
    } else if (i >= length) {
      i = step < 0 ? length - 1 : length;
    }
    return i;
  };
  start = adjust(start_v, step < 0 ? length - 1 : 0);
  stop = adjust(stop_v, step < 0 ? -1 : length);
}

}  // namespace

int64_t require_int(const Value& value, const std::string& what) {
  if (!value.is_integral()) {
    value.require_defined();
    throw_type_error(what + " must be an integer, not '" + value.type_name() + "'");
  }
  return value.int_value();
}

Value binary_operation(const std::string& op, const Value& a, const Value& b) {
  if (op == "~") {
    std::string left = a.to_str(), right = b.to_str();
    check_string_size(left.size() + right.size());
    return Value::string(left + right);
  }
  if (op == "%" && a.is_string())
    return Value::string(percent_format(a.str(), b));
  a.require_defined();
  b.require_defined();
  bool numbers = a.is_number() && b.is_number();
  bool integers = a.is_integral() && b.is_integral();
  if (op == "+") {
    if (integers) {
      int64_t r;
      if (__builtin_add_overflow(a.int_value(), b.int_value(), &r))
        overflow();
      return Value::integer(r);
    }
    if (numbers)
      return Value::floating(a.float_value() + b.float_value());
    if (a.is_string() && b.is_string()) {
      check_string_size(a.str().size() + b.str().size());
      if (a.is_markup() || b.is_markup()) {
        return Value::markup(
            (a.is_markup() ? a.str() : html_escape(a.str())) +
            (b.is_markup() ? b.str() : html_escape(b.str())));
      }
      return Value::string(a.str() + b.str());
    }
    if (is_plain_sequence(a) && is_plain_sequence(b) && a.kind() == b.kind()) {
      check_list_size(a.items().size() + b.items().size());
      ValueList out = a.items();
      out.insert(out.end(), b.items().begin(), b.items().end());
      return a.kind() == ValueKind::tuple ? Value::tuple(std::move(out))
                                          : Value::list(std::move(out));
    }
    if (a.is_string() || b.is_string()) {
      const Value& other = a.is_string() ? b : a;
      throw_type_error(
          a.is_string() ? "can only concatenate str (not \"" + other.type_name() + "\") to str"
                        : "unsupported operand type(s) for +: '" + a.type_name() + "' and 'str'");
    }
    unsupported_operands("+", a, b);
  }
  if (op == "-") {
    if (integers) {
      int64_t r;
      if (__builtin_sub_overflow(a.int_value(), b.int_value(), &r))
        overflow();
      return Value::integer(r);
    }
    if (numbers)
      return Value::floating(a.float_value() - b.float_value());
    unsupported_operands("-", a, b);
  }
  if (op == "*") {
    if (integers) {
      int64_t r;
      if (__builtin_mul_overflow(a.int_value(), b.int_value(), &r))
        overflow();
      return Value::integer(r);
    }
    if (numbers)
      return Value::floating(a.float_value() * b.float_value());
    if ((a.is_string() || is_plain_sequence(a)) && b.is_integral())
      return repeat(a, b.int_value());
    if ((b.is_string() || is_plain_sequence(b)) && a.is_integral())
      return repeat(b, a.int_value());
    unsupported_operands("*", a, b);
  }
  if (op == "/") {
    if (!numbers)
      unsupported_operands("/", a, b);
    if (b.float_value() == 0)
      zero_division("division by zero");
    return Value::floating(a.float_value() / b.float_value());
  }
  if (op == "//") {
    if (!numbers)
      unsupported_operands("//", a, b);
    if (integers) {
      int64_t x = a.int_value(), y = b.int_value();
      if (y == 0)
        zero_division("integer division or modulo by zero");
      if (x == INT64_MIN && y == -1)
        overflow();
      int64_t q = x / y;
      if ((x % y != 0) && ((x < 0) != (y < 0)))
        --q;
      return Value::integer(q);
    }
    if (b.float_value() == 0)
      zero_division("float floor division by zero");
    return Value::floating(python_float_floordiv(a.float_value(), b.float_value()));
  }
  if (op == "%") {
    if (a.is_string())
      return Value::string(percent_format(a.str(), b));
    if (!numbers)
      unsupported_operands("%", a, b);
    if (integers) {
      int64_t x = a.int_value(), y = b.int_value();
      if (y == 0)
        zero_division("integer division or modulo by zero");
      if (y == -1)
        return Value::integer(0);
      int64_t r = x % y;
      if (r != 0 && ((r < 0) != (y < 0)))
        r += y;
      return Value::integer(r);
    }
    if (b.float_value() == 0)
      zero_division("float modulo");
    return Value::floating(python_float_mod(a.float_value(), b.float_value()));
  }
  if (op == "**") {
    if (!numbers)
      unsupported_operands("** or pow()", a, b);
    if (integers && b.int_value() >= 0)
      return Value::integer(checked_pow(a.int_value(), b.int_value()));
    double x = a.float_value(), y = b.float_value();
    if (x == 0 && y < 0)
      zero_division("0.0 cannot be raised to a negative power");
    if (x < 0 && y != std::floor(y)) {
      throw RenderError(
          RenderError::Kind::unsupported,
          "a negative number raised to a fractional power is complex");
    }
    return Value::floating(std::pow(x, y));
  }
  throw RenderError(RenderError::Kind::unsupported, "unknown operator '" + op + "'");
}

Value unary_operation(const std::string& op, const Value& operand) {
  operand.require_defined();
  if (!operand.is_number()) {
    throw_type_error("bad operand type for unary " + op + ": '" + operand.type_name() + "'");
  }
  if (op == "+")
    return operand.is_float() ? operand : Value::integer(operand.int_value());
  if (operand.is_float())
    return Value::floating(-operand.float_value());
  if (operand.int_value() == INT64_MIN)
    overflow();
  return Value::integer(-operand.int_value());
}

bool contains(const Value& container, const Value& item) {
  if (container.is_string()) {
    if (!item.is_string()) {
      item.require_defined();
      throw_type_error("'in <string>' requires string as left operand, not " + item.type_name());
    }
    return container.str().find(item.str()) != std::string::npos;
  }
  if (container.is_dict())
    return container.dict_data().find(item) != nullptr;
  if (container.is_undefined())
    return false;  // iterating an undefined value yields nothing
  if (container.is_sequence()) {
    for (const Value& element : container.items()) {
      if (values_equal(element, item))
        return true;
    }
    return false;
  }
  throw_type_error("argument of type '" + container.type_name() + "' is not iterable");
}

bool compare_values(const std::string& op, const Value& a, const Value& b) {
  if (op == "==")
    return values_equal(a, b);
  if (op == "!=")
    return !values_equal(a, b);
  if (op == "in")
    return contains(b, a);
  if (op == "notin")
    return !contains(b, a);
  if (op == "<")
    return value_less(a, b);
  if (op == ">")
    return value_less(b, a);
  if (op == "<=")
    return value_less(a, b) || values_equal(a, b);
  if (op == ">=")
    return value_less(b, a) || values_equal(a, b);
  throw RenderError(RenderError::Kind::unsupported, "unknown comparison '" + op + "'");
}

int64_t length_of(const Value& value) {
  switch (value.kind()) {
    case ValueKind::undefined:
      return 0;
    case ValueKind::string:
      return static_cast<int64_t>(code_point_count(value.str()));
    case ValueKind::list:
      if (value.flavor() == SequenceFlavor::generator) {
        throw_type_error("object of type 'generator' has no len()");
      }
      return static_cast<int64_t>(value.items().size());
    case ValueKind::tuple:
      return static_cast<int64_t>(value.items().size());
    case ValueKind::dict:
      return static_cast<int64_t>(value.dict_data().entries.size());
    default:
      throw_type_error("object of type '" + value.type_name() + "' has no len()");
  }
}

ValueList iterate(const Value& value) {
  switch (value.kind()) {
    case ValueKind::undefined:
      return {};
    case ValueKind::list:
    case ValueKind::tuple:
      return value.items();
    case ValueKind::string: {
      ValueList out;
      std::vector<uint32_t> cps = decode_utf8(value.str());
      check_list_size(cps.size());
      out.reserve(cps.size());
      for (uint32_t c : cps) {
        std::string ch;
        append_utf8(c, ch);
        out.push_back(Value::string(std::move(ch)));
      }
      return out;
    }
    case ValueKind::dict: {
      ValueList out;
      for (const auto& entry : value.dict_data().entries)
        out.push_back(entry.first);
      return out;
    }
    default:
      throw_type_error("'" + value.type_name() + "' object is not iterable");
  }
}

Value get_attribute(const Value& object, const std::string& name) {
  if (object.undefined_unsafe())
    object.require_defined();
  if (name.size() >= 2 && name[0] == '_' && name[1] == '_') {
    return Value::undefined(
        "access to attribute '" + name + "' of '" + object.type_name() + "' object is unsafe.",
        true);
  }
  object.require_defined();
  if (object.is_dict() || object.is_string() || object.is_sequence()) {
    Value method = bound_method(object, name);
    if (!method.is_undefined() || method.undefined_unsafe())
      return method;
  }
  if (object.is_dict() || object.is_namespace()) {
    const Value* found = object.dict_data().find(name);
    if (found != nullptr)
      return *found;
  }
  return missing_attribute(object, name);
}

Value get_item(const Value& object, const Value& key) {
  object.require_defined();
  if (object.is_dict()) {
    const Value* found = object.dict_data().find(key);
    if (found != nullptr)
      return *found;
  } else if (
      (object.is_sequence() && object.flavor() != SequenceFlavor::generator &&
       object.flavor() != SequenceFlavor::view) ||
      object.is_string()) {
    if (key.is_integral()) {
      int64_t length = length_of(object);
      int64_t index = key.int_value();
      if (index < 0)
        index += length;
      if (index >= 0 && index < length) {
        if (object.is_sequence())
          return object.items()[static_cast<size_t>(index)];
        if (is_ascii(object.str()))
          return Value::string(object.str().substr(index, 1));
        std::vector<uint32_t> cps = decode_utf8(object.str());
        return Value::string(encode_utf8(cps, index, index + 1));
      }
      return missing_element(object, key);
    }
  }
  if (key.is_string()) {
    // obj['name'] falls back to the attribute, as in Jinja2's sandbox.
    if (key.str().size() >= 2 && key.str()[0] == '_' && key.str()[1] == '_') {
      return get_attribute(object, key.str());
    }
    if (object.is_dict() || object.is_string() || object.is_sequence()) {
      Value method = bound_method(object, key.str());
      if (!method.is_undefined() || method.undefined_unsafe())
        return method;
    }
    if (object.is_namespace()) {
      const Value* found = object.dict_data().find(key.str());
      if (found != nullptr)
        return *found;
    }
  }
  return missing_element(object, key);
}

Value get_slice(const Value& object, const Value& start, const Value& stop, const Value& step) {
  object.require_defined();
  for (const Value* part : {&start, &stop, &step}) {
    if (!(part->is_none() || part->is_integral())) {
      throw_type_error("slice indices must be integers or None or have an __index__ method");
    }
  }
  bool sliceable =
      object.is_string() || (object.is_sequence() && (object.flavor() == SequenceFlavor::list ||
                                                      object.flavor() == SequenceFlavor::range));
  if (!sliceable)
    return Value::undefined("'" + object.type_name() + "' object is not subscriptable");
  int64_t length = length_of(object);
  int64_t begin, end, stride;
  slice_indices(start, stop, step, length, begin, end, stride);
  std::vector<int64_t> picked;
  if (stride > 0) {
    for (int64_t i = begin; i < end; i += stride)
      picked.push_back(i);
  } else {
    for (int64_t i = begin; i > end; i += stride)
      picked.push_back(i);
  }
  if (object.is_string()) {
    std::vector<uint32_t> cps = decode_utf8(object.str());
    std::string out;
    for (int64_t i : picked)
      append_utf8(cps[static_cast<size_t>(i)], out);
    return Value::string(std::move(out));
  }
  ValueList out;
  for (int64_t i : picked)
    out.push_back(object.items()[static_cast<size_t>(i)]);
  if (object.kind() == ValueKind::tuple)
    return Value::tuple(std::move(out));
  return Value::sequence(std::move(out), object.flavor());
}

Value call_value(const Value& callee, const CallArgs& args) {
  if (callee.is_function())
    return callee.function_data().call(args);
  callee.require_defined();
  throw_type_error("'" + callee.type_name() + "' object is not callable");
}

ValueList bind_arguments(
    const std::string& callable, const CallArgs& args, std::initializer_list<Param> params) {
  std::vector<Param> list(params);
  if (args.positional.size() > list.size()) {
    throw_type_error(
        callable + " takes at most " + std::to_string(list.size()) + " argument(s) (" +
        std::to_string(args.positional.size()) + " given)");
  }
  ValueList values(list.size());
  std::vector<bool> given(list.size(), false);
  for (size_t i = 0; i < args.positional.size(); ++i) {
    values[i] = args.positional[i];
    given[i] = true;
  }
  for (const auto& keyword : args.keywords) {
    size_t index = list.size();
    for (size_t i = 0; i < list.size(); ++i) {
      if (keyword.first == list[i].name)
        index = i;
    }
    if (index == list.size()) {
      throw_type_error(callable + " got an unexpected keyword argument '" + keyword.first + "'");
    }
    if (given[index]) {
      throw_type_error(callable + " got multiple values for argument '" + keyword.first + "'");
    }
    values[index] = keyword.second;
    given[index] = true;
  }
  for (size_t i = 0; i < list.size(); ++i) {
    if (given[i])
      continue;
    if (list[i].required) {
      throw_type_error(callable + " missing required argument '" + std::string(list[i].name) + "'");
    }
    values[i] = list[i].default_value;
  }
  return values;
}

std::string percent_format(const std::string& format, const Value& args) {
  ValueList values;
  const Value* mapping = nullptr;
  if (args.kind() == ValueKind::tuple) {
    values = args.items();
  } else if (args.is_dict()) {
    mapping = &args;
  } else {
    values.push_back(args);
  }
  std::string out;
  size_t next = 0;
  for (size_t i = 0; i < format.size(); ++i) {
    char c = format[i];
    if (c != '%') {
      out += c;
      continue;
    }
    if (i + 1 >= format.size())
      throw_type_error("incomplete format");
    char spec = format[++i];
    if (spec == '%') {
      out += '%';
      continue;
    }
    const Value* value = nullptr;
    if (spec == '(' && mapping != nullptr) {
      size_t close = format.find(')', i);
      if (close == std::string::npos)
        throw_type_error("incomplete format key");
      value = mapping->dict_data().find(format.substr(i + 1, close - i - 1));
      if (value == nullptr)
        throw_type_error("format key not found");
      i = close + 1;
      if (i >= format.size())
        throw_type_error("incomplete format");
      spec = format[i];
    } else {
      if (next >= values.size())
        throw_type_error("not enough arguments for format string");
      value = &values[next++];
    }
    check_string_growth(out.size());
    if (spec == 's') {
      out += value->to_str();
    } else if (spec == 'r') {
      out += value->repr();
    } else if (spec == 'd' || spec == 'i') {
      if (!value->is_number())
        throw_type_error("%d format: a real number is required");
      out += std::to_string(
          value->is_float() ? static_cast<int64_t>(value->float_value()) : value->int_value());
    } else {
      throw RenderError(
          RenderError::Kind::unsupported,
          std::string("the %-format conversion '%") + spec + "' is not supported");
    }
  }
  if (mapping == nullptr && next < values.size()) {
    throw_type_error("not all arguments converted during string formatting");
  }
  check_string_size(out.size());
  return out;
}

std::string brace_format(const std::string& format, const CallArgs& args) {
  std::string out;
  size_t auto_index = 0;
  for (size_t i = 0; i < format.size(); ++i) {
    char c = format[i];
    if (c == '}') {
      if (i + 1 < format.size() && format[i + 1] == '}') {
        out += '}';
        ++i;
        continue;
      }
      throw_type_error("Single '}' encountered in format string");
    }
    if (c != '{') {
      out += c;
      continue;
    }
    if (i + 1 < format.size() && format[i + 1] == '{') {
      out += '{';
      ++i;
      continue;
    }
    size_t close = format.find('}', i);
    if (close == std::string::npos)
      throw_type_error("Single '{' encountered in format string");
    std::string field = format.substr(i + 1, close - i - 1);
    i = close;
    char conversion = 0;
    size_t bang = field.find('!');
    if (bang != std::string::npos) {
      if (bang + 2 != field.size())
        throw_type_error("invalid conversion in a format field");
      conversion = field[bang + 1];
      field = field.substr(0, bang);
    }
    if (field.find(':') != std::string::npos || field.find('.') != std::string::npos ||
        field.find('[') != std::string::npos) {
      throw RenderError(
          RenderError::Kind::unsupported,
          "format specifications and attribute lookups in str.format are not "
          "supported ('{" +
              field + "}')");
    }
    const Value* value = nullptr;
    if (field.empty() || std::isdigit(static_cast<unsigned char>(field[0]))) {
      // At most 9 digits: a longer index is out of range anyway (and stoul would throw).
      if (field.size() > 9 || field.find_first_not_of("0123456789") != std::string::npos)
        throw_type_error("Replacement index " + field + " out of range");
      size_t index = field.empty() ? auto_index++ : std::stoul(field);
      if (index >= args.positional.size())
        throw_type_error("Replacement index out of range");
      value = &args.positional[index];
    } else {
      for (const auto& keyword : args.keywords) {
        if (keyword.first == field)
          value = &keyword.second;
      }
      if (value == nullptr)
        throw_type_error("KeyError: '" + field + "'");
    }
    check_string_growth(out.size());
    if (conversion == 'r') {
      out += value->repr();
    } else if (conversion == 0 || conversion == 's') {
      out += value->to_str();
    } else {
      throw_type_error(std::string("unknown conversion specifier ") + conversion);
    }
  }
  check_string_size(out.size());
  return out;
}

}  // namespace dpo::jinja
