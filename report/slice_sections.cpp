// The slice and provenance sections of `dpo report` (issue 19): held-out metrics per slice from
// a run's metrics.jsonl, the worst held-out pairs per slice with their provenance (eval_pairs
// .jsonl), the reference-margin informativeness of `dpo check`, and the per-slice verdicts of
// `dpo compare`.
#include <algorithm>
#include <cmath>
#include <map>

#include <nlohmann/json.hpp>

#include "core/format.h"
#include "report/report_sections.h"

namespace dpo::report_html {

namespace {

// Worst pairs listed per slice value.
constexpr size_t kWorstPerSlice = 3;

// The `slices` object of the last val line that has one.
const json* last_val_slices(const RunData& run) {
  if (!run.metrics)
    return nullptr;
  const json* last = nullptr;
  for (const json& row : *run.metrics) {
    const json* split = at(row, {"split"});
    const json* slices = at(row, {"slices"});
    if (split != nullptr && split->is_string() && split->get<std::string>() == "val" &&
        slices != nullptr && slices->is_object())
      last = slices;
  }
  return last;
}

std::string number_cell(const json& object, const char* key) {
  std::optional<double> value = number_of(object, key);
  return value ? fmt_number(*value) : "<span class=\"missing\">not recorded</span>";
}

std::string percent_cell(const json& object, const char* key) {
  std::optional<double> value = number_of(object, key);
  return value ? fmt_percent(*value) : "<span class=\"missing\">not recorded</span>";
}

// Rows of per-slice figures: {key, value, ...cells}.
std::string slice_metrics_table(const json& slices) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& [key, values] : slices.items()) {
    if (!values.is_object())
      continue;
    for (const auto& [value, m] : values.items()) {
      rows.push_back(
          {"<code>" + esc(key) + "</code>",
           esc(value),
           number_cell(m, "pairs"),
           number_cell(m, "loss"),
           percent_cell(m, "accuracy"),
           number_cell(m, "margin")});
    }
  }
  return table({"slice key", "value", "pairs", "loss", "accuracy", "margin"}, rows, "num");
}

// The metadata of an eval_pairs line as "key=value · key=value" (escaped); "" when none.
std::string metadata_line(const json& pair) {
  const json* metadata = at(pair, {"metadata"});
  if (metadata == nullptr || !metadata->is_object() || metadata->empty())
    return "";
  std::vector<std::pair<std::string, std::string>> fields;
  flatten(*metadata, "", fields);
  std::string out;
  for (const auto& [key, value] : fields)
    out += (out.empty() ? "" : " &middot; ") + esc(key) + "=<b>" + esc(value) + "</b>";
  return out;
}

}  // namespace

std::string provenance_html(const json& pair) {
  std::string line = metadata_line(pair);
  return line.empty() ? "" : "<div class=\"provenance\">provenance: " + line + "</div>";
}

bool run_has_slices(const RunData& run) {
  return last_val_slices(run) != nullptr;
}

std::string run_slices_html(const RunData& run) {
  const json* slices = last_val_slices(run);
  if (slices == nullptr)
    return "<p class=\"missing\">no slices (set data.slice_by or pass --slice-by)</p>";
  std::string html =
      "<p>Held-out loss, accuracy (a tie counts half) and margin per slice at the last "
      "evaluation.</p>" +
      slice_metrics_table(*slices);
  if (!run.eval_pairs)
    return html;
  // The worst pairs of each slice value, by margin, with their provenance.
  std::map<std::pair<std::string, std::string>, std::vector<const json*>> groups;
  for (const json& pair : *run.eval_pairs) {
    const json* pair_slices = at(pair, {"slices"});
    std::optional<double> margin = number_of(pair, "margin");
    if (pair_slices == nullptr || !pair_slices->is_object() || !margin || !std::isfinite(*margin))
      continue;
    for (const auto& [key, value] : pair_slices->items())
      groups[{key, value_text(value)}].push_back(&pair);
  }
  if (groups.empty())
    return html;
  std::vector<std::vector<std::string>> rows;
  for (auto& [slice, pairs] : groups) {
    std::stable_sort(pairs.begin(), pairs.end(), [](const json* a, const json* b) {
      return *number_of(*a, "margin") < *number_of(*b, "margin");
    });
    for (size_t i = 0; i < std::min(kWorstPerSlice, pairs.size()); ++i) {
      const json& pair = *pairs[i];
      std::string source = field_text(&pair, "source_file");
      if (const json* line = at(pair, {"source_line"}))
        source += ":" + value_text(*line);
      rows.push_back(
          {"<code>" + esc(slice.first) + "</code>",
           esc(slice.second),
           "<code>" + esc(field_text(&pair, "id")) + "</code>",
           number_cell(pair, "margin"),
           number_cell(pair, "reference_margin_per_token"),
           esc(source),
           metadata_line(pair)});
    }
  }
  html += "<h4>Worst held-out pairs per slice</h4><p>The " + std::to_string(kWorstPerSlice) +
          " most negative margins of each slice, with the provenance of each pair (who judged "
          "it, under which rubric).</p>" +
          table(
              {"slice key",
               "value",
               "id",
               "margin",
               "reference margin / token",
               "source",
               "provenance"},
              rows,
              "num");
  return html;
}

