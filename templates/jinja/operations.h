// Python's operators, len(), iteration and calls on template values, and the attribute and
// item access of Jinja2's ImmutableSandboxedEnvironment (attributes fall back to items and
// items to attributes; methods that mutate are refused; missing things become undefined).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>

#include "templates/jinja/value.h"

namespace dpo::jinja {

// + - * / // % ** ~ on two values.
Value binary_operation(const std::string& op, const Value& a, const Value& b);
// Unary - and +.
Value unary_operation(const std::string& op, const Value& operand);
// == != < <= > >= in notin.
bool compare_values(const std::string& op, const Value& a, const Value& b);
bool contains(const Value& container, const Value& item);

// Python len(); throws a type error where Python does.
int64_t length_of(const Value& value);
// The items a for loop visits: list and tuple items, the characters of a string, the keys
// of a dict; nothing for undefined. Throws a type error for values that are not iterable.
ValueList iterate(const Value& value);

Value get_attribute(const Value& object, const std::string& name);
Value get_item(const Value& object, const Value& key);
// object[start:stop:step]; absent parts are undefined values.
Value get_slice(const Value& object, const Value& start, const Value& stop, const Value& step);

// Calls a function value; an undefined callee raises its error.
Value call_value(const Value& callee, const CallArgs& args);

// Python's "format" % args and "format".format(*args, **kwargs).
std::string percent_format(const std::string& format, const Value& args);
std::string brace_format(const std::string& format, const CallArgs& args);

// Binds call arguments to named parameters as Python does (positional first, then keywords);
// throws a type error naming `callable` for unknown, duplicate or missing arguments.
struct Param {
  const char* name;
  Value default_value;  // used when the argument is not given
  bool required = false;
};
ValueList bind_arguments(
    const std::string& callable, const CallArgs& args, std::initializer_list<Param> params);

// Integer conversion of an argument that must be an int (or bool).
int64_t require_int(const Value& value, const std::string& what);

}  // namespace dpo::jinja
