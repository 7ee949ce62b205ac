#include "data/timestamp.h"

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <string>

namespace dpo {

namespace {

// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's days_from_civil).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool leap(int64_t y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

unsigned days_in_month(int64_t y, unsigned m) {
  static const unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && leap(y) ? 29 : kDays[m - 1];
}

// Reads exactly `n` digits at `pos`.
bool digits(std::string_view s, size_t& pos, size_t n, int& out) {
  if (pos + n > s.size())
    return false;
  out = 0;
  for (size_t i = 0; i < n; ++i) {
    char c = s[pos + i];
    if (c < '0' || c > '9')
      return false;
    out = out * 10 + (c - '0');
  }
  pos += n;
  return true;
}

std::optional<double> parse_epoch(std::string_view s) {
  bool digit_seen = false, dot_seen = false;
  for (char c : s) {
    if (c >= '0' && c <= '9') {
      digit_seen = true;
    } else if (c == '.' && !dot_seen) {
      dot_seen = true;
    } else {
      return std::nullopt;
    }
  }
  if (!digit_seen)
    return std::nullopt;
  double value = std::strtod(std::string(s).c_str(), nullptr);
  return value > 1e11 ? value / 1000.0 : value;
}

std::optional<double> parse_iso(std::string_view s) {
  size_t pos = 0;
  int year, month, day;
  if (!digits(s, pos, 4, year) || pos >= s.size() || s[pos++] != '-' || !digits(s, pos, 2, month) ||
      pos >= s.size() || s[pos++] != '-' || !digits(s, pos, 2, day)) {
    return std::nullopt;
  }
  if (month < 1 || month > 12 || day < 1 || static_cast<unsigned>(day) > days_in_month(year, month))
    return std::nullopt;
  double seconds = 86400.0 * static_cast<double>(days_from_civil(year, month, day));
  if (pos == s.size())
    return seconds;
  if (s[pos] != 'T' && s[pos] != 't' && s[pos] != ' ')
    return std::nullopt;
  ++pos;
  int hour, minute, second = 0;
  if (!digits(s, pos, 2, hour) || pos >= s.size() || s[pos++] != ':' || !digits(s, pos, 2, minute))
    return std::nullopt;
  double fraction = 0;
  if (pos < s.size() && s[pos] == ':') {
    ++pos;
    if (!digits(s, pos, 2, second))
      return std::nullopt;
    if (pos < s.size() && (s[pos] == '.' || s[pos] == ',')) {
      ++pos;
      double scale = 0.1;
      size_t start = pos;
      while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
        fraction += scale * (s[pos] - '0');
        scale /= 10;
        ++pos;
      }
      if (pos == start)
        return std::nullopt;
    }
  }
  if (hour > 23 || minute > 59 || second > 60)
    return std::nullopt;
  seconds += 3600.0 * hour + 60.0 * minute + second + fraction;
  if (pos == s.size())
    return seconds;  // no zone: UTC
  if ((s[pos] == 'Z' || s[pos] == 'z') && pos + 1 == s.size())
    return seconds;
  if (s[pos] != '+' && s[pos] != '-')
    return std::nullopt;
  double sign = s[pos++] == '+' ? 1.0 : -1.0;
  int zone_hours, zone_minutes = 0;
  if (!digits(s, pos, 2, zone_hours))
    return std::nullopt;
  if (pos < s.size() && s[pos] == ':')
    ++pos;
  if (pos < s.size() && !digits(s, pos, 2, zone_minutes))
    return std::nullopt;
  if (pos != s.size() || zone_hours > 23 || zone_minutes > 59)
    return std::nullopt;
  // 08:30+02:00 is 06:30 UTC.
  return seconds - sign * (3600.0 * zone_hours + 60.0 * zone_minutes);
}

}  // namespace

std::optional<double> parse_timestamp(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t'))
    text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t'))
    text.remove_suffix(1);
  if (text.empty())
    return std::nullopt;
  if (std::optional<double> epoch = parse_epoch(text))
    return epoch;
  return parse_iso(text);
}

double now_epoch_seconds() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

}  // namespace dpo
