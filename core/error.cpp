#include "core/error.h"

#include <cstring>

namespace dpo {

namespace {
std::string join_message(const std::string& message, const std::string& hint) {
  return hint.empty() ? message : message + "\n  hint: " + hint;
}
}  // namespace

Error::Error(const std::string& message, const std::string& hint)
    : std::runtime_error(join_message(message, hint)), message_(message), hint_(hint) {}

std::string errno_message(const std::string& what, int errnum) {
  return what + ": " + std::strerror(errnum);
}

}  // namespace dpo
