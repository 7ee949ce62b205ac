// The HTML building blocks of the `dpo report` page: escaping, numbers as the page writes them,
// tables, badges, bars, folded text blocks, and the page skeleton (inline CSS, navigation,
// sections, footer). No JSON and no charts here; see svg_chart.h for those.
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace dpo::report_html {

// What a section or cell shows when its input file or key is missing.
inline constexpr const char* kNotRecorded = "<p class=\"missing\">not recorded</p>";

// HTML-escaped text (core/text.h's html_escape).
std::string esc(const std::string& text);

// Numbers as the page writes them: integers without a fraction, else 4 significant digits;
// "NaN", "inf", "-inf" for non-finite values.
std::string fmt_number(double value);
// fmt_number with a sign ("+0.1", "-2"); "0" for zero.
std::string fmt_delta(double value);
// 0.123 -> "12.3%".
std::string fmt_percent(double fraction);

// A table with escaped headers; cells are HTML already.
std::string table(
    const std::vector<std::string>& headers,
    const std::vector<std::vector<std::string>>& rows,
    const std::string& css_class = "");

// A two-column key/value table; values are escaped here.
std::string kv_table(const std::vector<std::pair<std::string, std::string>>& rows);

// A green or red label.
std::string badge(bool good, const std::string& good_text, const std::string& bad_text);

// A bar of `fraction` (0..1) with an optional allowed band [low, high].
std::string fraction_bar(double fraction, double low = -1, double high = -1);

// A labelled text in <pre>; texts longer than `inline_max` bytes are folded into <details>
// with their first 120 bytes as the summary.
std::string text_block(const std::string& label, const std::string& text, size_t inline_max);

// The page: sections in the order they are added, each linked from the navigation bar.
class Page {
 public:
  void section(const std::string& id, const std::string& title, const std::string& body) {
    sections_.push_back({id, title, body});
  }
  // The whole self-contained document; `source` is the input path shown under the title.
  std::string render(const std::string& title, const std::string& source) const;

 private:
  struct Section {
    std::string id, title, body;
  };
  std::vector<Section> sections_;
};

}  // namespace dpo::report_html
