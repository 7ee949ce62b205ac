#include "data/validation_report.h"

#include <algorithm>
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

std::string plural(uint64_t n, const char* word) {
  return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
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
  stats["chosen_longer_fraction"] = report.chosen_longer_fraction;
  stats["length_bias_range"] = json::array({report.length_bias_low, report.length_bias_high});
  stats["unique_prompts"] = report.unique_prompts;
  stats["prompt_duplication_rate"] = report.prompt_duplication_rate;
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
    out += format(
        "chosen longer than rejected: %.1f%% of pairs (allowed %.0f%%-%.0f%%)\n",
        100.0 * report.chosen_longer_fraction,
        100.0 * report.length_bias_low,
        100.0 * report.length_bias_high);
    out += format(
        "prompts: %llu unique, duplication rate %.1f%%, %llu multi-turn pairs\n",
        static_cast<unsigned long long>(report.unique_prompts),
        100.0 * report.prompt_duplication_rate,
        static_cast<unsigned long long>(report.multi_turn_pairs));
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
  return out;
}

}  // namespace dpo
