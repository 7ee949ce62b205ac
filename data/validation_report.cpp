#include "data/validation_report.h"

#include <algorithm>
#include <ctime>
#include <nlohmann/json.hpp>

#include "core/build_info.h"
#include "core/format.h"

namespace dpo {

namespace {

using json = nlohmann::ordered_json;

json lengths_json(const LengthSummary& s) {
  return json{
      {"count", s.count},
      {"mean", s.mean},
      {"min", s.min},
      {"p50", s.p50},
      {"p90", s.p90},
      {"p99", s.p99},
      {"max", s.max}};
}

json ages_json(const AgeSummary& a) {
  return json{
      {"count", a.count},
      {"min", a.min_days},
      {"median", a.median_days},
      {"max", a.max_days},
      {"older_than_max", a.older_than_max}};
}

json agreement_json(const AgreementSummary& a, const ProvenanceOptions& o) {
  return json{
      {"method", a.method},
      {"items", a.items},
      {"judgments", a.judgments},
      {"disagreeing_items", a.disagreeing_items},
      {"observed", a.observed},
      {"expected", a.expected},
      {"kappa", a.defined ? json(a.kappa) : json(nullptr)},
      {"level", agreement_level(a, o.agreement_strong, o.agreement_warning)}};
}

std::string iso_date(double epoch_seconds) {
  time_t t = static_cast<time_t>(epoch_seconds);
  struct tm parts;
  gmtime_r(&t, &parts);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &parts);
  return text;
}

std::string plural(uint64_t n, const char* word) {
  return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
}

std::string kappa_text(const AgreementSummary& a) {
  if (a.items == 0)
    return "-";
  if (!a.defined)
    return format("undefined (%llu)", static_cast<unsigned long long>(a.items));
  return format("%.2f (%llu)", a.kappa, static_cast<unsigned long long>(a.items));
}

std::string percent(uint64_t part, uint64_t whole) {
  return whole ? format("%.1f%%", 100.0 * static_cast<double>(part) / static_cast<double>(whole))
               : std::string("-");
}

// Slices, agreement, reviewers, AI judgments and ages, when the data has them.
std::string provenance_summary(const ValidationReport& report) {
  const ProvenanceOptions& o = report.provenance;
  std::string out;
  for (const SliceTable& table : report.slices) {
    uint64_t total = 0;
    for (const auto& entry : table.values)
      total += entry.second.pairs;
    size_t width = table.key.size() + 7;
    for (const auto& entry : table.values)
      width = std::max(width, entry.first.size() + 2);
    out += format(
        "\n%-*s %7s %6s %9s %6s %5s %6s %4s %12s %8s\n",
        static_cast<int>(width),
        ("slice: " + table.key).c_str(),
        "pairs",
        "share",
        "ch.longer",
        "eq.len",
        "ties",
        "bothbd",
        "ai",
        "kappa(items)",
        "med.age");
    for (const auto& [value, st] : table.values) {
      out += format(
          "  %-*s %7llu %6s %9s %6llu %5llu %6llu %4llu %12s %8s\n",
          static_cast<int>(width - 2),
          value.c_str(),
          static_cast<unsigned long long>(st.pairs),
          percent(st.pairs, total).c_str(),
          percent(st.chosen_longer, st.pairs - st.equal_length).c_str(),
          static_cast<unsigned long long>(st.equal_length),
          static_cast<unsigned long long>(st.ties),
          static_cast<unsigned long long>(st.both_bad),
          static_cast<unsigned long long>(st.ai_judgments),
          kappa_text(st.agreement).c_str(),
          st.age.count ? format("%.0f d", st.age.median_days).c_str() : "-");
    }
  }
  if (report.has_reviewers) {
    const AgreementSummary& a = report.agreement;
    if (a.items == 0) {
      out += "\nagreement: no comparison was judged by two reviewers (" + o.reviewer_field + ")\n";
    } else {
      out += format(
          "\nagreement (%s): %s kappa %s over %llu comparisons judged by several reviewers, %llu "
          "disagree: %s (strong >= %.2f, warning below %.2f)\n",
          o.reviewer_field.c_str(),
          a.method == "cohen" ? "Cohen's" : "Fleiss'",
          a.defined ? format("%.3f", a.kappa).c_str() : "undefined",
          static_cast<unsigned long long>(a.items),
          static_cast<unsigned long long>(a.disagreeing_items),
          agreement_level(a, o.agreement_strong, o.agreement_warning),
          o.agreement_strong,
          o.agreement_warning);
    }
    size_t width = 8;
    for (const ReviewerStats& r : report.reviewers)
      width = std::max(width, r.reviewer.size());
    out += format(
        "%-*s %9s %9s %9s %6s %8s %4s %9s\n",
        static_cast<int>(width + 2),
        "reviewer",
        "judgments",
        "ch.longer",
        "others",
        "ties",
        "both_bad",
        "ai",
        "majority");
    for (const ReviewerStats& r : report.reviewers) {
      out += format(
          "  %-*s %9llu %9s %8.1f%% %6s %8s %4llu %9s%s\n",
          static_cast<int>(width),
          r.reviewer.c_str(),
          static_cast<unsigned long long>(r.judgments),
          percent(r.chosen_longer, r.pairs - r.equal_length).c_str(),
          100.0 * r.rest_chosen_longer,
          percent(r.ties, r.judgments).c_str(),
          percent(r.both_bad, r.judgments).c_str(),
          static_cast<unsigned long long>(r.ai_judgments),
          percent(r.majority_agrees, r.majority_compared).c_str(),
          r.length_preference ? "  <- length preference" : "");
    }
  }
  if (report.ai_judgments > 0) {
    out += format(
        "AI judgments (%s = ai): %llu%s\n",
        o.judge_field.c_str(),
        static_cast<unsigned long long>(report.ai_judgments),
        report.ai_excluded
            ? format(", %llu excluded", static_cast<unsigned long long>(report.ai_excluded)).c_str()
            : ", included (--exclude-ai-judgments leaves them out)");
  }
  if (report.has_timestamps) {
    out += format(
        "ages (%s, as of %s): ",
        o.timestamp_field.c_str(),
        o.as_of ? iso_date(*o.as_of).substr(0, 10).c_str() : "now");
    if (report.age.count == 0) {
      out += "no valid timestamp";
    } else {
      out += format(
          "%llu pairs, min %.0f, median %.0f, max %.0f days; %llu older than %.0f days",
          static_cast<unsigned long long>(report.age.count),
          report.age.min_days,
          report.age.median_days,
          report.age.max_days,
          static_cast<unsigned long long>(report.age.older_than_max),
          o.max_age_days);
    }
    if (report.timestamps_missing > 0)
      out += format(
          ", %llu without a timestamp", static_cast<unsigned long long>(report.timestamps_missing));
    if (report.timestamps_invalid > 0)
      out += format(", %llu invalid", static_cast<unsigned long long>(report.timestamps_invalid));
    out += "\n";
  }
  return out;
}

}  // namespace

