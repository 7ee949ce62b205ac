// The data sections of `dpo report`: the statistics of a `dpo validate --report` JSON (counts,
// issues, lengths, length balance, split, metadata balance, slices, reviewer agreement and
// reviewers, AI judgments and ages, files) and the dataset diff of
// `dpo compare` (pairs added, removed, changed and flipped; validation deltas; both versions).
#include "report/report_sections.h"

#include <algorithm>
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

// A two-column table whose cells are HTML already (kv_table escapes its values).
std::string html_kv_table(const std::vector<std::pair<std::string, std::string>>& kv) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& [key, value] : kv)
    rows.push_back({key, value});
  return table({"statistic", "value"}, rows, "kv");
}

std::string optional_number(const json* object, const char* key, bool percent) {
  if (object == nullptr)
    return "-";
  std::optional<double> v = number_of(*object, key);
  if (!v)
    return "-";
  return percent ? fmt_percent(*v) : fmt_number(*v);
}

std::string kappa_cell(const json* agreement) {
  if (agreement == nullptr)
    return "-";
  std::optional<double> items = number_of(*agreement, "items");
  if (!items || *items == 0)
    return "-";
  std::optional<double> kappa = number_of(*agreement, "kappa");
  return (kappa ? fmt_number(*kappa) : std::string("undefined")) + " (" + fmt_number(*items) +
         ", " + esc(field_text(agreement, "level")) + ")";
}

// One table per --slice-by key: pairs, share, length balance, labels, agreement, ages.
std::string slices_html(const json* slices) {
  if (slices == nullptr || !slices->is_array() || slices->empty())
    return "";
  std::string html = "<h4>Slices</h4>";
  for (const json& slice : *slices) {
    const json* values = at(slice, {"values"});
    if (values == nullptr || !values->is_array())
      continue;
    std::vector<std::vector<std::string>> rows;
    for (const json& v : *values) {
      std::optional<double> share = number_of(v, "share_of_pairs");
      std::optional<double> longer = number_of(v, "chosen_longer_fraction");
      rows.push_back(
          {esc(field_text(&v, "value")),
           esc(field_text(&v, "pairs")),
           share ? fraction_bar(*share) + " " + fmt_percent(*share) : "-",
           longer ? fraction_bar(*longer) + " " + fmt_percent(*longer) : "-",
           esc(field_text(&v, "equal_length")),
           esc(field_text(&v, "ties")),
           esc(field_text(&v, "both_bad")),
           esc(field_text(&v, "ai_judgments")),
           kappa_cell(at(v, {"agreement"})),
           optional_number(at(v, {"age_days"}), "median", false)});
    }
    html += "<h4>by <code>" + esc(field_text(&slice, "key")) + "</code></h4>" +
            table(
                {"value",
                 "pairs",
                 "share",
                 "chosen longer (unequal lengths)",
                 "equal length",
                 "ties",
                 "both bad",
                 "AI",
                 "kappa (items, level)",
                 "median age (days)"},
                rows,
                "balance");
  }
  return html;
}

