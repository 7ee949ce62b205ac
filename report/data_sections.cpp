// The data sections of `dpo report`: the statistics of a `dpo validate --report` JSON (counts,
// issues, lengths, length balance, split, metadata balance, files) and the dataset diff of
// `dpo compare` (pairs added, removed, changed and flipped; validation deltas; both versions).
#include "report/report_sections.h"

#include <optional>

#include <nlohmann/json.hpp>

namespace dpo::report_html {

namespace {

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

std::string location_text(const json* where) {
  if (where == nullptr)
    return "";
  std::string text = field_text(where, "file") + ":" + field_text(where, "line");
  if (const json* id = at(*where, {"id"}))
    text += " (" + value_text(*id) + ")";
  return text;
}

}  // namespace

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

}  // namespace dpo::report_html