LengthSummary summarize_lengths(std::vector<uint32_t> lengths) {
  LengthSummary s;
  s.count = lengths.size();
  if (lengths.empty())
    return s;
  std::sort(lengths.begin(), lengths.end());
  double total = 0;
  for (uint32_t n : lengths)
    total += n;
  s.mean = total / static_cast<double>(lengths.size());
  // Nearest rank: the smallest value with at least q of the values at or below it.
  auto rank = [&lengths](double q) {
    size_t k = static_cast<size_t>(q * static_cast<double>(lengths.size()) + 0.999999);
    return static_cast<uint64_t>(lengths[std::min(lengths.size() - 1, k > 0 ? k - 1 : 0)]);
  };
  s.min = lengths.front();
  s.p50 = rank(0.50);
  s.p90 = rank(0.90);
  s.p99 = rank(0.99);
  s.max = lengths.back();
  return s;
}

AgeSummary summarize_ages(std::vector<double> days, double max_age_days) {
  AgeSummary s;
  s.count = days.size();
  if (days.empty())
    return s;
  std::sort(days.begin(), days.end());
  s.min_days = days.front();
  s.max_days = days.back();
  size_t mid = days.size() / 2;
  s.median_days = days.size() % 2 == 1 ? days[mid] : 0.5 * (days[mid - 1] + days[mid]);
  for (double d : days)
    s.older_than_max += d > max_age_days ? 1 : 0;
  return s;
}

const char* agreement_level(const AgreementSummary& a, double strong, double warning) {
  if (!a.defined)
    return "undefined";
  if (a.kappa >= strong)
    return "strong";
  return a.kappa >= warning ? "moderate" : "weak";
}

double chosen_longer_share(uint64_t pairs, uint64_t chosen_longer, uint64_t equal_length) {
  uint64_t unequal = pairs - equal_length;
  return unequal > 0 ? static_cast<double>(chosen_longer) / static_cast<double>(unequal) : 0.0;
}

std::string describe_location(const ValidationReport& report, const IssueExample& example) {
  if (example.line == 0)
    return "(dataset)";
  const std::string& path =
      example.file_index < report.files.size() ? report.files[example.file_index].path : "?";
  if (example.index >= 0) {
    return path + "[" + std::to_string(example.index) + "] (line " + std::to_string(example.line) +
           ")";
  }
  return path + ":" + std::to_string(example.line);
}