// Reviewer agreement and the per-reviewer table, when the rows name reviewers.
std::string reviewers_html(const json& v) {
  const json* agreement = at(v, {"agreement"});
  const json* present = agreement ? at(*agreement, {"present"}) : nullptr;
  if (present == nullptr || !present->is_boolean() || !present->get<bool>())
    return "";
  std::string html = "<h4>Reviewer agreement</h4>";
  std::vector<std::pair<std::string, std::string>> kv = {
      {"reviewer field", "<code>" + esc(field_text(agreement, "reviewer_field")) + "</code>"},
      {"method", esc(field_text(agreement, "method"))},
      {"comparisons judged by several reviewers", esc(field_text(agreement, "items"))},
      {"of them with disagreeing judgments", esc(field_text(agreement, "disagreeing_items"))},
      {"kappa", kappa_cell(agreement)},
      {"observed / chance agreement",
       optional_number(agreement, "observed", true) + " / " +
           optional_number(agreement, "expected", true)}};
  if (const json* t = at(*agreement, {"thresholds"})) {
    kv.emplace_back(
        "thresholds",
        "strong &ge; " + optional_number(t, "strong", false) + ", warning below " +
            optional_number(t, "warning", false));
  }
  html += html_kv_table(kv);
  const json* disagreements = at(*agreement, {"disagreements"});
  if (disagreements != nullptr && disagreements->is_array() && !disagreements->empty()) {
    constexpr size_t kShown = 20;
    std::vector<std::vector<std::string>> rows;
    for (const json& item : *disagreements) {
      if (rows.size() == kShown)
        break;
      const json* judgments = at(item, {"judgments"});
      if (judgments == nullptr || !judgments->is_array())
        continue;
      std::string cells;
      for (const json& j : *judgments) {
        cells += "<div>" + esc(field_text(&j, "reviewer")) + ": " + esc(field_text(&j, "label")) +
                 " (" + esc(field_text(&j, "file")) + ":" + esc(field_text(&j, "line")) + ")</div>";
      }
      rows.push_back({std::to_string(rows.size() + 1), cells});
    }
    html += "<h4>Comparisons the reviewers disagree on (first " +
            std::to_string(std::min(kShown, disagreements->size())) + " of " +
            std::to_string(disagreements->size()) + " listed)</h4>" +
            table({"#", "judgments (reviewer: chosen response, in hash order)"}, rows);
  }
  const json* reviewers = at(v, {"reviewers"});
  if (reviewers != nullptr && reviewers->is_array() && !reviewers->empty()) {
    std::vector<std::vector<std::string>> rows;
    for (const json& r : *reviewers) {
      const json* flag = at(r, {"length_preference"});
      bool flagged = flag != nullptr && flag->is_boolean() && flag->get<bool>();
      rows.push_back(
          {esc(field_text(&r, "reviewer")) +
               (flagged ? " <span class=\"sev-warning\">length preference</span>" : ""),
           esc(field_text(&r, "judgments")),
           optional_number(&r, "chosen_longer_fraction", true),
           optional_number(&r, "others_chosen_longer_fraction", true),
           optional_number(&r, "tie_fraction", true),
           optional_number(&r, "both_bad_fraction", true),
           esc(field_text(&r, "ai_judgments")),
           optional_number(&r, "majority_agreement", true) + " of " +
               esc(field_text(&r, "majority_compared"))});
    }
    html += "<h4>Reviewers</h4>" + table(
                                       {"reviewer",
                                        "judgments",
                                        "chosen longer",
                                        "other reviewers",
                                        "ties",
                                        "both bad",
                                        "AI",
                                        "agrees with the others' majority"},
                                       rows,
                                       "balance");
  }
  return html;
}

// AI judgments and ages, when present.
std::string provenance_kv_html(const json& v) {
  std::vector<std::pair<std::string, std::string>> kv;
  const json* ai = at(v, {"ai_judgments"});
  std::optional<double> ai_count = ai ? number_of(*ai, "count") : std::nullopt;
  if (ai_count && *ai_count > 0) {
    kv.emplace_back(
        "AI judgments (<code>" + esc(field_text(ai, "field")) + "</code> = ai)",
        fmt_number(*ai_count) + ", excluded " + esc(field_text(ai, "excluded")));
  }
  const json* stale = at(v, {"staleness"});
  const json* present = stale ? at(*stale, {"present"}) : nullptr;
  if (present != nullptr && present->is_boolean() && present->get<bool>()) {
    const json* ages = at(*stale, {"age_days"});
    kv.emplace_back(
        "ages in days (<code>" + esc(field_text(stale, "field")) + "</code>, as of " +
            esc(field_text(stale, "as_of")) + ")",
        "min " + optional_number(ages, "min", false) + ", median " +
            optional_number(ages, "median", false) + ", max " +
            optional_number(ages, "max", false));
    kv.emplace_back(
        "older than " + optional_number(stale, "max_age_days", false) + " days",
        esc(field_text(ages, "older_than_max")) + " of " + esc(field_text(ages, "count")) +
            " dated pairs; " + esc(field_text(stale, "missing")) + " without a timestamp, " +
            esc(field_text(stale, "invalid")) + " invalid");
  }
  if (kv.empty())
    return "";
  return "<h4>Provenance</h4>" + html_kv_table(kv);
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
    if (const json* equal = at(*stats, {"equal_length"})) {
      rows.push_back(
          {"pairs of equal length (left out of the share above)", esc(value_text(*equal))});
    }
    std::optional<double> dup = number_of(*stats, "prompt_duplication_rate");
    rows.push_back({"prompt duplication rate", dup ? fmt_percent(*dup) : "not recorded"});
    rows.push_back({"unique prompts", esc(field_text(stats, "unique_prompts"))});
    if (const json* repeats = at(*stats, {"repeat_judgments"})) {
      rows.push_back(
          {"repeat judgments by another reviewer (left out of the duplication rate)",
           esc(value_text(*repeats))});
    }
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
  html += slices_html(at(*v, {"slices"}));
  html += reviewers_html(*v);
  html += provenance_kv_html(*v);
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
