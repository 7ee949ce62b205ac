// The Python methods templates call on strings, dicts and lists (`content.strip()`,
// `message.get('x')`, `d.items()`), as bound functions. Methods that mutate are refused, as in
// Jinja2's ImmutableSandboxedEnvironment, which transformers uses.
#pragma once

#include <string>

#include "templates/jinja/value.h"

namespace dpo::jinja {

// The method `name` of `receiver` bound to it; an unsafe undefined value for a mutating method
// (calling it raises a security error); a plain undefined value when there is no such method.
Value bound_method(const Value& receiver, const std::string& name);

}  // namespace dpo::jinja
