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

// Ages in days relative to the reference date (--as-of); negative ages are in its future.
struct AgeSummary {
  uint64_t count = 0;
  double min_days = 0, median_days = 0, max_days = 0;
  uint64_t older_than_max = 0;  // older than max_age_days
};
// Summary of ages in days (sorts a copy); the median of an even count is the mean of the two
// middle values.
AgeSummary summarize_ages(std::vector<double> days, double max_age_days);

// Reviewer agreement over comparisons judged by at least two reviewers (data/agreement.h).
struct AgreementSummary {
  std::string method;  // "cohen" (exactly two reviewers), "fleiss" (more), "" (no items)
  uint64_t items = 0;  // comparisons with judgments from at least two reviewers
  uint64_t judgments = 0;
  uint64_t disagreeing_items = 0;  // items whose judgments are not all the same
  double observed = 0, expected = 0, kappa = 0;
  bool defined = false;  // false without items or when every judgment has one label
};
// One judgment of a comparison whose judgments disagree.
struct JudgmentRef {
  std::string reviewer;  // empty: no reviewer
  std::string label;     // "first" | "second" (which response, in hash order) | "tie" | "both_bad"
  uint32_t file_index = 0;
  uint64_t line = 0;
  int64_t index = -1;
  std::string id;
};
// A comparison judged differently by its reviewers, with every judgment, in reading order.
struct DisagreementItem {
  std::vector<JudgmentRef> judgments;
};
constexpr size_t kMaxListedDisagreements = 1000;

// "strong" (kappa >= strong), "moderate", "weak" (below warning) or "undefined".
const char* agreement_level(const AgreementSummary& a, double strong, double warning);

// One value of a slice key. Judgments are the non-rejected rows (pairs, ties, both-bad).
struct SliceStats {
  uint64_t judgments = 0;
  uint64_t pairs = 0;          // accepted pairs (judgment `chosen`)
  uint64_t chosen_longer = 0;  // pairs whose chosen has more characters than rejected
  uint64_t equal_length = 0;   // pairs whose two responses have the same number of characters
  uint64_t ties = 0, both_bad = 0;
  uint64_t ai_judgments = 0;
  AgeSummary age;
  AgreementSummary agreement;
};
// chosen_longer / (pairs - equal_length): ties in length say nothing about a bias; 0 when every
// pair ties.
double chosen_longer_share(uint64_t pairs, uint64_t chosen_longer, uint64_t equal_length);

struct SliceTable {
  std::string key;                                         // "metadata.locale", "source"
  std::vector<std::pair<std::string, SliceStats>> values;  // sorted by value; "(none)" too
};

struct ReviewerStats {
  std::string reviewer;
  uint64_t judgments = 0, pairs = 0, chosen_longer = 0, equal_length = 0;
  uint64_t ties = 0, both_bad = 0, ai_judgments = 0;
  // Judgments on items judged by others too, where the others have one most frequent label;
  // `agrees` of them match it.
  uint64_t majority_compared = 0, majority_agrees = 0;
  double rest_chosen_longer = 0;   // chosen_longer_share of every other reviewer's pairs
  bool length_preference = false;  // flagged reviewer_length_preference
};

// Where provenance lives in the rows and the thresholds of its warnings (docs/data-formats.md,
// "Slices, agreement and staleness"). Field names as in data/row_fields.h.
struct ProvenanceOptions {
  std::vector<std::string> slice_by;  // --slice-by keys
  std::string reviewer_field = "metadata.reviewer";
  // A row whose judge field is "ai" (any case) is an AI judgment; anything else, or no field,
  // is a human one.
  std::string judge_field = "metadata.judge";
  bool exclude_ai_judgments = false;
  std::string timestamp_field = "metadata.timestamp";
  std::optional<double> as_of;  // reference date, epoch seconds; nothing: now
  double max_age_days = 365;
  double agreement_strong = 0.7;      // kappa at or above: strong
  double agreement_warning = 0.5;     // kappa below: low_agreement
  uint64_t agreement_min_items = 10;  // fewer items: kappa reported, never a warning
  // reviewer_length_preference: the reviewer's chosen-longer share differs from the other
  // reviewers' by at least `gap`, by at least 3 standard errors (two-proportion z-test), over at
  // least `min_pairs` of the reviewer's pairs of unequal length.
  double length_preference_gap = 0.2;
  uint64_t length_preference_min_pairs = 20;
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
  uint64_t chosen_longer = 0;         // pairs whose chosen has more characters than rejected
  uint64_t equal_length = 0;          // pairs whose responses have the same number of characters
  double chosen_longer_fraction = 0;  // chosen_longer_share(): ties in length left out
  uint64_t length_bias_min_pairs = 20;
  double length_bias_low = 0.35;
  double length_bias_high = 0.65;
  uint64_t unique_prompts = 0;
  // Later judgments of a comparison by another named reviewer (double annotation): counted
  // apart from the duplication rate, which they would otherwise inflate by design.
  uint64_t repeat_judgments = 0;
  double prompt_duplication_rate = 0;   // 1 - unique prompts / (pairs - repeat judgments)
  uint64_t multi_turn_pairs = 0;        // prompts with more than one user turn
  uint64_t near_identical_checked = 0;  // pairs whose lengths allowed the similarity check
  // metadata key -> value -> counts (at most 100 values per key, the rest under "(other)")
  std::map<std::string, std::map<std::string, BalanceCount>> metadata_balance;

  // Provenance (data/provenance.h): slices, reviewer agreement, AI judgments, ages.
  ProvenanceOptions provenance;    // as_of filled in
  std::vector<SliceTable> slices;  // one per --slice-by key, in the given order
  bool has_reviewers = false;      // some row has the reviewer field
  AgreementSummary agreement;
  // The comparisons whose reviewers disagree (the first kMaxListedDisagreements, by the line
  // of their first judgment).
  std::vector<DisagreementItem> disagreements;
  std::vector<ReviewerStats> reviewers;  // sorted by reviewer id
  uint64_t ai_judgments = 0;             // rows marked as AI judgments (before exclusion)
  uint64_t ai_excluded = 0;              // of them excluded (--exclude-ai-judgments)
  bool has_timestamps = false;           // some row has the timestamp field
  uint64_t timestamps_missing = 0;       // pairs without it (when some row has it)
  uint64_t timestamps_invalid = 0;       // unparseable or in the future (invalid_timestamp)
  AgeSummary age;                        // of the accepted pairs with a valid timestamp

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