std::string slices_object_html(const json* slices) {
  if (slices == nullptr || !slices->is_object() || slices->empty())
    return kNotRecorded;
  return slice_metrics_table(*slices);
}

std::string informativeness_html(const json* info) {
  if (info == nullptr || !info->is_object())
    return kNotRecorded;
  auto row = [](const std::string& key, const std::string& value, const json& s) {
    return std::vector<std::string>{
        key.empty() ? "<b>all pairs</b>" : "<code>" + esc(key) + "</code>",
        esc(value),
        number_cell(s, "pairs"),
        percent_cell(s, "ranked_correctly_share"),
        percent_cell(s, "easy_share"),
        percent_cell(s, "ambiguous_share"),
        at(s, {"margin_per_token"}) ? number_cell(*at(s, {"margin_per_token"}), "p10") : "",
        at(s, {"margin_per_token"}) ? number_cell(*at(s, {"margin_per_token"}), "p50") : "",
        at(s, {"margin_per_token"}) ? number_cell(*at(s, {"margin_per_token"}), "p90") : "",
        number_cell(s, "mean_margin_summed")};
  };
  std::vector<std::vector<std::string>> rows = {row("", "", *info)};
  if (const json* slices = at(*info, {"slices"}); slices != nullptr && slices->is_object()) {
    for (const auto& [key, values] : slices->items()) {
      if (!values.is_object())
        continue;
      for (const auto& [value, s] : values.items())
        rows.push_back(row(key, value, s));
    }
  }
  std::string html =
      "<p>The reference model's margin on each pair: log-prob of the chosen response minus the "
      "rejected one, per token. <b>Ranked correctly</b>: margin &gt; 0. <b>Easy</b>: margin "
      "above " +
      field_text(info, "easy_margin") +
      " nats per token (the reference already prefers the chosen response clearly; DPO learns "
      "little). <b>Ambiguous</b>: within &plusmn;" +
      field_text(info, "ambiguous_margin") + " (noisy gradients).</p>";
  if (const json* bands = at(*info, {"bands"}); bands != nullptr && bands->is_array()) {
    const double pairs = number_of(*info, "pairs").value_or(0);
    std::vector<std::vector<std::string>> band_rows;
    for (const json& b : *bands) {
      const double n = number_of(b, "pairs").value_or(0);
      band_rows.push_back(
          {esc(field_text(&b, "band")),
           number_cell(b, "pairs"),
           pairs > 0 ? fraction_bar(n / pairs) + " " + fmt_percent(n / pairs) : ""});
    }
    html += "<h4>Distribution of the per-token margin (all pairs)</h4>" +
            table({"band", "pairs", "share"}, band_rows, "num");
  }
  return html + table(
                    {"slice key",
                     "value",
                     "pairs",
                     "ranked correctly",
                     "easy",
                     "ambiguous",
                     "p10 / token",
                     "p50 / token",
                     "p90 / token",
                     "mean summed"},
                    rows,
                    "num");
}

std::string slice_comparisons_html(const json* slices) {
  const json* comparisons = slices != nullptr ? at(*slices, {"comparisons"}) : nullptr;
  if (comparisons == nullptr || !comparisons->is_array())
    return kNotRecorded;
  std::vector<std::vector<std::string>> rows;
  for (const json& c : *comparisons) {
    const json* regression = at(c, {"regression"});
    const json* warning = at(c, {"warning"});
    std::string verdict = "ok";
    if (regression != nullptr && regression->is_boolean() && regression->get<bool>())
      verdict = badge(false, "", "REGRESSION");
    else if (warning != nullptr && warning->is_boolean() && warning->get<bool>())
      verdict = "dropped; too few pairs to judge";
    rows.push_back(
        {"<code>" + esc(field_text(&c, "key")) + "</code>",
         esc(field_text(&c, "value")),
         number_cell(c, "pairs"),
         percent_cell(c, "baseline_accuracy"),
         percent_cell(c, "candidate_accuracy"),
         number_cell(c, "drop"),
         number_cell(c, "standard_error"),
         number_cell(c, "allowed_drop"),
         verdict});
  }
  return "<p>A slice regresses when its held-out accuracy drops by more than " +
         field_text(slices, "noise_multiplier") +
         " standard errors of the difference of two proportions (pooled), and by more than "
         "compare.max_accuracy_drop; slices with fewer than " +
         field_text(slices, "min_pairs") + " pairs only warn.</p>" +
         table(
             {"slice key",
              "value",
              "pairs",
              "baseline",
              "candidate",
              "drop",
              "standard error",
              "allowed drop",
              "verdict"},
             rows,
             "num");
}

std::string warnings_html(const json* warnings) {
  if (warnings == nullptr || !warnings->is_array() || warnings->empty())
    return "";
  std::string html = "<ul class=\"warnings\">";
  for (const json& w : *warnings)
    html += "<li>warning: " + esc(value_text(w)) + "</li>";
  return html + "</ul>";
}

}  // namespace dpo::report_html
