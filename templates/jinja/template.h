// A parsed Jinja template and its rendering: the public face of the engine. The template is
// parsed once (syntax errors, unknown filters and tests are reported then, with line and
// column) and can be rendered many times, from several threads at once.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "templates/jinja/ast.h"
#include "templates/jinja/limits.h"
#include "templates/jinja/value.h"

namespace dpo::jinja {

// The variables a rendering starts with (names and values; later entries win).
using Globals = std::vector<std::pair<std::string, Value>>;

class Template {
 public:
  // Throws ConfigError "origin:line:column: ..." when the source is not a valid template (or
  // nests deeper than limits.max_nesting_depth). `limits` bound every rendering (limits.h).
  Template(const std::string& source, std::string origin, const Limits& limits = Limits());

  // Renders with `globals` plus Jinja2's own globals (range, dict, namespace). Throws
  // DataError "origin:line:column: ..." when rendering fails; raise_exception(msg) gives
  // "origin:line:column: raise_exception: msg"; a limit exceeded gives
  // "origin:line:column: rendering failed: limit exceeded: <which limit>".
  std::string render(const Globals& globals) const;

  const std::string& origin() const {
    return origin_;
  }
  const Limits& limits() const {
    return limits_;
  }

 private:
  std::string origin_;
  Limits limits_;
  NodeList nodes_;
};

// The functions Jinja2 puts in every template's globals: range, dict, namespace.
Globals jinja_builtin_globals();

}  // namespace dpo::jinja
