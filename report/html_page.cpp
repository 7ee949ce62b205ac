// The HTML building blocks and the page skeleton of `dpo report`: escaping, number text, tables,
// badges, bars, folded text blocks, and the CSS, navigation and footer of the page.
#include "report/html_page.h"

#include <algorithm>
#include <cmath>

#include "core/build_info.h"
#include "core/format.h"
#include "core/text.h"

namespace dpo::report_html {

namespace {

// The first bytes of a text, cut at a UTF-8 boundary.
std::string head_of(const std::string& text, size_t max_bytes) {
  if (text.size() <= max_bytes)
    return text;
  size_t cut = max_bytes;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80)
    --cut;
  return text.substr(0, cut) + "...";
}

constexpr const char* kStyle = R"(
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#222;background:#fafafa}
header{background:#263238;color:#fff;padding:16px 24px}header h1{margin:0;font-size:22px}
header .source{margin:4px 0 0;color:#b0bec5;font-family:monospace;font-size:13px}
nav{padding:8px 24px;background:#eceff1;font-size:14px}nav a{margin-right:16px;color:#1565c0;text-decoration:none}
main{padding:8px 24px 32px}section{background:#fff;border:1px solid #e0e0e0;border-radius:6px;margin:16px 0;padding:8px 16px 16px}
h2{font-size:18px;margin:8px 0}h4{margin:14px 0 6px;font-size:14px}
table{border-collapse:collapse;font-size:13px;margin:4px 0}th,td{border:1px solid #e0e0e0;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f5f5f5}table.num td{font-variant-numeric:tabular-nums}
code{font-size:12px}.missing{color:#9e9e9e;font-style:italic}
.badge{display:inline-block;padding:2px 10px;border-radius:10px;font-weight:bold;color:#fff}.pass{background:#2e7d32}.fail{background:#c62828}
.worse{color:#c62828}.sev-error{color:#c62828}.sev-warning{color:#ef6c00}
.charts{display:flex;flex-wrap:wrap;gap:12px}figure.chart{margin:0;border:1px solid #eee;padding:4px}
figcaption{font-weight:bold;font-size:13px;padding:2px 4px}
svg .grid{stroke:#eee}svg .axis{stroke:#444}svg text{font-size:11px;fill:#444}svg .axis-label{font-size:12px}
svg .series{fill:none;stroke-width:1.8}svg .alarm line{stroke:#c62828;stroke-dasharray:3 3}svg .alarm text{fill:#c62828;font-size:10px}
.bar{display:inline-block;position:relative;width:120px;height:10px;background:#eceff1;vertical-align:middle}
.bar .fill{position:absolute;left:0;top:2px;height:6px;background:#1f77b4}.bar .band{position:absolute;top:0;height:10px;background:#c8e6c9}
.pair{border-top:1px solid #e0e0e0;padding:8px 0}.pair-head{font-size:13px;margin-bottom:4px}
.texts{display:grid;grid-template-columns:1fr 1fr 1fr;gap:8px}.text .label{font-size:12px;color:#607d8b}
pre{white-space:pre-wrap;word-break:break-word;background:#f7f7f7;padding:6px;margin:2px 0;font-size:12px;max-height:420px;overflow:auto}
summary{cursor:pointer;font-size:12px}.side{display:grid;grid-template-columns:1fr 1fr;gap:16px}
footer{color:#9e9e9e;font-size:12px;padding:0 24px 24px}
)";

}  // namespace

std::string esc(const std::string& text) {
  return html_escape(text);
}

std::string fmt_number(double value) {
  if (std::isnan(value))
    return "NaN";
  if (std::isinf(value))
    return value > 0 ? "inf" : "-inf";
  if (value == std::floor(value) && std::fabs(value) < 1e15)
    return format("%.0f", value);
  return format("%.4g", value);
}

std::string fmt_delta(double value) {
  if (value == 0)
    return "0";
  return (value > 0 ? "+" : "") + fmt_number(value);
}

std::string fmt_percent(double fraction) {
  return format("%.1f%%", 100.0 * fraction);
}
std::string table(
    const std::vector<std::string>& headers,
    const std::vector<std::vector<std::string>>& rows,
    const std::string& css_class) {
  std::string html =
      "<table" + (css_class.empty() ? "" : " class=\"" + css_class + "\"") + "><thead><tr>";
  for (const std::string& h : headers)
    html += "<th>" + esc(h) + "</th>";
  html += "</tr></thead><tbody>";
  for (const auto& row : rows) {
    html += "<tr>";
    for (const std::string& cell : row)
      html += "<td>" + cell + "</td>";
    html += "</tr>";
  }
  return html + "</tbody></table>";
}

// A two-column key/value table; values are escaped here.
std::string kv_table(const std::vector<std::pair<std::string, std::string>>& rows) {
  std::vector<std::vector<std::string>> cells;
  for (const auto& [key, value] : rows) {
    std::string cell =
        value == "not recorded" ? "<span class=\"missing\">not recorded</span>" : esc(value);
    cells.push_back({"<code>" + esc(key) + "</code>", cell});
  }
  return table({"key", "value"}, cells, "kv");
}

std::string badge(bool good, const std::string& good_text, const std::string& bad_text) {
  return good ? "<span class=\"badge pass\">" + esc(good_text) + "</span>"
              : "<span class=\"badge fail\">" + esc(bad_text) + "</span>";
}

// A bar of `fraction` (0..1) with an optional allowed band.
std::string fraction_bar(double fraction, double low, double high) {
  double f = std::clamp(fraction, 0.0, 1.0);
  std::string html = "<span class=\"bar\">";
  if (low >= 0 && high >= low) {
    html += format(
        "<span class=\"band\" style=\"left:%.1f%%;width:%.1f%%\"></span>",
        100 * low,
        100 * (high - low));
  }
  html += format("<span class=\"fill\" style=\"width:%.1f%%\"></span></span>", 100 * f);
  return html;
}

std::string text_block(const std::string& label, const std::string& text, size_t inline_max) {
  std::string html = "<div class=\"text\"><div class=\"label\">" + esc(label) + "</div>";
  if (text.size() <= inline_max)
    return html + "<pre>" + esc(text) + "</pre></div>";
  std::string single_line = head_of(text, 120);
  std::replace(single_line.begin(), single_line.end(), '\n', ' ');
  return html + "<details><summary>" + esc(single_line) + format(" (%zu bytes)", text.size()) +
         "</summary><pre>" + esc(text) + "</pre></details></div>";
}
std::string Page::render(const std::string& title, const std::string& source) const {
  std::string html =
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" +
      esc(title) + "</title>\n<style>" + kStyle + "</style>\n</head>\n<body>\n<header><h1>" +
      esc(title) + "</h1><p class=\"source\">" + esc(source) + "</p></header>\n<nav>";
  for (const Section& s : sections_)
    html += "<a href=\"#" + s.id + "\">" + esc(s.title) + "</a>";
  html += "</nav>\n<main>\n";
  for (const Section& s : sections_) {
    html +=
        "<section id=\"" + s.id + "\"><h2>" + esc(s.title) + "</h2>\n" + s.body + "\n</section>\n";
  }
  return html + "</main>\n<footer>Generated by dpo " + esc(dpo_version()) + " (" +
         esc(dpo_git_commit()) +
         "); self-contained: no scripts, no external resources.</footer>\n</body>\n</html>\n";
}

}  // namespace dpo::report_html