std::string report_to_json(const ValidationReport& report, bool pretty) {
  json root;
  root["dpo_version"] = dpo_version();
  root["rows"] = report.rows;
  root["pairs_ok"] = report.pairs_ok;
  root["rejected"] = report.rejected;
  root["excluded"] = report.excluded;
  root["errors"] = report.errors;
  root["warnings"] = report.warnings;

  json files = json::array();
  for (const FileSummary& f : report.files) {
    files.push_back(json{
        {"path", f.path},
        {"layout", f.layout},
        {"compressed", f.compressed},
        {"byte_order_mark", f.byte_order_mark},
        {"format", f.format},
        {"rows", f.rows},
        {"blank_lines", f.blank_lines},
        {"bytes", f.bytes}});
  }
  root["files"] = files;

  json issues = json::array();
  for (int i = 0; i < kIssueCodeCount; ++i) {
    const IssueTally& tally = report.issues[i];
    if (tally.count == 0)
      continue;
    const IssueInfo& info = issue_info(static_cast<IssueCode>(i));
    json examples = json::array();
    for (const IssueExample& e : tally.examples) {
      json example;
      if (e.line > 0) {
        example["file"] = report.files.at(e.file_index).path;
        example["line"] = e.line;
        if (e.index >= 0)
          example["index"] = e.index;
      }
      if (!e.id.empty())
        example["id"] = e.id;
      example["message"] = e.message;
      examples.push_back(example);
    }
    issues.push_back(json{
        {"code", info.name},
        {"severity", severity_name(info.severity)},
        {"count", tally.count},
        {"description", info.description},
        {"examples", examples}});
  }
  root["issues"] = issues;

  json stats;
  stats["prompt_chars"] = lengths_json(report.prompt_chars);
  stats["chosen_chars"] = lengths_json(report.chosen_chars);
  stats["rejected_chars"] = lengths_json(report.rejected_chars);
  if (report.has_tokens) {
    stats["prompt_tokens"] = lengths_json(report.prompt_tokens);
    stats["chosen_tokens"] = lengths_json(report.chosen_tokens);
    stats["rejected_tokens"] = lengths_json(report.rejected_tokens);
  }
  stats["chosen_longer"] = report.chosen_longer;
  stats["equal_length"] = report.equal_length;
  stats["chosen_longer_fraction"] = report.chosen_longer_fraction;
  stats["length_bias_min_pairs"] = report.length_bias_min_pairs;
  stats["length_bias_range"] = json::array({report.length_bias_low, report.length_bias_high});
  stats["unique_prompts"] = report.unique_prompts;
  stats["prompt_duplication_rate"] = report.prompt_duplication_rate;
  stats["repeat_judgments"] = report.repeat_judgments;
  stats["multi_turn_pairs"] = report.multi_turn_pairs;
  stats["similarity_threshold"] = report.similarity_threshold;
  json balance = json::object();
  for (const auto& [key, values] : report.metadata_balance) {
    json per_value = json::object();
    for (const auto& [value, count] : values) {
      per_value[value] = json{
          {"pairs", count.pairs},
          {"chosen_longer_fraction",
           count.pairs ? static_cast<double>(count.chosen_longer) / static_cast<double>(count.pairs)
                       : 0.0}};
    }
    balance[key] = per_value;
  }
  stats["metadata_balance"] = balance;
  root["stats"] = stats;

  const ProvenanceOptions& o = report.provenance;
  json slices = json::array();
  for (const SliceTable& table : report.slices) {
    uint64_t total = 0;
    for (const auto& entry : table.values)
      total += entry.second.pairs;
    json values = json::array();
    for (const auto& [value, st] : table.values) {
      json v{
          {"value", value},
          {"judgments", st.judgments},
          {"pairs", st.pairs},
          {"share_of_pairs",
           total ? static_cast<double>(st.pairs) / static_cast<double>(total) : 0.0},
          {"chosen_longer", st.chosen_longer},
          {"equal_length", st.equal_length},
          {"chosen_longer_fraction",
           chosen_longer_share(st.pairs, st.chosen_longer, st.equal_length)},
          {"ties", st.ties},
          {"both_bad", st.both_bad},
          {"ai_judgments", st.ai_judgments}};
      if (report.has_timestamps)
        v["age_days"] = ages_json(st.age);
      if (report.has_reviewers)
        v["agreement"] = agreement_json(st.agreement, o);
      values.push_back(v);
    }
    slices.push_back(json{{"key", table.key}, {"values", values}});
  }
  root["slices"] = slices;

  json agreement = agreement_json(report.agreement, o);
  agreement["reviewer_field"] = o.reviewer_field;
  agreement["present"] = report.has_reviewers;
  agreement["thresholds"] = json{
      {"strong", o.agreement_strong},
      {"warning", o.agreement_warning},
      {"min_items", o.agreement_min_items}};
  json disagreements = json::array();
  for (const DisagreementItem& item : report.disagreements) {
    json judgments = json::array();
    for (const JudgmentRef& j : item.judgments) {
      json entry{
          {"reviewer", j.reviewer},
          {"label", j.label},
          {"file", report.files.at(j.file_index).path},
          {"line", j.line}};
      if (j.index >= 0)
        entry["index"] = j.index;
      if (!j.id.empty())
        entry["id"] = j.id;
      judgments.push_back(entry);
    }
    disagreements.push_back(json{{"judgments", judgments}});
  }
  agreement["disagreements"] = disagreements;
  root["agreement"] = agreement;
  json reviewers = json::array();
  for (const ReviewerStats& r : report.reviewers) {
    auto share = [&r](uint64_t n) {
      return r.judgments ? static_cast<double>(n) / static_cast<double>(r.judgments) : 0.0;
    };
    reviewers.push_back(json{
        {"reviewer", r.reviewer},
        {"judgments", r.judgments},
        {"pairs", r.pairs},
        {"chosen_longer", r.chosen_longer},
        {"equal_length", r.equal_length},
        {"chosen_longer_fraction", chosen_longer_share(r.pairs, r.chosen_longer, r.equal_length)},
        {"others_chosen_longer_fraction", r.rest_chosen_longer},
        {"tie_fraction", share(r.ties)},
        {"both_bad_fraction", share(r.both_bad)},
        {"ai_judgments", r.ai_judgments},
        {"majority_compared", r.majority_compared},
        {"majority_agreement",
         r.majority_compared ? json(
                                   static_cast<double>(r.majority_agrees) /
                                   static_cast<double>(r.majority_compared))
                             : json(nullptr)},
        {"length_preference", r.length_preference}});
  }
  root["reviewers"] = reviewers;
  root["ai_judgments"] = json{
      {"field", o.judge_field},
      {"value", "ai"},
      {"count", report.ai_judgments},
      {"excluded", report.ai_excluded}};
  root["staleness"] = json{
      {"field", o.timestamp_field},
      {"present", report.has_timestamps},
      {"as_of", o.as_of ? iso_date(*o.as_of) : ""},
      {"max_age_days", o.max_age_days},
      {"missing", report.timestamps_missing},
      {"invalid", report.timestamps_invalid},
      {"age_days", ages_json(report.age)}};

  root["split"] = json{
      {"seed", report.seed},
      {"val_fraction", report.val_fraction},
      {"train", json{{"pairs", report.train_pairs}, {"prompts", report.train_prompts}}},
      {"val", json{{"pairs", report.val_pairs}, {"prompts", report.val_prompts}}},
      {"requested_by_rows", report.split_requested_by_rows}};
  root["verdict"] =
      json{{"passed", report.passed}, {"fail_on", report.fail_on_warnings ? "warning" : "error"}};
  root["seconds"] = report.seconds;
  return pretty ? root.dump(2) + "\n" : root.dump() + "\n";
}

