// What `dpo validate` found: counts, every issue code with examples, dataset statistics and
// the split. Written as a readable summary for people and as JSON for machines.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "data/issue_codes.h"

namespace dpo {

struct IssueExample {
  uint32_t file_index = 0;
  uint64_t line = 0;
  int64_t index = -1;  // array index for JSON array files
  std::string id;      // the row's id when it has one
  std::string message;
};

struct IssueTally {
  uint64_t count = 0;
  std::vector<IssueExample> examples;  // the first few, in reading order
};

struct LengthSummary {
  uint64_t count = 0;
  double mean = 0;
  uint64_t min = 0;
  uint64_t p50 = 0;
  uint64_t p90 = 0;
  uint64_t p99 = 0;
  uint64_t max = 0;
};
// Summary of a list of lengths (sorts a copy); nearest-rank percentiles.
LengthSummary summarize_lengths(std::vector<uint32_t> lengths);

struct FileSummary {
  std::string path;
  std::string layout;  // "jsonl" | "json-array"
  bool compressed = false;
  bool byte_order_mark = false;
  std::string format;  // detected or forced data format
  uint64_t rows = 0;
  uint64_t blank_lines = 0;
  uint64_t bytes = 0;  // (decompressed) bytes read
};

struct BalanceCount {
  uint64_t pairs = 0;
  uint64_t chosen_longer = 0;
};

struct ValidationReport {
  std::vector<FileSummary> files;

  // rows == pairs_ok + rejected + excluded
  uint64_t rows = 0;
  uint64_t pairs_ok = 0;
  uint64_t rejected = 0;  // rows with at least one error
  uint64_t excluded = 0;  // ties and both-bad rows
  uint64_t errors = 0;    // error findings (a row can have several)
  uint64_t warnings = 0;  // warning findings
  std::array<IssueTally, kIssueCodeCount> issues;

  // Statistics over the accepted pairs.
  LengthSummary prompt_chars, chosen_chars, rejected_chars;
  bool has_tokens = false;
  LengthSummary prompt_tokens, chosen_tokens, rejected_tokens;
  uint64_t chosen_longer = 0;  // pairs whose chosen has more characters than rejected
  double chosen_longer_fraction = 0;
  double length_bias_low = 0.35;
  double length_bias_high = 0.65;
  uint64_t unique_prompts = 0;
  double prompt_duplication_rate = 0;   // 1 - unique prompts / pairs
  uint64_t multi_turn_pairs = 0;        // prompts with more than one user turn
  uint64_t near_identical_checked = 0;  // pairs whose lengths allowed the similarity check
  // metadata key -> value -> counts (at most 100 values per key, the rest under "(other)")
  std::map<std::string, std::map<std::string, BalanceCount>> metadata_balance;

  // The split of the accepted pairs.
  uint64_t seed = 0;
  double val_fraction = 0;
  uint64_t train_pairs = 0, val_pairs = 0;
  uint64_t train_prompts = 0, val_prompts = 0;
  uint64_t split_requested_by_rows = 0;

  double similarity_threshold = 0.95;
  double seconds = 0;

  // The verdict: passed when no row has an error (and, with fail_on_warnings, no warning).
  bool fail_on_warnings = false;
  bool passed = true;

  uint64_t count(IssueCode code) const {
    return issues[static_cast<int>(code)].count;
  }
};

// Serialises the report; `pretty` indents it.
std::string report_to_json(const ValidationReport& report, bool pretty = true);

// The stdout summary: files, counts, a table of codes with first examples, statistics, split.
std::string report_summary(const ValidationReport& report);

// "file.jsonl:12" or "file.json[3] (line 40)".
std::string describe_location(const ValidationReport& report, const IssueExample& example);

}  // namespace dpo
