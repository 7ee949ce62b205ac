// The HTML page of `dpo report`: loading the run files tolerantly, SVG line charts, and the
// sections of run, check, compare and dataset-diff pages. See run_report_html.h.
#include "report/run_report_html.h"

#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/build_info.h"
#include "core/error.h"
#include "core/text.h"

namespace dpo {

namespace {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

constexpr const char* kNotRecorded = "<p class=\"missing\">not recorded</p>";
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
std::string format(const char* fmt, ...) {
  char buffer[256];
  va_list args;
  va_start(args, fmt);
  std::vsnprintf(buffer, sizeof(buffer), fmt, args);
  va_end(args);
  return buffer;
}

std::string esc(const std::string& text) {
  return html_escape(text);
}

// ---------------------------------------------------------------------------------------------
// Reading files. Missing files are std::nullopt; malformed JSON throws DataError with file:line.

std::optional<std::string> read_if_exists(const std::string& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec))
    return std::nullopt;
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw IoError(errno_message("cannot open '" + path + "'", errno));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// "syntax error while parsing value - invalid literal; last read: 'x'" from nlohmann's message.
std::string parse_error_detail(const std::string& what) {
  size_t column = what.find("column ");
  size_t colon = column == std::string::npos ? std::string::npos : what.find(": ", column);
  return colon == std::string::npos ? what : what.substr(colon + 2);
}

json parse_json(const std::string& text, const std::string& path, uint64_t first_line) {
  try {
    return json::parse(text);
  } catch (const json::parse_error& e) {
    size_t byte = std::min<size_t>(e.byte > 0 ? e.byte - 1 : 0, text.size());
    uint64_t line =
        first_line + static_cast<uint64_t>(std::count(
                         text.begin(), text.begin() + static_cast<std::ptrdiff_t>(byte), '\n'));
    throw DataError(
        path + ":" + std::to_string(line) + ": malformed JSON: " + parse_error_detail(e.what()),
        "dpo report reads the files that dpo writes; regenerate or repair this one");
  }
}

std::optional<json> read_json_file(const std::string& path) {
  std::optional<std::string> text = read_if_exists(path);
  if (!text)
    return std::nullopt;
  return parse_json(*text, path, 1);
}

// One JSON value per non-blank line.
std::optional<std::vector<json>> read_jsonl_file(const std::string& path) {
  std::optional<std::string> text = read_if_exists(path);
  if (!text)
    return std::nullopt;
  std::vector<json> rows;
  std::istringstream in(*text);
  std::string line;
  uint64_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.find_first_not_of(" \t\r") == std::string::npos)
      continue;
    rows.push_back(parse_json(line, path, number));
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------
// Values.

// A number, or a string such as "nan" / "inf" (non-finite values cannot be JSON numbers);
// null for missing keys and non-numbers, NaN for explicit nulls (a non-finite value).
std::optional<double> number_of(const json& object, const std::string& key) {
  if (!object.is_object())
    return std::nullopt;
  auto found = object.find(key);
  if (found == object.end())
    return std::nullopt;
  if (found->is_number())
    return found->get<double>();
  if (found->is_boolean())
    return found->get<bool>() ? 1.0 : 0.0;
  if (found->is_null())
    return kNaN;
  if (found->is_string()) {
    const std::string& s = found->get_ref<const std::string&>();
    char* end = nullptr;
    double value = std::strtod(s.c_str(), &end);
    if (!s.empty() && end == s.c_str() + s.size())
      return value;
  }
  return std::nullopt;
}

// Follows a path of object keys; nullptr when any is missing.
const json* at(const json& root, std::initializer_list<const char*> path) {
  const json* node = &root;
  for (const char* key : path) {
    if (!node->is_object())
      return nullptr;
    auto found = node->find(key);
    if (found == node->end())
      return nullptr;
    node = &*found;
  }
  return node;
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

// A scalar as text; arrays and objects as compact JSON.
std::string value_text(const json& value) {
  if (value.is_string())
    return value.get<std::string>();
  if (value.is_boolean())
    return value.get<bool>() ? "true" : "false";
  if (value.is_null())
    return "null";
  if (value.is_number_integer() || value.is_number_unsigned())
    return value.dump();
  if (value.is_number())
    return fmt_number(value.get<double>());
  std::string text = value.dump();
  return text.size() > 300 ? text.substr(0, 300) + "..." : text;
}

// value_text of object[key], or "not recorded".
std::string field_text(const json* object, const char* key) {
  if (object == nullptr)
    return "not recorded";
  const json* value = at(*object, {key});
  return value == nullptr ? "not recorded" : value_text(*value);
}

// Nested objects become dotted keys; arrays of scalars one value; arrays of objects key[i].
void flatten(
    const json& value,
    const std::string& prefix,
    std::vector<std::pair<std::string, std::string>>& out) {
  if (value.is_object()) {
    if (value.empty())
      out.emplace_back(prefix, "{}");
    for (auto it = value.begin(); it != value.end(); ++it) {
      flatten(it.value(), prefix.empty() ? it.key() : prefix + "." + it.key(), out);
    }
    return;
  }
  if (value.is_array()) {
    bool scalars =
        std::none_of(value.begin(), value.end(), [](const json& v) { return v.is_structured(); });
    if (scalars) {
      std::string joined;
      for (const json& v : value)
        joined += (joined.empty() ? "" : ", ") + value_text(v);
      out.emplace_back(prefix, value.empty() ? "[]" : joined);
      return;
    }
    for (size_t i = 0; i < value.size(); ++i)
      flatten(value[i], prefix + "[" + std::to_string(i) + "]", out);
    return;
  }
  out.emplace_back(prefix, value_text(value));
}

// ---------------------------------------------------------------------------------------------
// HTML pieces.

std::string table(
    const std::vector<std::string>& headers,
    const std::vector<std::vector<std::string>>& rows,
    const std::string& css_class = "") {
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
std::string fraction_bar(double fraction, double low = -1, double high = -1) {
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

// The first bytes of a text, cut at a UTF-8 boundary.
std::string head_of(const std::string& text, size_t max_bytes) {
  if (text.size() <= max_bytes)
    return text;
  size_t cut = max_bytes;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80)
    --cut;
  return text.substr(0, cut) + "...";
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

// A prompt or completion as text: a string, or messages as "role: content" blocks.
std::string conversation_text(const json* value) {
  if (value == nullptr || value->is_null())
    return "not recorded";
  if (value->is_string())
    return value->get<std::string>();
  if (value->is_array()) {
    std::string text;
    for (const json& message : *value) {
      if (!text.empty())
        text += "\n\n";
      if (message.is_object()) {
        text += field_text(&message, "role") + ": " + field_text(&message, "content");
      } else {
        text += value_text(message);
      }
    }
    return text;
  }
  return value->dump();
}

// ---------------------------------------------------------------------------------------------
// SVG line charts: axes with "nice" ticks, a legend, polylines (broken at non-finite values),
// dots where the points are few, and vertical alarm markers.

struct Series {
  std::string name;
  std::string color;
  std::vector<std::pair<double, double>> points;  // (x, y); y NaN breaks the line
  bool dashed = false;
};

struct Marker {
  double x = 0;
  std::string label;
};

constexpr double kChartWidth = 600, kChartHeight = 300;
constexpr double kLeft = 66, kRight = 16, kTop = 34, kBottom = 46;

double nice_step(double range, int target_ticks) {
  double raw = range / target_ticks;
  double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  double f = raw / magnitude;
  double nice = f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10;
  return nice * magnitude;
}

std::vector<double> ticks_for(double& low, double& high) {
  if (!(high > low)) {
    double pad = low == 0 ? 1.0 : std::fabs(low) * 0.1;
    low -= pad;
    high += pad;
  }
  double step = nice_step(high - low, 5);
  low = std::floor(low / step) * step;
  high = std::ceil(high / step) * step;
  std::vector<double> ticks;
  for (double t = low; t <= high + step * 1e-9; t += step) {
    ticks.push_back(std::fabs(t) < step * 1e-9 ? 0.0 : t);
  }
  return ticks;
}

std::string tick_label(double value) {
  return format("%.6g", value);
}

std::string svg_chart(
    const std::string& title,
    const std::string& x_label,
    const std::string& y_label,
    std::vector<Series> series,
    const std::vector<Marker>& markers) {
  // Long series are thinned to about 2,000 points (every k-th, and the last).
  for (Series& s : series) {
    if (s.points.size() <= 2000)
      continue;
    size_t stride = (s.points.size() + 1999) / 2000;
    std::vector<std::pair<double, double>> kept;
    for (size_t i = 0; i < s.points.size(); i += stride)
      kept.push_back(s.points[i]);
    if ((s.points.size() - 1) % stride != 0)
      kept.push_back(s.points.back());
    s.points = std::move(kept);
  }
  double x_low = INFINITY, x_high = -INFINITY, y_low = INFINITY, y_high = -INFINITY;
  size_t finite_points = 0;
  for (const Series& s : series) {
    for (const auto& [x, y] : s.points) {
      if (!std::isfinite(x) || !std::isfinite(y))
        continue;
      ++finite_points;
      x_low = std::min(x_low, x);
      x_high = std::max(x_high, x);
      y_low = std::min(y_low, y);
      y_high = std::max(y_high, y);
    }
  }
  std::string html = "<figure class=\"chart\"><figcaption>" + esc(title) + "</figcaption>";
  if (finite_points == 0)
    return html + kNotRecorded + "</figure>";
  for (const Marker& m : markers) {
    x_low = std::min(x_low, m.x);
    x_high = std::max(x_high, m.x);
  }
  std::vector<double> x_ticks = ticks_for(x_low, x_high);
  std::vector<double> y_ticks = ticks_for(y_low, y_high);
  const double plot_w = kChartWidth - kLeft - kRight, plot_h = kChartHeight - kTop - kBottom;
  auto px = [&](double x) { return kLeft + (x - x_low) / (x_high - x_low) * plot_w; };
  auto py = [&](double y) { return kTop + (1.0 - (y - y_low) / (y_high - y_low)) * plot_h; };

  html += format(
              "<svg viewBox=\"0 0 %.0f %.0f\" width=\"%.0f\" height=\"%.0f\" role=\"img\"",
              kChartWidth,
              kChartHeight,
              kChartWidth,
              kChartHeight) +
          " aria-label=\"" + esc(title) + "\">";
  // Grid, ticks and tick labels.
  for (double t : y_ticks) {
    double y = py(t);
    html += format(
        "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>",
        kLeft,
        y,
        kLeft + plot_w,
        y);
    html +=
        format(
            "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">", kLeft - 6, y + 4) +
        esc(tick_label(t)) + "</text>";
  }
  for (double t : x_ticks) {
    double x = px(t);
    html += format(
        "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>",
        x,
        kTop,
        x,
        kTop + plot_h);
    html += format(
                "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">",
                x,
                kTop + plot_h + 16) +
            esc(tick_label(t)) + "</text>";
  }
  // Axes and their labels.
  html += format(
      "<line class=\"axis\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>",
      kLeft,
      kTop + plot_h,
      kLeft + plot_w,
      kTop + plot_h);
  html += format(
      "<line class=\"axis\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>",
      kLeft,
      kTop,
      kLeft,
      kTop + plot_h);
  html += format(
              "<text class=\"axis-label\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">",
              kLeft + plot_w / 2,
              kChartHeight - 8) +
          esc(x_label) + "</text>";
  html += format(
              "<text class=\"axis-label\" transform=\"translate(14,%.1f) rotate(-90)\" "
              "text-anchor=\"middle\">",
              kTop + plot_h / 2) +
          esc(y_label) + "</text>";
  // Alarm markers.
  for (const Marker& m : markers) {
    double x = px(m.x);
    html +=
        "<g class=\"alarm\"><title>" + esc("step " + fmt_number(m.x) + ": " + m.label) + "</title>";
    html += format(
        "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>", x, kTop, x, kTop + plot_h);
    html += format("<text transform=\"translate(%.1f,%.1f) rotate(90)\">", x + 3, kTop + 4) +
            esc(m.label) + "</text></g>";
  }
  // Series.
  for (const Series& s : series) {
    std::vector<std::string> segments(1);
    size_t finite = 0;
    for (const auto& [x, y] : s.points) {
      if (!std::isfinite(x) || !std::isfinite(y)) {
        if (!segments.back().empty())
          segments.emplace_back();
        continue;
      }
      ++finite;
      segments.back() += format("%s%.1f,%.1f", segments.back().empty() ? "" : " ", px(x), py(y));
    }
    std::string style = "stroke:" + s.color + (s.dashed ? ";stroke-dasharray:6 4" : "");
    for (const std::string& points : segments) {
      if (points.empty())
        continue;
      html += "<polyline class=\"series\" style=\"" + style + "\" points=\"" + points +
              "\"><title>" + esc(s.name) + "</title></polyline>";
    }
    if (finite <= 60) {  // few points (evaluations): show each one
      for (const auto& [x, y] : s.points) {
        if (!std::isfinite(x) || !std::isfinite(y))
          continue;
        html += format(
                    "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" style=\"fill:%s\"><title>",
                    px(x),
                    py(y),
                    s.color.c_str()) +
                esc(s.name + " at " + fmt_number(x) + ": " + fmt_number(y)) + "</title></circle>";
      }
    }
  }
  // Legend along the top.
  double lx = kLeft;
  for (const Series& s : series) {
    std::string style = "stroke:" + s.color + (s.dashed ? ";stroke-dasharray:6 4" : "");
    html += format(
        "<line class=\"series\" x1=\"%.1f\" y1=\"16\" x2=\"%.1f\" y2=\"16\" style=\"%s\"/>",
        lx,
        lx + 18,
        style.c_str());
    html +=
        format("<text class=\"legend\" x=\"%.1f\" y=\"20\">", lx + 22) + esc(s.name) + "</text>";
    lx += 34 + 6.5 * static_cast<double>(s.name.size());
  }
  return html + "</svg></figure>";
}

// ---------------------------------------------------------------------------------------------
// A run directory.

struct RunData {
  std::string dir;
  bool exists = false;
  std::optional<json> manifest;
  std::optional<std::vector<json>> metrics;
  std::optional<std::vector<json>> eval_pairs;
  std::optional<json> validate;
};

RunData load_run(const std::string& dir) {
  RunData run;
  run.dir = dir;
  std::error_code ec;
  run.exists = !dir.empty() && fs::is_directory(dir, ec);
  if (!run.exists)
    return run;
  run.manifest = read_json_file(dir + "/manifest.json");
  run.metrics = read_jsonl_file(dir + "/metrics.jsonl");
  run.eval_pairs = read_jsonl_file(dir + "/eval_pairs.jsonl");
  run.validate = read_json_file(dir + "/validate.json");
  return run;
}

// A run_dir named in a report: as written, else relative to the report's folder.
std::string resolve_run_dir(const std::string& report_path, const json* value) {
  if (value == nullptr || !value->is_string())
    return "";
  std::string dir = value->get<std::string>();
  std::error_code ec;
  if (dir.empty() || fs::is_directory(dir, ec))
    return dir;
  fs::path beside = fs::path(report_path).parent_path() / dir;
  if (fs::path(dir).is_relative() && fs::is_directory(beside, ec))
    return beside.string();
  return dir;
}

bool is_split(const json& row, const std::string& split) {
  const json* value = at(row, {"split"});
  std::string name = value != nullptr && value->is_string() ? value->get<std::string>() : "train";
  return name == split;
}

Series series_of(
    const RunData& run,
    const std::string& split,
    const std::string& key,
    const std::string& name,
    const std::string& color,
    bool dashed = false) {
  Series s{name, color, {}, dashed};
  if (!run.metrics)
    return s;
  size_t row_index = 0;
  for (const json& row : *run.metrics) {
    ++row_index;
    if (!is_split(row, split))
      continue;
    std::optional<double> y = number_of(row, key);
    if (!y)
      continue;
    std::optional<double> step = number_of(row, "step");
    s.points.emplace_back(step ? *step : static_cast<double>(row_index), *y);
  }
  return s;
}

std::vector<Marker> alarm_markers(const RunData& run) {
  std::vector<Marker> markers;
  if (!run.metrics)
    return markers;
  std::map<double, std::set<std::string>> by_step;
  for (const json& row : *run.metrics) {
    const json* alarms = at(row, {"alarms"});
    if (alarms == nullptr || !alarms->is_array() || alarms->empty())
      continue;
    double step = number_of(row, "step").value_or(0);
    for (const json& a : *alarms)
      by_step[step].insert(value_text(a));
  }
  for (const auto& [step, names] : by_step) {
    std::string label;
    for (const std::string& n : names)
      label += (label.empty() ? "" : ", ") + n;
    markers.push_back(Marker{step, label});
  }
  return markers;
}

const char* kTrainColor = "#1f77b4";
const char* kValColor = "#ff7f0e";
const char* kChosenColor = "#2ca02c";
const char* kRejectedColor = "#d62728";

std::string run_curves_html(const RunData& run) {
  if (!run.metrics)
    return kNotRecorded;
  std::vector<Marker> markers = alarm_markers(run);
  auto pair_chart =
      [&](const std::string& title, const std::string& key, const std::string& y_label) {
        return svg_chart(
            title,
            "step",
            y_label,
            {series_of(run, "train", key, "train", kTrainColor),
             series_of(run, "val", key, "val", kValColor)},
            markers);
      };
  std::string html = "<div class=\"charts\">";
  html += pair_chart("Loss", "loss", "loss");
  {
    std::vector<Series> s = {
        series_of(run, "train", "rewards/accuracies", "train", kTrainColor),
        series_of(run, "val", "rewards/accuracies", "val", kValColor)};
    // Chance level, for reading the accuracy against 0.5.
    Series chance{"chance", "#888888", {}, true};
    double lo = INFINITY, hi = -INFINITY;
    for (const Series& x : s) {
      for (const auto& p : x.points) {
        lo = std::min(lo, p.first);
        hi = std::max(hi, p.first);
      }
    }
    if (std::isfinite(lo))
      chance.points = {{lo, 0.5}, {hi, 0.5}};
    s.push_back(chance);
    html += svg_chart("Preference accuracy", "step", "accuracy", s, markers);
  }
  html += pair_chart("Reward margin (chosen - rejected)", "rewards/margins", "margin");
  html += svg_chart(
      "Rewards",
      "step",
      "reward",
      {series_of(run, "train", "rewards/chosen", "chosen (train)", kChosenColor),
       series_of(run, "train", "rewards/rejected", "rejected (train)", kRejectedColor),
       series_of(run, "val", "rewards/chosen", "chosen (val)", kChosenColor, true),
       series_of(run, "val", "rewards/rejected", "rejected (val)", kRejectedColor, true)},
      markers);
  html += svg_chart(
      "Log-probabilities (summed over completion tokens)",
      "step",
      "log-prob",
      {series_of(run, "train", "logps/chosen", "chosen (train)", kChosenColor),
       series_of(run, "train", "logps/rejected", "rejected (train)", kRejectedColor),
       series_of(run, "val", "logps/chosen", "chosen (val)", kChosenColor, true),
       series_of(run, "val", "logps/rejected", "rejected (val)", kRejectedColor, true)},
      markers);
  html += svg_chart(
      "Learning rate", "step", "lr", {series_of(run, "train", "lr", "lr", kTrainColor)}, markers);
  html += svg_chart(
      "Gradient norm (before clipping)",
      "step",
      "grad norm",
      {series_of(run, "train", "grad_norm", "grad_norm", kTrainColor)},
      markers);
  html += svg_chart(
      "Throughput",
      "step",
      "tokens/s",
      {series_of(run, "train", "tokens_per_s", "tokens/s", kTrainColor)},
      markers);
  return html + "</div>";
}

std::string run_alarms_html(const RunData& run) {
  if (!run.metrics)
    return kNotRecorded;
  std::vector<std::vector<std::string>> rows;
  for (const json& row : *run.metrics) {
    const json* alarms = at(row, {"alarms"});
    if (alarms == nullptr || !alarms->is_array())
      continue;
    for (const json& a : *alarms) {
      rows.push_back(
          {esc(field_text(&row, "step")),
           esc(field_text(&row, "split")),
           "<code>" + esc(value_text(a)) + "</code>"});
    }
  }
  if (rows.empty())
    return "<p>No divergence alarm fired.</p>";
  return table({"step", "split", "alarm"}, rows, "alarms");
}

// Key figures of a run, from its metrics.
std::vector<std::pair<std::string, std::string>> run_summary_rows(const RunData& run) {
  std::vector<std::pair<std::string, std::string>> rows;
  rows.emplace_back("run directory", run.dir.empty() ? "not recorded" : run.dir);
  if (!run.exists) {
    rows.emplace_back("status", "not recorded (the directory does not exist)");
    return rows;
  }
  if (!run.metrics) {
    rows.emplace_back("metrics.jsonl", "not recorded");
    return rows;
  }
  const json* last_train = nullptr;
  const json* last_val = nullptr;
  size_t train_rows = 0, val_rows = 0, non_finite = 0;
  double best_val = INFINITY, best_val_step = 0, seconds = 0, tokens_sum = 0;
  size_t tokens_count = 0;
  for (const json& row : *run.metrics) {
    bool val = is_split(row, "val");
    (val ? val_rows : train_rows) += 1;
    (val ? last_val : last_train) = &row;
    std::optional<double> loss = number_of(row, "loss");
    if (loss && !std::isfinite(*loss))
      ++non_finite;
    if (val && loss && std::isfinite(*loss) && *loss < best_val) {
      best_val = *loss;
      best_val_step = number_of(row, "step").value_or(0);
    }
    seconds = std::max(seconds, number_of(row, "seconds").value_or(0));
    std::optional<double> tps = number_of(row, "tokens_per_s");
    if (!val && tps && std::isfinite(*tps)) {
      tokens_sum += *tps;
      ++tokens_count;
    }
  }
  rows.emplace_back("logged rows", format("%zu train, %zu val", train_rows, val_rows));
  rows.emplace_back("last step", field_text(last_train ? last_train : last_val, "step"));
  rows.emplace_back("last epoch", field_text(last_train ? last_train : last_val, "epoch"));
  rows.emplace_back("train loss (last)", field_text(last_train, "loss"));
  rows.emplace_back("train accuracy (last)", field_text(last_train, "rewards/accuracies"));
  rows.emplace_back("val loss (last)", field_text(last_val, "loss"));
  rows.emplace_back("val accuracy (last)", field_text(last_val, "rewards/accuracies"));
  rows.emplace_back("val margin (last)", field_text(last_val, "rewards/margins"));
  rows.emplace_back(
      "best val loss",
      std::isfinite(best_val) ? fmt_number(best_val) + " at step " + fmt_number(best_val_step)
                              : "not recorded");
  rows.emplace_back("non-finite losses", std::to_string(non_finite));
  rows.emplace_back("elapsed seconds", seconds > 0 ? fmt_number(seconds) : "not recorded");
  rows.emplace_back(
      "mean tokens/s (train)",
      tokens_count ? fmt_number(tokens_sum / static_cast<double>(tokens_count)) : "not recorded");
  return rows;
}

std::string manifest_html(const RunData& run) {
  if (!run.manifest)
    return kNotRecorded;
  std::vector<std::pair<std::string, std::string>> rows;
  flatten(*run.manifest, "", rows);
  return kv_table(rows);
}

std::string worst_pairs_html(const RunData& run, const RunReportOptions& options) {
  if (!run.eval_pairs)
    return kNotRecorded;
  std::vector<const json*> pairs;
  size_t correct = 0, ties = 0;
  double margin_sum = 0;
  for (const json& pair : *run.eval_pairs) {
    std::optional<double> margin = number_of(pair, "margin");
    if (!margin || !std::isfinite(*margin))
      continue;
    pairs.push_back(&pair);
    margin_sum += *margin;
    correct += *margin > 0 ? 1 : 0;
    ties += *margin == 0 ? 1 : 0;
  }
  if (pairs.empty())
    return "<p>No held-out pair with a margin was recorded.</p>";
  std::stable_sort(pairs.begin(), pairs.end(), [](const json* a, const json* b) {
    return *number_of(*a, "margin") < *number_of(*b, "margin");
  });
  double n = static_cast<double>(pairs.size());
  std::string html =
      "<p>" +
      format(
          "%zu held-out pairs; accuracy %s (a tie counts half), mean margin %s.",
          pairs.size(),
          fmt_percent((correct + 0.5 * ties) / n).c_str(),
          fmt_number(margin_sum / n).c_str()) +
      " The pairs below have the most negative margins: the model prefers their rejected "
      "response most strongly, which is where mislabeled pairs tend to be.</p>";
  size_t shown = std::min(options.worst_pairs, pairs.size());
  for (size_t i = 0; i < shown; ++i) {
    const json& pair = *pairs[i];
    std::string source = field_text(&pair, "source_file");
    if (const json* line = at(pair, {"source_line"}))
      source += ":" + value_text(*line);
    html += "<div class=\"pair\"><div class=\"pair-head\">" + format("<b>#%zu</b> ", i + 1) +
            "margin <b>" + esc(field_text(&pair, "margin")) + "</b> &middot; id <code>" +
            esc(field_text(&pair, "id")) + "</code> &middot; pair " +
            esc(field_text(&pair, "pair_index")) + " &middot; " + esc(source) +
            " &middot; reward chosen " + esc(field_text(&pair, "reward_chosen")) + ", rejected " +
            esc(field_text(&pair, "reward_rejected")) + "</div><div class=\"texts\">";
    html += text_block(
        "prompt", conversation_text(at(pair, {"prompt"})), options.text_inline_max_chars);
    html += text_block(
        "chosen", conversation_text(at(pair, {"chosen"})), options.text_inline_max_chars);
    html += text_block(
        "rejected", conversation_text(at(pair, {"rejected"})), options.text_inline_max_chars);
    html += "</div></div>";
  }
  return html;
}

// ---------------------------------------------------------------------------------------------
// The data statistics of a `dpo validate --report` JSON.

std::string lengths_html(const json& stats) {
  std::vector<std::vector<std::string>> rows;
  for (const char* name :
       {"prompt_chars",
        "chosen_chars",
        "rejected_chars",
        "prompt_tokens",
        "chosen_tokens",
        "rejected_tokens"}) {
    const json* s = at(stats, {name});
    if (s == nullptr)
      continue;
    std::vector<std::string> row = {"<code>" + esc(name) + "</code>"};
    for (const char* key : {"count", "mean", "min", "p50", "p90", "p99", "max"}) {
      std::optional<double> v = number_of(*s, key);
      row.push_back(v ? fmt_number(*v) : "<span class=\"missing\">not recorded</span>");
    }
    rows.push_back(row);
  }
  if (rows.empty())
    return kNotRecorded;
  return table({"length", "count", "mean", "min", "p50", "p90", "p99", "max"}, rows, "num");
}

std::string balance_html(const json* balance) {
  if (balance == nullptr || !balance->is_object())
    return kNotRecorded;
  if (balance->empty())
    return "<p>No metadata fields.</p>";
  std::string html;
  for (auto key = balance->begin(); key != balance->end(); ++key) {
    double total = 0;
    for (const json& v : key.value())
      total += number_of(v, "pairs").value_or(0);
    std::vector<std::vector<std::string>> rows;
    for (auto value = key.value().begin(); value != key.value().end(); ++value) {
      double pairs = number_of(value.value(), "pairs").value_or(0);
      std::optional<double> longer = number_of(value.value(), "chosen_longer_fraction");
      rows.push_back(
          {esc(value.key()),
           fmt_number(pairs),
           fraction_bar(total > 0 ? pairs / total : 0) + " " +
               fmt_percent(total > 0 ? pairs / total : 0),
           longer ? fraction_bar(*longer) + " " + fmt_percent(*longer) : "not recorded"});
    }
    html += "<h4>metadata." + esc(key.key()) + "</h4>" +
            table({"value", "pairs", "share", "chosen longer"}, rows, "balance");
  }
  return html;
}

std::string validate_html(const json* v) {
  if (v == nullptr || !v->is_object())
    return kNotRecorded;
  std::string html;
  const json* passed = at(*v, {"verdict", "passed"});
  if (passed != nullptr && passed->is_boolean())
    html += "<p>Verdict: " + badge(passed->get<bool>(), "PASS", "FAIL") + "</p>";
  std::vector<std::pair<std::string, std::string>> counts;
  for (const char* key : {"rows", "pairs_ok", "rejected", "excluded", "errors", "warnings"}) {
    counts.emplace_back(key, field_text(v, key));
  }
  html += "<h4>Counts</h4>" + kv_table(counts);

  html += "<h4>Issues</h4>";
  const json* issues = at(*v, {"issues"});
  if (issues == nullptr || !issues->is_array()) {
    html += kNotRecorded;
  } else if (issues->empty()) {
    html += "<p>No issues.</p>";
  } else {
    std::vector<std::vector<std::string>> rows;
    for (const json& issue : *issues) {
      std::string examples;
      const json* list = at(issue, {"examples"});
      if (list != nullptr && list->is_array()) {
        size_t shown = 0;
        for (const json& e : *list) {
          if (shown++ == 3)
            break;
          std::string where = field_text(&e, "file");
          if (const json* line = at(e, {"line"}))
            where += ":" + value_text(*line);
          if (at(e, {"file"}) == nullptr)
            where = "dataset";
          examples += "<div>" + esc(where) +
                      (at(e, {"id"}) ? " (" + esc(field_text(&e, "id")) + ")" : "") + ": " +
                      esc(field_text(&e, "message")) + "</div>";
        }
      }
      std::string severity = field_text(&issue, "severity");
      rows.push_back(
          {"<code>" + esc(field_text(&issue, "code")) + "</code>",
           "<span class=\"sev-" + esc(severity) + "\">" + esc(severity) + "</span>",
           esc(field_text(&issue, "count")),
           esc(field_text(&issue, "description")),
           examples});
    }
    html += table({"code", "severity", "count", "description", "first examples"}, rows, "issues");
  }

  const json* stats = at(*v, {"stats"});
  html += "<h4>Lengths (characters; tokens when a tokenizer was given)</h4>";
  html += stats != nullptr ? lengths_html(*stats) : kNotRecorded;
  html += "<h4>Length balance and duplication</h4>";
  if (stats == nullptr) {
    html += kNotRecorded;
  } else {
    std::vector<std::vector<std::string>> rows;
    std::optional<double> longer = number_of(*stats, "chosen_longer_fraction");
    const json* range = at(*stats, {"length_bias_range"});
    double low = -1, high = -1;
    if (range != nullptr && range->is_array() && range->size() == 2 && (*range)[0].is_number() &&
        (*range)[1].is_number()) {
      low = (*range)[0].get<double>();
      high = (*range)[1].get<double>();
    }
    rows.push_back(
        {"chosen response longer",
         longer ? fraction_bar(*longer, low, high) + " " + fmt_percent(*longer) +
                      (low >= 0 ? " (allowed " + fmt_percent(low) + " to " + fmt_percent(high) + ")"
                                : "")
                : "not recorded"});
    std::optional<double> dup = number_of(*stats, "prompt_duplication_rate");
    rows.push_back({"prompt duplication rate", dup ? fmt_percent(*dup) : "not recorded"});
    rows.push_back({"unique prompts", esc(field_text(stats, "unique_prompts"))});
    rows.push_back({"multi-turn prompts", esc(field_text(stats, "multi_turn_pairs"))});
    html += table({"statistic", "value"}, rows, "kv");
  }
  html += "<h4>Split</h4>";
  const json* split = at(*v, {"split"});
  if (split == nullptr) {
    html += kNotRecorded;
  } else {
    std::vector<std::pair<std::string, std::string>> rows;
    flatten(*split, "", rows);
    html += kv_table(rows);
  }
  html += "<h4>Metadata balance</h4>" +
          balance_html(stats ? at(*stats, {"metadata_balance"}) : nullptr);
  const json* files = at(*v, {"files"});
  if (files != nullptr && files->is_array()) {
    std::vector<std::vector<std::string>> rows;
    for (const json& f : *files) {
      rows.push_back(
          {esc(field_text(&f, "path")),
           esc(field_text(&f, "format")),
           esc(field_text(&f, "layout")),
           esc(field_text(&f, "rows")),
           esc(field_text(&f, "bytes"))});
    }
    html += "<h4>Files</h4>" + table({"path", "format", "layout", "rows", "bytes"}, rows);
  }
  return html;
}

// ---------------------------------------------------------------------------------------------
// The dataset diff of `dpo compare` (data/dataset_diff.h's JSON).

std::string location_text(const json* where) {
  if (where == nullptr)
    return "";
  std::string text = field_text(where, "file") + ":" + field_text(where, "line");
  if (const json* id = at(*where, {"id"}))
    text += " (" + value_text(*id) + ")";
  return text;
}

std::string dataset_diff_html(const json* d) {
  if (d == nullptr || !d->is_object())
    return kNotRecorded;
  std::string html;
  const json* regression = at(*d, {"data_regression"});
  if (regression != nullptr && regression->is_boolean()) {
    html += "<p>Data verdict: " +
            badge(!regression->get<bool>(), "no data regression", "DATA REGRESSION") + "</p>";
  }
  const json* reasons = at(*d, {"reasons"});
  if (reasons != nullptr && reasons->is_array() && !reasons->empty()) {
    html += "<ul class=\"reasons\">";
    for (const json& r : *reasons)
      html += "<li>" + esc(value_text(r)) + "</li>";
    html += "</ul>";
  }
  const json* pairs = at(*d, {"pairs"});
  html += "<h4>Pairs</h4>";
  if (pairs == nullptr) {
    html += kNotRecorded;
  } else {
    html += "<p>" + esc(field_text(pairs, "baseline_pairs")) + " baseline pairs, " +
            esc(field_text(pairs, "candidate_pairs")) + " candidate pairs; matched " +
            esc(field_text(pairs, "matched_by_id")) + " by id and " +
            esc(field_text(pairs, "matched_by_prompt")) + " by prompt.</p>";
    std::vector<std::vector<std::string>> rows;
    for (const char* name : {"added", "removed", "changed", "label_flips", "unchanged"}) {
      const json* category = at(*pairs, {name});
      std::string examples;
      const json* list = category ? at(*category, {"examples"}) : nullptr;
      if (list != nullptr && list->is_array()) {
        size_t shown = 0;
        for (const json& e : *list) {
          if (shown++ == 5)
            break;
          const json* b = at(e, {"baseline"});
          const json* c = at(e, {"candidate"});
          examples += "<div>" +
                      (b && c ? esc(location_text(b)) + " &rarr; " + esc(location_text(c))
                              : esc(location_text(b ? b : c))) +
                      "</div>";
        }
      }
      rows.push_back({esc(name), esc(field_text(category, "count")), examples});
    }
    html += table({"category", "count", "examples (file:line)"}, rows, "pairs");
  }
  const json* deltas = at(*d, {"validation", "deltas"});
  html += "<h4>Validation counts and statistics</h4>";
  const json* counts = deltas ? at(*deltas, {"counts"}) : nullptr;
  if (counts == nullptr || !counts->is_object()) {
    html += kNotRecorded;
  } else {
    std::vector<std::vector<std::string>> rows;
    for (auto it = counts->begin(); it != counts->end(); ++it) {
      double delta = number_of(it.value(), "delta").value_or(0);
      rows.push_back(
          {"<code>" + esc(it.key()) + "</code>",
           esc(field_text(&it.value(), "baseline")),
           esc(field_text(&it.value(), "candidate")),
           std::string(delta != 0 ? "<b>" : "") + esc(fmt_delta(delta)) +
               (delta != 0 ? "</b>" : "")});
    }
    html += table({"figure", "baseline", "candidate", "delta"}, rows, "num");
  }
  html += "<h4>Issue codes (those present in either version)</h4>";
  const json* issues = deltas ? at(*deltas, {"issues"}) : nullptr;
  if (issues == nullptr || !issues->is_array()) {
    html += kNotRecorded;
  } else {
    std::vector<std::vector<std::string>> rows;
    for (const json& issue : *issues) {
      double base = number_of(issue, "baseline").value_or(0),
             cand = number_of(issue, "candidate").value_or(0);
      if (base == 0 && cand == 0)
        continue;
      bool worse = cand > base && field_text(&issue, "severity") == "error";
      rows.push_back(
          {"<code>" + esc(field_text(&issue, "code")) + "</code>",
           esc(field_text(&issue, "severity")),
           fmt_number(base),
           fmt_number(cand),
           (worse ? "<b class=\"worse\">" : "<span>") + esc(fmt_delta(cand - base)) +
               (worse ? "</b>" : "</span>")});
    }
    html += rows.empty()
                ? "<p>No issues in either version.</p>"
                : table({"code", "severity", "baseline", "candidate", "delta"}, rows, "num");
  }
  html += "<h4>Metadata balance</h4>";
  const json* balance = deltas ? at(*deltas, {"metadata_balance"}) : nullptr;
  if (balance == nullptr || !balance->is_object()) {
    html += kNotRecorded;
  } else if (balance->empty()) {
    html += "<p>No metadata fields.</p>";
  } else {
    std::vector<std::vector<std::string>> rows;
    for (auto key = balance->begin(); key != balance->end(); ++key) {
      for (auto value = key.value().begin(); value != key.value().end(); ++value) {
        const json& b = value.value();
        rows.push_back(
            {"<code>" + esc(key.key()) + "</code>",
             esc(value.key()),
             esc(field_text(&b, "baseline_pairs")),
             esc(field_text(&b, "candidate_pairs")),
             esc(fmt_delta(number_of(b, "delta_pairs").value_or(0))),
             esc(field_text(&b, "baseline_chosen_longer_fraction")),
             esc(field_text(&b, "candidate_chosen_longer_fraction"))});
      }
    }
    html += table(
        {"key",
         "value",
         "baseline pairs",
         "candidate pairs",
         "delta",
         "chosen longer (baseline)",
         "chosen longer (candidate)"},
        rows,
        "num");
  }
  html += "<h4>Both versions side by side</h4><div class=\"side\"><div><h4>Baseline</h4>" +
          validate_html(at(*d, {"validation", "baseline"})) + "</div><div><h4>Candidate</h4>" +
          validate_html(at(*d, {"validation", "candidate"})) + "</div></div>";
  return html;
}

// ---------------------------------------------------------------------------------------------
// Pages.

class Page {
 public:
  void section(const std::string& id, const std::string& title, const std::string& body) {
    sections_.push_back({id, title, body});
  }
  std::string render(const std::string& title, const std::string& source) const;

 private:
  struct Section {
    std::string id, title, body;
  };
  std::vector<Section> sections_;
};

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

// The sections of one run, ids prefixed (for pages that hold several runs). `with_data` false
// leaves out the run's validate.json, for pages that show the data's validation already.
void add_run_sections(
    Page& page,
    const RunData& run,
    const RunReportOptions& options,
    const std::string& prefix,
    const std::string& title_prefix,
    bool with_data = true) {
  page.section(prefix + "summary", title_prefix + "Run summary", kv_table(run_summary_rows(run)));
  if (!run.exists)
    return;
  page.section(prefix + "curves", title_prefix + "Training curves", run_curves_html(run));
  page.section(prefix + "alarms", title_prefix + "Divergence alarms", run_alarms_html(run));
  page.section(
      prefix + "worst-pairs",
      title_prefix + "Worst held-out pairs",
      worst_pairs_html(run, options));
  if (with_data) {
    page.section(
        prefix + "data",
        title_prefix + "Data (validate.json)",
        validate_html(run.validate ? &*run.validate : nullptr));
  }
  page.section(prefix + "manifest", title_prefix + "Manifest", manifest_html(run));
}

std::string criteria_html(const json& report) {
  const json* criteria = at(report, {"criteria"});
  if (criteria == nullptr || !criteria->is_array())
    return kNotRecorded;
  std::vector<std::vector<std::string>> rows;
  for (const json& c : *criteria) {
    const json* passed = at(c, {"passed"});
    std::string verdict = passed != nullptr && passed->is_boolean()
                              ? badge(passed->get<bool>(), "pass", "fail")
                              : "<span class=\"missing\">not recorded</span>";
    rows.push_back(
        {esc(field_text(&c, "name")),
         esc(field_text(&c, "value")),
         esc(field_text(&c, "threshold")),
         verdict,
         esc(field_text(&c, "detail"))});
  }
  return table({"criterion", "value", "threshold", "verdict", "detail"}, rows, "criteria");
}

// Top-level fields not shown elsewhere, flattened.
std::string other_fields_html(const json& report, const std::set<std::string>& shown) {
  std::vector<std::pair<std::string, std::string>> rows;
  for (auto it = report.begin(); it != report.end(); ++it) {
    if (shown.count(it.key()) == 0)
      flatten(it.value(), it.key(), rows);
  }
  return rows.empty() ? "<p>None.</p>" : kv_table(rows);
}

std::string render_check(
    const json& report, const std::string& path, const RunReportOptions& options) {
  Page page;
  const json* passed = at(report, {"passed"});
  std::string verdict = passed != nullptr && passed->is_boolean()
                            ? badge(passed->get<bool>(), "PASS", "FAIL")
                            : "<span class=\"missing\">not recorded</span>";
  page.section("verdict", "Verdict", "<p>" + verdict + "</p>" + criteria_html(report));
  page.section("validation", "Data validation", validate_html(at(report, {"validate"})));
  RunData run = load_run(resolve_run_dir(path, at(report, {"run_dir"})));
  // The run's validate.json is the same validation as the section above: shown once.
  add_run_sections(page, run, options, "run-", "", /*with_data=*/false);
  page.section(
      "other",
      "Other fields",
      other_fields_html(report, {"kind", "passed", "criteria", "validate", "run_dir"}));
  return page.render("dpo check report", path);
}

// Overlaid curves of two runs.
std::string overlay_charts(const RunData& base, const RunData& cand) {
  if (!base.metrics && !cand.metrics)
    return kNotRecorded;
  const char* kBase = "#1f77b4";
  const char* kCand = "#ff7f0e";
  std::string html = "<div class=\"charts\">";
  struct Spec {
    const char* title;
    const char* split;
    const char* key;
    const char* y_label;
  };
  for (const Spec& s :
       {Spec{"Val loss", "val", "loss", "loss"},
        Spec{"Val preference accuracy", "val", "rewards/accuracies", "accuracy"},
        Spec{"Val reward margin", "val", "rewards/margins", "margin"},
        Spec{"Train loss", "train", "loss", "loss"},
        Spec{"Train preference accuracy", "train", "rewards/accuracies", "accuracy"},
        Spec{"Val chosen log-prob", "val", "logps/chosen", "log-prob"}}) {
    html += svg_chart(
        s.title,
        "step",
        s.y_label,
        {series_of(base, s.split, s.key, "baseline", kBase),
         series_of(cand, s.split, s.key, "candidate", kCand)},
        {});
  }
  return html + "</div>";
}

// A table of the union of flattened keys of two objects, with numeric deltas.
std::string side_by_side_table(const json* a, const json* b) {
  if (a == nullptr && b == nullptr)
    return kNotRecorded;
  std::vector<std::pair<std::string, std::string>> fa, fb;
  if (a != nullptr)
    flatten(*a, "", fa);
  if (b != nullptr)
    flatten(*b, "", fb);
  std::vector<std::string> keys;
  std::map<std::string, std::pair<std::string, std::string>> values;
  for (const auto& [k, v] : fa) {
    if (!values.count(k))
      keys.push_back(k);
    values[k].first = v;
  }
  for (const auto& [k, v] : fb) {
    if (!values.count(k))
      keys.push_back(k);
    values[k].second = v;
  }
  std::vector<std::vector<std::string>> rows;
  for (const std::string& k : keys) {
    auto [x, y] = values[k];
    std::string delta;
    char* end_x = nullptr;
    char* end_y = nullptr;
    double dx = std::strtod(x.c_str(), &end_x), dy = std::strtod(y.c_str(), &end_y);
    if (!x.empty() && !y.empty() && *end_x == '\0' && *end_y == '\0')
      delta = fmt_delta(dy - dx);
    auto cell = [](const std::string& v) {
      return v.empty() ? std::string("<span class=\"missing\">not recorded</span>") : esc(v);
    };
    bool differs = x != y;
    rows.push_back(
        {"<code>" + esc(k) + "</code>",
         cell(x),
         cell(y),
         differs ? "<b>" + esc(delta.empty() ? "differs" : delta) + "</b>" : ""});
  }
  return table({"key", "baseline", "candidate", "delta"}, rows, "num");
}

std::string render_compare(
    const json& report, const std::string& path, const RunReportOptions& options) {
  Page page;
  const json* regression = at(report, {"regression"});
  std::string verdict = regression != nullptr && regression->is_boolean()
                            ? badge(!regression->get<bool>(), "no regression", "REGRESSION")
                            : "<span class=\"missing\">not recorded</span>";
  std::string body = "<p>" + verdict + "</p>";
  const json* reasons = at(report, {"reasons"});
  if (reasons != nullptr && reasons->is_array() && !reasons->empty()) {
    body += "<ul class=\"reasons\">";
    for (const json& r : *reasons)
      body += "<li>" + esc(value_text(r)) + "</li>";
    body += "</ul>";
  }
  page.section("verdict", "Verdict", body);
  page.section(
      "metrics",
      "Held-out metrics, baseline vs candidate",
      side_by_side_table(
          at(report, {"baseline", "metrics"}), at(report, {"candidate", "metrics"})));
  const json* noise = at(report, {"noise"});
  std::vector<std::pair<std::string, std::string>> noise_rows;
  if (noise != nullptr)
    flatten(*noise, "", noise_rows);
  page.section(
      "noise",
      "Run-to-run noise (two seeds on the baseline)",
      noise ? kv_table(noise_rows) : kNotRecorded);
  RunData base = load_run(resolve_run_dir(path, at(report, {"baseline", "run_dir"})));
  RunData cand = load_run(resolve_run_dir(path, at(report, {"candidate", "run_dir"})));
  page.section("curves", "Training curves, baseline vs candidate", overlay_charts(base, cand));
  page.section("data-diff", "Data diff", dataset_diff_html(at(report, {"data_diff"})));
  page.section(
      "runs",
      "Runs side by side",
      "<div class=\"side\"><div><h4>Baseline</h4>" + kv_table(run_summary_rows(base)) +
          run_alarms_html(base) + "</div><div><h4>Candidate</h4>" +
          kv_table(run_summary_rows(cand)) + run_alarms_html(cand) + "</div></div>");
  page.section(
      "worst-pairs",
      "Worst held-out pairs",
      "<div class=\"side\"><div><h4>Baseline</h4>" + worst_pairs_html(base, options) +
          "</div><div><h4>Candidate</h4>" + worst_pairs_html(cand, options) + "</div></div>");
  page.section(
      "manifests",
      "Manifests side by side",
      side_by_side_table(
          base.manifest ? &*base.manifest : nullptr, cand.manifest ? &*cand.manifest : nullptr));
  page.section(
      "other",
      "Other fields",
      other_fields_html(
          report,
          {"kind", "regression", "reasons", "data_diff", "baseline", "candidate", "noise"}));
  return page.render("dpo compare report", path);
}

std::string render_run_dir(const std::string& dir, const RunReportOptions& options) {
  Page page;
  RunData run = load_run(dir);
  add_run_sections(page, run, options, "", "");
  return page.render("dpo run report", dir);
}

}  // namespace

std::string render_run_report_html(const std::string& path, const RunReportOptions& options) {
  std::error_code ec;
  if (fs::is_directory(path, ec))
    return render_run_dir(path, options);
  std::optional<json> report = read_json_file(path);
  if (!report) {
    throw IoError(
        "report: '" + path + "' does not exist",
        "give a run directory (with metrics.jsonl) or a report written by dpo check / compare");
  }
  if (!report->is_object()) {
    throw DataError(
        "report: '" + path + "' holds no JSON object",
        "give a report written by dpo check / compare");
  }
  std::string kind = field_text(&*report, "kind");
  if (kind == "check")
    return render_check(*report, path, options);
  if (kind == "compare")
    return render_compare(*report, path, options);
  Page page;
  if (kind == "dataset_diff") {
    page.section("data-diff", "Data diff", dataset_diff_html(&*report));
    return page.render("dpo data diff", path);
  }
  if (at(*report, {"stats"}) != nullptr || at(*report, {"issues"}) != nullptr) {
    page.section("data", "Data validation", validate_html(&*report));
    return page.render("dpo validate report", path);
  }
  std::vector<std::pair<std::string, std::string>> rows;
  flatten(*report, "", rows);
  page.section("fields", "Fields", kv_table(rows));
  return page.render("dpo report", path);
}

}  // namespace dpo
