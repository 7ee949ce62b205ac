// The page of a `dpo compare` report: the verdict and its reasons, held-out metrics and run
// manifests side by side, run-to-run noise, overlaid training curves of both runs, the data
// diff, both runs' summaries, alarms and worst pairs, and the report's other fields.
#include "report/report_sections.h"

#include <cstdlib>
#include <map>

#include <nlohmann/json.hpp>

namespace dpo::report_html {

namespace {

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

}  // namespace

std::string render_compare_page(
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
  body += warnings_html(at(report, {"warnings"}));
  page.section("verdict", "Verdict", body);
  if (const json* slices = at(report, {"slices"}))
    page.section("slices", "Held-out accuracy per slice", slice_comparisons_html(slices));
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
      side_by_side_table(base.manifest.get(), cand.manifest.get()));
  page.section(
      "other",
      "Other fields",
      other_fields_html(
          report,
          {"kind",
           "regression",
           "reasons",
           "data_diff",
           "baseline",
           "candidate",
           "noise",
           "slices",
           "warnings"}));
  return page.render("dpo compare report", path);
}

}  // namespace dpo::report_html
