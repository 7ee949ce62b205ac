// The SVG line chart of `dpo report` on its own: geometry, ticks, broken lines, thinning,
// markers and escaping. The plot area is 600x300 minus margins (left 66, right 16, top 34,
// bottom 46): x runs from 66 to 584 (518 wide), y from 254 (bottom) up to 34 (220 high).
#include "report/svg_chart.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

namespace dpo::report_html {
namespace {

size_t count_of(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1))
    ++n;
  return n;
}

// The text of every <text class="tick" ...>label</text>, in order.
std::vector<std::string> tick_labels(const std::string& svg) {
  std::vector<std::string> labels;
  const std::string open = "<text class=\"tick\"";
  for (size_t at = svg.find(open); at != std::string::npos; at = svg.find(open, at + 1)) {
    size_t start = svg.find('>', at) + 1;
    labels.push_back(svg.substr(start, svg.find('<', start) - start));
  }
  return labels;
}

// The points="..." of the n-th polyline.
std::string polyline_points(const std::string& svg, size_t n = 0) {
  size_t at = svg.find("<polyline");
  for (size_t i = 0; i < n && at != std::string::npos; ++i)
    at = svg.find("<polyline", at + 1);
  if (at == std::string::npos)
    return "";
  size_t start = svg.find("points=\"", at) + 8;
  return svg.substr(start, svg.find('"', start) - start);
}

TEST(SvgChart, TwoPointsSpanThePlotWithNiceTicks) {
  std::string svg =
      svg_chart("Loss", "step", "loss", {{"train", "#1f77b4", {{0, 0}, {10, 1}}}}, {});
  EXPECT_EQ(svg.rfind("<figure class=\"chart\"><figcaption>Loss</figcaption><svg", 0), 0u);
  EXPECT_NE(svg.find("viewBox=\"0 0 600 300\""), std::string::npos);
  // (0, 0) is the bottom-left corner, (10, 1) the top-right one.
  EXPECT_EQ(polyline_points(svg), "66.0,254.0 584.0,34.0");
  EXPECT_NE(svg.find("style=\"stroke:#1f77b4\""), std::string::npos);
  // y: range 1 / 5 ticks = 0.2; x: range 10 / 5 = 2. y ticks are drawn first.
  std::vector<std::string> expected = {
      "0", "0.2", "0.4", "0.6", "0.8", "1", "0", "2", "4", "6", "8", "10"};
  EXPECT_EQ(tick_labels(svg), expected);
  // Few points: each is a dot with its value as hover text.
  EXPECT_EQ(count_of(svg, "<circle"), 2u);
  EXPECT_NE(svg.find("<title>train at 10: 1</title></circle>"), std::string::npos);
  EXPECT_NE(svg.find(">step</text>"), std::string::npos);
  EXPECT_NE(svg.find(">loss</text>"), std::string::npos);
  EXPECT_NE(svg.find("<text class=\"legend\" x=\"88.0\" y=\"20\">train</text>"), std::string::npos);
  EXPECT_EQ(svg.find("class=\"alarm\""), std::string::npos);
  EXPECT_TRUE(svg.size() > 6 && svg.compare(svg.size() - 15, 15, "</svg></figure>") == 0);
}

TEST(SvgChart, WithoutAFinitePointItSaysNotRecorded) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  std::string svg =
      svg_chart("Loss", "step", "loss", {{"train", "#000", {{1, nan}}}, {"val", "#111", {}}}, {});
  EXPECT_EQ(
      svg,
      "<figure class=\"chart\"><figcaption>Loss</figcaption>"
      "<p class=\"missing\">not recorded</p></figure>");
}

TEST(SvgChart, NonFiniteValuesBreakTheLine) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  std::string svg = svg_chart(
      "Loss",
      "step",
      "loss",
      {{"train", "#000", {{0, 0}, {1, 1}, {2, nan}, {3, inf}, {4, 0}}}},
      {});
  EXPECT_EQ(count_of(svg, "<polyline"), 2u);
  EXPECT_EQ(polyline_points(svg, 0), "66.0,254.0 195.5,34.0");
  EXPECT_EQ(polyline_points(svg, 1), "584.0,254.0");
  EXPECT_EQ(count_of(svg, "<circle"), 3u);  // the finite points only
}

