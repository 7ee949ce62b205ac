// The values a template computes with, modelled on the Python objects Jinja2 sees: undefined,
// None, bool, int, float, str, list, tuple, dict, namespace and callables. Lists, dicts and
// namespaces are shared by reference, as in Python. Also the error a failed operation throws.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace dpo::jinja {

class Value;
using ValueList = std::vector<Value>;

// What went wrong while rendering; the renderer adds the template position.
class RenderError : public std::runtime_error {
 public:
  enum class Kind {
    type,         // an operation on values of the wrong type (Python's TypeError, ValueError)
    undefined,    // an undefined value was used (jinja2.UndefinedError)
    security,     // the sandbox refused an operation (jinja2.sandbox.SecurityError)
    raised,       // the template called raise_exception(message)
    unsupported,  // valid Jinja2 that this engine does not implement
    limit         // the template exceeded one of its work limits (limits.h)
  };
  RenderError(Kind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  Kind kind() const {
    return kind_;
  }

 private:
  Kind kind_;
};

[[noreturn]] void throw_type_error(const std::string& message);

struct CallArgs {
  ValueList positional;
  std::vector<std::pair<std::string, Value>> keywords;
};
using NativeFunction = std::function<Value(const CallArgs&)>;

// What a list value stands for. Python's filters and methods return iterators and views in
// places; they behave like lists except where Python differs (len of a generator fails, a
// generator is always true, printing one shows an object address, so it is refused here).
enum class SequenceFlavor : uint8_t { list, generator, view, range };

enum class ValueKind : uint8_t {
  undefined,
  none,
  boolean,
  integer,
  floating,
  string,
  list,
  tuple,
  dict,
  ns,
  function
};

// dict (insertion-ordered, as Python's) and namespace attributes.
struct DictData {
  std::vector<std::pair<Value, Value>> entries;
  bool read_only = false;  // the `loop` object: attributes cannot be assigned
  // 1 + the deepest key or value (see Value::nesting); kept by set(), bounded by the limits.
  uint32_t depth = 1;
  const Value* find(const Value& key) const;
  const Value* find(const std::string& key) const;
  void set(const Value& key, Value value);
};

struct FunctionData {
  std::string name;
  NativeFunction call;
};

class Value {
 public:
  Value() = default;  // undefined
  // An undefined value. `message` is the error raised when it is used ("'x' is undefined");
  // `unsafe` marks the sandbox's refusal (calling it raises a security error).
  static Value undefined(std::string message, bool unsafe = false);
  static Value none();
  static Value boolean(bool value);
  static Value integer(int64_t value);
  static Value floating(double value);
  static Value string(std::string value);
  // A string marked safe by the `safe` filter (Python's markupsafe.Markup): `+` with a plain
  // string HTML-escapes the plain one, as Markup does.
  static Value markup(std::string value);
  static Value list(ValueList items = {});
  static Value tuple(ValueList items);
  static Value sequence(ValueList items, SequenceFlavor flavor);
  static Value dict();
  // A namespace() object, handed to the running rendering (limits.h); with `read_only`, the
  // `loop` object instead: filled once by its maker (who sets DictData::depth), then immutable.
  static Value namespace_object(bool read_only = false);
  static Value function(std::string name, NativeFunction call);

  ValueKind kind() const {
    return kind_;
  }
  bool is_undefined() const {
    return kind_ == ValueKind::undefined;
  }
  bool is_none() const {
    return kind_ == ValueKind::none;
  }
  bool is_bool() const {
    return kind_ == ValueKind::boolean;
  }
  bool is_int() const {  // Python int, bool excluded
    return kind_ == ValueKind::integer;
  }
  bool is_float() const {
    return kind_ == ValueKind::floating;
  }
  bool is_number() const {  // Python numbers.Number: bool, int, float
    return kind_ == ValueKind::boolean || kind_ == ValueKind::integer ||
           kind_ == ValueKind::floating;
  }
  bool is_integral() const {  // bool or int, which Python treats as integers in arithmetic
    return kind_ == ValueKind::boolean || kind_ == ValueKind::integer;
  }
  bool is_string() const {
    return kind_ == ValueKind::string;
  }
  bool is_sequence() const {  // list or tuple
    return kind_ == ValueKind::list || kind_ == ValueKind::tuple;
  }
  bool is_dict() const {
    return kind_ == ValueKind::dict;
  }
  bool is_namespace() const {
    return kind_ == ValueKind::ns;
  }
  bool is_function() const {
    return kind_ == ValueKind::function;
  }

  bool is_markup() const {
    return kind_ == ValueKind::string && markup_;
  }
  SequenceFlavor flavor() const {
    return flavor_;
  }
  bool bool_value() const {
    return number_.b;
  }
  int64_t int_value() const;       // bool or int
  double float_value() const;      // bool, int or float
  const std::string& str() const;  // string; the message of an undefined
  bool undefined_unsafe() const {
    return kind_ == ValueKind::undefined && number_.b;
  }
  const ValueList& items() const;  // list or tuple
  ValueList& mutable_items() const;
  DictData& dict_data() const;  // dict or namespace
  const FunctionData& function_data() const;

  // How deeply lists, tuples and dicts nest in this value: 0 for scalars, 1 + the deepest item
  // for a list, tuple or dict. A namespace counts 1 whatever it holds: it is the only mutable
  // container, and the rendering that made it keeps it and empties it at the end (limits.h),
  // so neither printing (bounded separately) nor freeing a value recurses through one.
  uint32_t nesting() const;

  bool truthy() const;            // Python bool()
  std::string to_str() const;     // Python str(), as {{ value }} prints it ("" for undefined)
  std::string repr() const;       // Python repr()
  std::string type_name() const;  // Python type name: 'str', 'int', 'dict', 'NoneType', ...

  // Throws the undefined value's error when this is undefined.
  void require_defined() const;

 private:
  ValueKind kind_ = ValueKind::undefined;
  SequenceFlavor flavor_ = SequenceFlavor::list;
  bool markup_ = false;
  uint32_t depth_ = 0;  // list and tuple: nesting()
  union {
    bool b;
    int64_t i;
    double f;
  } number_{false};
  std::shared_ptr<const std::string> text_;
  std::shared_ptr<ValueList> list_;
  std::shared_ptr<DictData> dict_;
  std::shared_ptr<FunctionData> function_;
};

// Python ==.
bool values_equal(const Value& a, const Value& b);
// Python <, for sorting and comparisons; throws a type error for unorderable operands.
bool value_less(const Value& a, const Value& b);

// Python's repr(float): the shortest text that reads back as the same double ("1.0", "0.1",
// "1e+16", "1.5e-05", "inf", "nan").
std::string python_float_repr(double value);

}  // namespace dpo::jinja
