// Splits a template into tokens exactly as Jinja2's lexer does with trim_blocks=True and
// lstrip_blocks=True: text, {{ }} and {% %} tags with the tokens inside them; comments and
// raw blocks are resolved here. Whitespace control (-, +) is applied to the text tokens.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "templates/jinja/position.h"

namespace dpo::jinja {

enum class TokenType {
  text,            // template text to output as is
  variable_begin,  // {{
  variable_end,    // }}
  block_begin,     // {%
  block_end,       // %}
  name,            // identifier or keyword
  string,          // string literal, escapes decoded
  integer,
  floating,
  op,  // operator or punctuation: + - * / // % ** ~ == != < <= > >= = . , : | ( ) [ ] { } ;
  end  // end of the template
};

struct Token {
  TokenType type = TokenType::end;
  std::string text;  // text, name, decoded string or operator
  int64_t integer = 0;
  double floating = 0;
  Position position;
};

// The source with Jinja2's newline handling applied: \r\n and \r become \n and one trailing
// newline is dropped (keep_trailing_newline=False).
std::string normalize_template_source(std::string_view source);

// Tokenizes a normalized source. Throws ConfigError "origin:line:column: ..." on bad syntax.
std::vector<Token> tokenize(const std::string& source, const std::string& origin);

}  // namespace dpo::jinja
