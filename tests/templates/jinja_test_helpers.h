// Helpers shared by the template engine's tests (jinja_*_test.cpp).
#pragma once

#include <initializer_list>
#include <string>
#include <utility>

#include "core/error.h"
#include "templates/jinja/template.h"

namespace dpo::jinja {

// Renders a template string.
inline std::string render(const std::string& source, const Globals& globals = {}) {
  return Template(source, "t.jinja").render(globals);
}

// The message of the dpo::Error that parsing or rendering throws; "" when none is thrown.
inline std::string error_of(const std::string& source, const Globals& globals = {}) {
  try {
    render(source, globals);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// A conversation as transformers passes it: a list of {role, content} dicts.
inline Value conversation(std::initializer_list<std::pair<const char*, const char*>> turns) {
  ValueList messages;
  for (const auto& turn : turns) {
    Value message = Value::dict();
    message.dict_data().set(Value::string("role"), Value::string(turn.first));
    message.dict_data().set(Value::string("content"), Value::string(turn.second));
    messages.push_back(message);
  }
  return Value::list(std::move(messages));
}

}  // namespace dpo::jinja