std::string report_summary(const ValidationReport& report) {
  std::string out;
  out += format(
      "%s in %s, read in %.2f s\n",
      plural(report.rows, "row").c_str(),
      plural(report.files.size(), "file").c_str(),
      report.seconds);
  size_t width = 0;
  for (const FileSummary& f : report.files)
    width = std::max(width, f.path.size());
  for (const FileSummary& f : report.files) {
    std::string layout = f.layout + (f.compressed ? "+gzip" : "");
    out += format(
        "  %-*s  %-14s %-15s %8llu rows",
        static_cast<int>(width),
        f.path.c_str(),
        layout.c_str(),
        f.format.c_str(),
        static_cast<unsigned long long>(f.rows));
    if (f.blank_lines > 0)
      out += ", " + plural(f.blank_lines, "blank line");
    if (f.byte_order_mark)
      out += ", byte order mark skipped";
    out += "\n";
  }
  out += format(
      "\nrows %llu = %llu pairs ok + %llu rejected + %llu excluded   (%s, %s)\n",
      static_cast<unsigned long long>(report.rows),
      static_cast<unsigned long long>(report.pairs_ok),
      static_cast<unsigned long long>(report.rejected),
      static_cast<unsigned long long>(report.excluded),
      plural(report.errors, "error").c_str(),
      plural(report.warnings, "warning").c_str());

  bool any = false;
  for (const IssueTally& tally : report.issues)
    any = any || tally.count > 0;
  if (any) {
    out += format("\n%-32s %-8s %7s  %s\n", "code", "severity", "count", "first example");
    for (int i = 0; i < kIssueCodeCount; ++i) {
      const IssueTally& tally = report.issues[i];
      if (tally.count == 0)
        continue;
      const IssueInfo& info = issue_info(static_cast<IssueCode>(i));
      std::string example;
      if (!tally.examples.empty()) {
        const IssueExample& e = tally.examples.front();
        example = describe_location(report, e);
        if (!e.id.empty())
          example += " (id " + e.id + ")";
        example += ": " + e.message;
      }
      out += format(
          "%-32s %-8s %7llu  %s\n",
          info.name,
          severity_name(info.severity),
          static_cast<unsigned long long>(tally.count),
          example.c_str());
    }
  }

  if (report.pairs_ok > 0) {
    out += format(
        "\n%-22s %8s %8s %8s %8s %8s\n",
        "lengths (characters)",
        "mean",
        "p50",
        "p90",
        "p99",
        "max");
    auto row = [&out](const char* name, const LengthSummary& s) {
      out += format(
          "  %-20s %8.1f %8llu %8llu %8llu %8llu\n",
          name,
          s.mean,
          static_cast<unsigned long long>(s.p50),
          static_cast<unsigned long long>(s.p90),
          static_cast<unsigned long long>(s.p99),
          static_cast<unsigned long long>(s.max));
    };
    row("prompt", report.prompt_chars);
    row("chosen", report.chosen_chars);
    row("rejected", report.rejected_chars);
    if (report.has_tokens) {
      out += format("%-22s\n", "lengths (tokens)");
      row("prompt", report.prompt_tokens);
      row("chosen", report.chosen_tokens);
      row("rejected", report.rejected_tokens);
    }
    if (report.equal_length == report.pairs_ok) {
      out += format(
          "chosen longer than rejected: no pair to judge, all %llu pairs have responses of "
          "equal length\n",
          static_cast<unsigned long long>(report.pairs_ok));
    } else {
      out += format(
          "chosen longer than rejected: %.1f%% of %llu pairs of unequal length (allowed "
          "%.0f%%-%.0f%%); %llu pairs of equal length counted apart\n",
          100.0 * report.chosen_longer_fraction,
          static_cast<unsigned long long>(report.pairs_ok - report.equal_length),
          100.0 * report.length_bias_low,
          100.0 * report.length_bias_high,
          static_cast<unsigned long long>(report.equal_length));
    }
    out += format(
        "prompts: %llu unique, duplication rate %.1f%%, %llu multi-turn pairs",
        static_cast<unsigned long long>(report.unique_prompts),
        100.0 * report.prompt_duplication_rate,
        static_cast<unsigned long long>(report.multi_turn_pairs));
    if (report.repeat_judgments > 0) {
      out += format(
          "; %llu repeat judgments of a comparison by another reviewer counted apart",
          static_cast<unsigned long long>(report.repeat_judgments));
    }
    out += "\n";
    for (const auto& [key, values] : report.metadata_balance) {
      out += "metadata." + key + ":";
      size_t shown = 0;
      for (const auto& [value, count] : values) {
        if (shown++ == 8) {
          out += format(" ... (%zu values)", values.size());
          break;
        }
        out += format(
            " %s %llu (%.0f%% chosen longer)",
            value.c_str(),
            static_cast<unsigned long long>(count.pairs),
            100.0 * static_cast<double>(count.chosen_longer) / static_cast<double>(count.pairs));
        if (shown < values.size() && shown < 8)
          out += ",";
      }
      out += "\n";
    }
  }
  out += format(
      "split (seed %llu, val fraction %.2f): train %llu pairs / %llu prompts, val %llu pairs / "
      "%llu prompts",
      static_cast<unsigned long long>(report.seed),
      report.val_fraction,
      static_cast<unsigned long long>(report.train_pairs),
      static_cast<unsigned long long>(report.train_prompts),
      static_cast<unsigned long long>(report.val_pairs),
      static_cast<unsigned long long>(report.val_prompts));
  if (report.split_requested_by_rows > 0) {
    out += format(
        " (%llu pairs placed by their 'split' field)",
        static_cast<unsigned long long>(report.split_requested_by_rows));
  }
  out += "\n";
  out += provenance_summary(report);
  return out;
}

}  // namespace dpo
