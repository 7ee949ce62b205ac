// Timestamps of preference rows, for the staleness statistics of `dpo validate`.
//
// Accepted forms (anything else is unparseable and reported with its file and line):
//   epoch seconds   1733011200, 1733011200.5 (a JSON number or a string of digits); values
//                   above 1e11 are taken as milliseconds (JavaScript's Date.now())
//   ISO 8601        2024-12-01, 2024-12-01T08:30, 2024-12-01T08:30:15, with optional fraction
//                   (.123), 'T' or one space between date and time, and an optional zone: Z,
//                   +02:00, -0500 (none: UTC)
#pragma once

#include <optional>
#include <string_view>

namespace dpo {

// Seconds since 1970-01-01T00:00:00Z, or nothing when `text` is not one of the forms above or
// names an impossible date (2024-02-30, hour 25).
std::optional<double> parse_timestamp(std::string_view text);

// The current time in seconds since the epoch.
double now_epoch_seconds();

}  // namespace dpo
