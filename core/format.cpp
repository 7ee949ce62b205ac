#include "core/format.h"

#include <cstdio>

namespace dpo {

std::string format_v(const char* pattern, va_list args) {
  char small[256];
  va_list copy;
  va_copy(copy, args);
  const int needed = std::vsnprintf(small, sizeof small, pattern, copy);
  va_end(copy);
  if (needed < 0)
    return {};
  if (static_cast<size_t>(needed) < sizeof small)
    return std::string(small, static_cast<size_t>(needed));
  std::string text(static_cast<size_t>(needed), '\0');
  std::vsnprintf(text.data(), text.size() + 1, pattern, args);
  return text;
}

std::string format(const char* pattern, ...) {
  va_list args;
  va_start(args, pattern);
  std::string text = format_v(pattern, args);
  va_end(args);
  return text;
}

}  // namespace dpo
