// Logging: printf-style lines on stderr, each tagged with the component that wrote it,
// e.g. "[validate] 1200 rows read". Metrics go to metrics files, not here.
#pragma once

#include <string>

namespace dpo {

enum class LogLevel { debug = 0, info = 1, warn = 2, error = 3, quiet = 4 };

void set_log_level(LogLevel level);
LogLevel log_level();
// "debug" | "info" | "warn" | "error" | "quiet"; throws UsageError otherwise.
LogLevel parse_log_level(const std::string& name);

void log_message(LogLevel level, const char* component, const char* format, ...)
    __attribute__((format(printf, 3, 4)));

}  // namespace dpo

#define DPO_LOG_DEBUG(component, ...) \
  ::dpo::log_message(::dpo::LogLevel::debug, component, __VA_ARGS__)
#define DPO_LOG_INFO(component, ...) \
  ::dpo::log_message(::dpo::LogLevel::info, component, __VA_ARGS__)
#define DPO_LOG_WARN(component, ...) \
  ::dpo::log_message(::dpo::LogLevel::warn, component, __VA_ARGS__)
#define DPO_LOG_ERROR(component, ...) \
  ::dpo::log_message(::dpo::LogLevel::error, component, __VA_ARGS__)
