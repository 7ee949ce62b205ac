// Inline SVG line charts of `dpo report`: the chart geometry, "nice" axis ticks, thinning of
// long series, polylines broken at non-finite values, dots, legend and alarm markers.
#include "report/svg_chart.h"

#include <algorithm>
#include <cmath>
#include <cstddef>

#include "core/format.h"
#include "report/html_page.h"

namespace dpo::report_html {

namespace {

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

}  // namespace

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

}  // namespace dpo::report_html
