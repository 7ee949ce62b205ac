// Source positions and syntax errors (see position.h).
#include "templates/jinja/position.h"

#include <algorithm>

#include "core/error.h"

namespace dpo::jinja {

std::string format_position(const std::string& origin, Position position) {
  return origin + ":" + std::to_string(position.line) + ":" + std::to_string(position.column);
}

void throw_syntax_error(
    const std::string& origin,
    Position position,
    const std::string& message,
    const std::string& hint) {
  throw ConfigError(
      format_position(origin, position) + ": " + message,
      hint.empty() ? "fix the template (docs/chat-templates.md lists the supported syntax)" : hint);
}

LineIndex::LineIndex(std::string_view source) : source_(source) {
  line_starts_.push_back(0);
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\n')
      line_starts_.push_back(i + 1);
  }
}

Position LineIndex::at(size_t offset) const {
  auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
  size_t line = static_cast<size_t>(it - line_starts_.begin());  // 1-based
  size_t start = line_starts_[line - 1];
  int column = 1;
  if (last_offset_ >= start && last_offset_ <= offset) {
    start = last_offset_;  // same line, further on
    column = last_column_;
  }
  for (size_t i = start; i < offset && i < source_.size(); ++i) {
    if ((static_cast<unsigned char>(source_[i]) & 0xC0) != 0x80)
      ++column;
  }
  last_offset_ = offset;
  last_column_ = column;
  return Position{static_cast<int>(line), column};
}

}  // namespace dpo::jinja
