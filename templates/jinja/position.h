// Positions in a template's source and the syntax error that names them.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace dpo::jinja {

struct Position {
  int line = 0;    // 1-based
  int column = 0;  // 1-based, in code points
};

// "origin:line:column"
std::string format_position(const std::string& origin, Position position);

// Throws dpo::ConfigError "origin:line:column: message" with `hint` (the template cannot be used).
[[noreturn]] void throw_syntax_error(
    const std::string& origin,
    Position position,
    const std::string& message,
    const std::string& hint = "");

// Maps byte offsets of a source text to line and column. The lexer asks for increasing offsets;
// counting resumes from the previous answer on the same line, so a template written on one
// long line costs linear time, not quadratic.
class LineIndex {
 public:
  explicit LineIndex(std::string_view source);
  Position at(size_t offset) const;

 private:
  std::string_view source_;
  std::vector<size_t> line_starts_;
  mutable size_t last_offset_ = 0;  // the previous query and its column
  mutable int last_column_ = 1;
};

}  // namespace dpo::jinja
