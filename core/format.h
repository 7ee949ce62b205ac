// printf-style formatting into a std::string, of any length (no fixed buffer to truncate).
#pragma once

#include <cstdarg>
#include <string>

namespace dpo {

std::string format(const char* pattern, ...) __attribute__((format(printf, 1, 2)));
std::string format_v(const char* pattern, va_list args) __attribute__((format(printf, 1, 0)));

}  // namespace dpo
