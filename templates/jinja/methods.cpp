// String, dict and list methods (see methods.h).
#include "templates/jinja/methods.h"

#include "templates/jinja/limits.h"
#include "templates/jinja/operations.h"
#include "templates/jinja/unicode.h"

namespace dpo::jinja {

namespace {

Value unsafe(const Value& receiver, const std::string& name) {
  return Value::undefined(
      "access to attribute '" + name + "' of '" + receiver.type_name() + "' object is unsafe.",
      true);
}

std::string method_name(const Value& receiver, const std::string& name) {
  return receiver.type_name() + "." + name + "()";
}

const std::string& string_arg(const Value& value, const std::string& what) {
  if (!value.is_string()) {
    value.require_defined();
    throw_type_error(what + " must be str, not " + value.type_name());
  }
  return value.str();
}

// The code-point index of byte offset `at` in `text`.
int64_t code_point_index(const std::string& text, size_t at) {
  return static_cast<int64_t>(code_point_count(std::string_view(text).substr(0, at)));
}

bool affix_matches(
    const std::string& text, const Value& affix, bool prefix, const std::string& what) {
  auto one = [&](const Value& candidate) {
    const std::string& a = string_arg(candidate, what);
    if (a.size() > text.size())
      return false;
    return prefix ? text.compare(0, a.size(), a) == 0
                  : text.compare(text.size() - a.size(), a.size(), a) == 0;
  };
  if (affix.kind() == ValueKind::tuple) {
    for (const Value& candidate : affix.items()) {
      if (one(candidate))
        return true;
    }
    return false;
  }
  return one(affix);
}

Value string_list(std::vector<std::string> parts) {
  ValueList out;
  out.reserve(parts.size());
  for (auto& part : parts)
    out.push_back(Value::string(std::move(part)));
  return Value::list(std::move(out));
}

Value string_method(const Value& receiver, const std::string& name) {
  const std::string text = receiver.str();
  const std::string what = method_name(receiver, name);
  auto make = [&](NativeFunction fn) { return Value::function(what, std::move(fn)); };
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    bool left = name != "rstrip";
    bool right = name != "lstrip";
    return make([=](const CallArgs& args) {
      ValueList a = bind_arguments(what, args, {{"chars", Value::none()}});
      if (a[0].is_none())
        return Value::string(python_strip(text, left, right));
      return Value::string(python_strip_chars(text, string_arg(a[0], "chars"), left, right));
    });
  }
  if (name == "startswith" || name == "endswith") {
    bool prefix = name == "startswith";
    return make([=](const CallArgs& args) {
      ValueList a = bind_arguments(what, args, {{"affix", Value(), true}});
      return Value::boolean(affix_matches(text, a[0], prefix, what + " argument"));
    });
  }
  if (name == "split" || name == "rsplit") {
    bool from_right = name == "rsplit";
    return make([=](const CallArgs& args) {
      ValueList a =
          bind_arguments(what, args, {{"sep", Value::none()}, {"maxsplit", Value::integer(-1)}});
      int64_t maxsplit = require_int(a[1], "maxsplit");
      if (a[0].is_none()) {
        if (from_right && maxsplit >= 0) {
          throw RenderError(
              RenderError::Kind::unsupported,
              "str.rsplit() on whitespace with maxsplit is not supported");
        }
        return string_list(python_split_whitespace(text, maxsplit));
      }
      const std::string& sep = string_arg(a[0], "sep");
      if (sep.empty())
        throw_type_error("ValueError: empty separator");
      // The number of parts is known before splitting: refused unbuilt when over the limit.
      uint64_t parts = 1;
      for (size_t at = text.find(sep);
           at != std::string::npos && (maxsplit < 0 || parts <= static_cast<uint64_t>(maxsplit));
           at = text.find(sep, at + sep.size()))
        ++parts;
      check_list_size(parts);
      return string_list(
          from_right ? python_rsplit(text, sep, maxsplit) : python_split(text, sep, maxsplit));
    });
  }
  if (name == "splitlines") {
    return make([=](const CallArgs& args) {
      bind_arguments(what, args, {});
      return string_list(python_splitlines(text));
    });
  }
  if (name == "replace") {
    return make([=](const CallArgs& args) {
      ValueList a = bind_arguments(
          what,
          args,
          {{"old", Value(), true}, {"new", Value(), true}, {"count", Value::integer(-1)}});
      return Value::string(python_replace(
          text, string_arg(a[0], "old"), string_arg(a[1], "new"), require_int(a[2], "count")));
    });
  }
  using Transform = std::string (*)(std::string_view);
  Transform transform = nullptr;
  if (name == "upper")
    transform = python_upper;
  if (name == "lower" || name == "casefold")
    transform = python_lower;
  if (name == "title")
    transform = python_title;
  if (name == "capitalize")
    transform = python_capitalize;
  if (transform != nullptr) {
    return make([=](const CallArgs& args) {
      bind_arguments(what, args, {});
      return Value::string(transform(text));
    });
  }
  if (name == "find" || name == "rfind" || name == "index" || name == "rindex" || name == "count") {
    return make([=](const CallArgs& args) {
      ValueList a = bind_arguments(what, args, {{"sub", Value(), true}});
      const std::string& sub = string_arg(a[0], "sub");
      if (name == "count") {
        if (sub.empty())
          return Value::integer(static_cast<int64_t>(code_point_count(text)) + 1);
        int64_t n = 0;
        for (size_t at = text.find(sub); at != std::string::npos;
             at = text.find(sub, at + sub.size()))
          ++n;
        return Value::integer(n);
      }
      size_t at = (name == "find" || name == "index") ? text.find(sub) : text.rfind(sub);
      if (at == std::string::npos) {
        if (name == "index" || name == "rindex")
          throw_type_error("ValueError: substring not found");
        return Value::integer(-1);
      }
      return Value::integer(code_point_index(text, at));
    });
  }
  if (name == "join") {
    return make([=](const CallArgs& args) {
      ValueList a = bind_arguments(what, args, {{"iterable", Value(), true}});
      std::string out;
      bool first = true;
      for (const Value& item : iterate(a[0])) {
        if (!first)
          out += text;
        first = false;
        out += string_arg(item, "sequence item");
        check_string_growth(out.size());
      }
      check_string_size(out.size());
      return Value::string(std::move(out));
    });
  }
  if (name == "removeprefix" || name == "removesuffix") {
    bool prefix = name == "removeprefix";
    return make([=](const CallArgs& args) {
      ValueList a = bind_arguments(what, args, {{"affix", Value(), true}});
      const std::string& affix = string_arg(a[0], "argument");
      if (affix_matches(text, a[0], prefix, "argument") && !affix.empty()) {
        return Value::string(
            prefix ? text.substr(affix.size()) : text.substr(0, text.size() - affix.size()));
      }
      return Value::string(text);
    });
  }
  if (name == "isdigit" || name == "isalpha" || name == "isalnum" || name == "isspace" ||
      name == "isupper" || name == "islower") {
    return make([=](const CallArgs& args) {
      bind_arguments(what, args, {});
      if (name == "isupper")
        return Value::boolean(python_is_upper(text));
      if (name == "islower")
        return Value::boolean(python_is_lower(text));
      std::vector<uint32_t> cps = decode_utf8(text);
      if (cps.empty())
        return Value::boolean(false);
      for (uint32_t c : cps) {
        bool ok;
        if (c >= 0x80 && name != "isspace") {
          throw RenderError(
              RenderError::Kind::unsupported,
              "str." + name + "() on non-ASCII text is not supported");
        }
        if (name == "isdigit") {
          ok = c >= '0' && c <= '9';
        } else if (name == "isalpha") {
          ok = (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
        } else if (name == "isalnum") {
          ok = ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') || (c >= '0' && c <= '9');
        } else {
          ok = is_python_space(c);
        }
        if (!ok)
          return Value::boolean(false);
      }
      return Value::boolean(true);
    });
  }
  if (name == "format") {
    return make([=](const CallArgs& args) { return Value::string(brace_format(text, args)); });
  }
  return Value();
}

Value dict_method(const Value& receiver, const std::string& name) {
  const std::string what = method_name(receiver, name);
  if (name == "clear" || name == "pop" || name == "popitem" || name == "setdefault" ||
      name == "update") {
    return unsafe(receiver, name);
  }
  auto make = [&](NativeFunction fn) { return Value::function(what, std::move(fn)); };
  if (name == "get") {
    return make([=](const CallArgs& args) {
      ValueList a =
          bind_arguments(what, args, {{"key", Value(), true}, {"default", Value::none()}});
      const Value* found = receiver.dict_data().find(a[0]);
      return found != nullptr ? *found : a[1];
    });
  }
  if (name == "items" || name == "keys" || name == "values") {
    return make([=](const CallArgs& args) {
      bind_arguments(what, args, {});
      ValueList out;
      for (const auto& entry : receiver.dict_data().entries) {
        if (name == "items") {
          out.push_back(Value::tuple({entry.first, entry.second}));
        } else {
          out.push_back(name == "keys" ? entry.first : entry.second);
        }
      }
      return Value::sequence(std::move(out), SequenceFlavor::view);
    });
  }
  if (name == "copy") {
    return make([=](const CallArgs& args) {
      bind_arguments(what, args, {});
      Value copy = Value::dict();
      copy.dict_data().entries = receiver.dict_data().entries;
      copy.dict_data().depth = receiver.dict_data().depth;
      return copy;
    });
  }
  return Value();
}

Value list_method(const Value& receiver, const std::string& name) {
  const std::string what = method_name(receiver, name);
  bool is_list = receiver.kind() == ValueKind::list;
  if (is_list && (name == "append" || name == "clear" || name == "extend" || name == "insert" ||
                  name == "pop" || name == "remove" || name == "reverse" || name == "sort")) {
    return unsafe(receiver, name);
  }
  auto make = [&](NativeFunction fn) { return Value::function(what, std::move(fn)); };
  if (name == "count" || name == "index") {
    return make([=](const CallArgs& args) {
      ValueList a = bind_arguments(what, args, {{"value", Value(), true}});
      int64_t count = 0;
      const ValueList& items = receiver.items();
      for (size_t i = 0; i < items.size(); ++i) {
        if (!values_equal(items[i], a[0]))
          continue;
        if (name == "index")
          return Value::integer(static_cast<int64_t>(i));
        ++count;
      }
      if (name == "index")
        throw_type_error("ValueError: " + a[0].repr() + " is not in list");
      return Value::integer(count);
    });
  }
  if (is_list && name == "copy") {
    return make([=](const CallArgs& args) {
      bind_arguments(what, args, {});
      return Value::list(receiver.items());
    });
  }
  return Value();
}

}  // namespace

Value bound_method(const Value& receiver, const std::string& name) {
  if (receiver.is_string())
    return string_method(receiver, name);
  if (receiver.is_dict())
    return dict_method(receiver, name);
  if (receiver.is_sequence() && receiver.flavor() == SequenceFlavor::list) {
    return list_method(receiver, name);
  }
  return Value();
}

}  // namespace dpo::jinja
