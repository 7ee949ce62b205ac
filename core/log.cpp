#include "core/log.h"

#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <mutex>

#include "core/error.h"
#include "core/format.h"

namespace dpo {

namespace {
// The one piece of process-wide state: the level chosen by --log-level.
std::atomic<int> g_level{static_cast<int>(LogLevel::info)};
std::mutex g_write_mutex;

const char* level_prefix(LogLevel level) {
  switch (level) {
    case LogLevel::warn:
      return "warning: ";
    case LogLevel::error:
      return "error: ";
    default:
      return "";
  }
}
}  // namespace

void set_log_level(LogLevel level) {
  g_level.store(static_cast<int>(level));
}

LogLevel log_level() {
  return static_cast<LogLevel>(g_level.load());
}

LogLevel parse_log_level(const std::string& name) {
  if (name == "debug")
    return LogLevel::debug;
  if (name == "info")
    return LogLevel::info;
  if (name == "warn" || name == "warning")
    return LogLevel::warn;
  if (name == "error")
    return LogLevel::error;
  if (name == "quiet")
    return LogLevel::quiet;
  throw UsageError(
      "unknown log level '" + name + "'", "use one of debug, info, warn, error, quiet");
}

void log_message(LogLevel level, const char* component, const char* format, ...) {
  if (static_cast<int>(level) < g_level.load())
    return;
  va_list args;
  va_start(args, format);
  const std::string text = format_v(format, args);
  va_end(args);
  std::lock_guard<std::mutex> lock(g_write_mutex);
  std::fprintf(stderr, "[%s] %s%s\n", component, level_prefix(level), text.c_str());
}

}  // namespace dpo
