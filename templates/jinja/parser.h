// Builds the statement tree of a template from its tokens, following jinja2/parser.py (3.1):
// the same grammar, operator precedence and error cases. Filter and test names are checked
// here, so a template that uses one this engine lacks fails when it is loaded.
#pragma once

#include <string>
#include <vector>

#include "templates/jinja/ast.h"
#include "templates/jinja/lexer.h"

namespace dpo::jinja {

// Throws ConfigError "origin:line:column: ..." on bad or unsupported syntax, and when
// expressions or blocks nest deeper than `max_depth` (parentheses, operator chains, filters,
// nested statements), so that neither parsing nor rendering can exhaust the stack.
NodeList parse_template(
    const std::vector<Token>& tokens, const std::string& origin, int max_depth = 256);

}  // namespace dpo::jinja
