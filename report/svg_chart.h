// Inline SVG line charts of the `dpo report` page: axes with "nice" ticks, axis labels, a
// legend, polylines (broken at non-finite values), dots where the points are few, and vertical
// alarm markers. No JavaScript: hover text is SVG <title>.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace dpo::report_html {

struct Series {
  std::string name;
  std::string color;
  std::vector<std::pair<double, double>> points;  // (x, y); y NaN breaks the line
  bool dashed = false;
};

// A vertical line at `x` labelled with `label` (divergence alarms).
struct Marker {
  double x = 0;
  std::string label;
};

// A <figure> holding a 600x300 chart of `series`, or "not recorded" when no series has a
// finite point. Series longer than 2,000 points are thinned to every k-th point and the last.
std::string svg_chart(
    const std::string& title,
    const std::string& x_label,
    const std::string& y_label,
    std::vector<Series> series,
    const std::vector<Marker>& markers);

}  // namespace dpo::report_html