TEST(SvgChart, AFlatSeriesGetsARangeAroundItsValue) {
  // All y are 0: the range is padded to [-1, 1], step 0.5.
  std::string svg = svg_chart("Flat", "step", "y", {{"s", "#000", {{0, 0}, {10, 0}}}}, {});
  std::vector<std::string> labels = tick_labels(svg);
  ASSERT_GE(labels.size(), 5u);
  EXPECT_EQ(
      std::vector<std::string>(labels.begin(), labels.begin() + 5),
      (std::vector<std::string>{"-1", "-0.5", "0", "0.5", "1"}));
  EXPECT_EQ(polyline_points(svg), "66.0,144.0 584.0,144.0");  // y = 0 halfway up
}

TEST(SvgChart, ATickNearZeroReadsZero) {
  // Step 0.1 from -0.30000000000000004 adds up to -2.8e-17 at the middle tick: it reads "0".
  std::string svg = svg_chart("Margin", "step", "y", {{"s", "#000", {{0, -0.3}, {10, 0.3}}}}, {});
  std::vector<std::string> labels = tick_labels(svg);
  ASSERT_GE(labels.size(), 7u);
  EXPECT_EQ(
      std::vector<std::string>(labels.begin(), labels.begin() + 7),
      (std::vector<std::string>{"-0.3", "-0.2", "-0.1", "0", "0.1", "0.2", "0.3"}));
}

TEST(SvgChart, LongSeriesAreThinnedAndKeepTheirLastPoint) {
  // 4,500 points: stride ceil(4500 / 2000) = 3 keeps x = 0, 3, ..., 4497 (1,500 points), and
  // the last point (x = 4499) is added: 1,501. More than 60 points: no dots.
  Series s{"train", "#000", {}};
  for (int i = 0; i < 4500; ++i)
    s.points.emplace_back(i, i % 2);
  std::string svg = svg_chart("Long", "step", "y", {s}, {});
  std::string points = polyline_points(svg);
  EXPECT_EQ(count_of(points, " ") + 1, 1501u);
  // x = 4499 of an axis rounded up to 5000: 66 + 4499 / 5000 * 518 = 532.1; y = 1 is the top.
  EXPECT_EQ(points.substr(points.rfind(' ') + 1), "532.1,34.0");
  EXPECT_EQ(count_of(svg, "<circle"), 0u);
}

TEST(SvgChart, MarkersWidenTheAxisAndAreLabelled) {
  std::string svg = svg_chart(
      "Loss", "step", "loss", {{"val", "#000", {{0, 0}, {10, 1}}}}, {{20, "val_loss_rising"}});
  // The x axis now runs to 20 (step 5): the marker is at the right edge.
  EXPECT_NE(
      svg.find("<g class=\"alarm\"><title>step 20: val_loss_rising</title>"
               "<line x1=\"584.0\" y1=\"34.0\" x2=\"584.0\" y2=\"254.0\"/>"),
      std::string::npos);
  EXPECT_NE(svg.find(">val_loss_rising</text></g>"), std::string::npos);
  EXPECT_EQ(polyline_points(svg), "66.0,254.0 325.0,34.0");
}

TEST(SvgChart, TextIsEscapedAndDashedSeriesAreDashed) {
  std::string svg = svg_chart(
      "a<b", "x & y", "\"q\"", {{"<s>", "#2ca02c", {{0, 0}, {1, 1}}, /*dashed=*/true}}, {});
  EXPECT_NE(svg.find("<figcaption>a&lt;b</figcaption>"), std::string::npos);
  EXPECT_NE(svg.find("aria-label=\"a&lt;b\""), std::string::npos);
  EXPECT_NE(svg.find(">x &amp; y</text>"), std::string::npos);
  EXPECT_NE(svg.find("<title>&lt;s&gt;</title></polyline>"), std::string::npos);
  EXPECT_EQ(svg.find("<s>"), std::string::npos);
  EXPECT_EQ(count_of(svg, "stroke:#2ca02c;stroke-dasharray:6 4"), 2u);  // line and legend
}

}  // namespace
}  // namespace dpo::report_html
