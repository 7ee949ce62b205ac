// Jinja2's built-in filters ({{ x | trim }}) and tests ({% if x is defined %}) with the
// signatures and behaviour of Jinja2 3.1, plus transformers' `tojson`.
#pragma once

#include <string>

#include "templates/jinja/value.h"

namespace dpo::jinja {

bool has_filter(const std::string& name);
// A Jinja2 filter this engine leaves out (so the error can say so).
bool is_known_unsupported_filter(const std::string& name);
bool has_test(const std::string& name);

// input | name(args); throws RenderError.
Value apply_filter(const std::string& name, const Value& input, const CallArgs& args);
// input is name(args)
bool apply_test(const std::string& name, const Value& input, const CallArgs& args);

}  // namespace dpo::jinja
