// The provenance half of `dpo validate`: slices, several judgments of one comparison (duplicates,
// conflicts, reviewer disagreement and agreement), reviewers, AI judgments and ages. The
// validator hands every non-rejected row to ProvenanceTracker::add and calls finish() at the
// end; the tracker fills the provenance parts of the report and records its issues.
//
// A comparison is a prompt (its matching key) and two responses in either order. Its judgments
// are labelled first / second (which of the two responses, in hash order, was chosen), tie or
// both_bad. Two judgments of a comparison:
//   the same label, the same reviewer (or none)          duplicate_pair
//   opposite labels, the same reviewer (or either none)  conflicting_pair
//   opposite labels, two named reviewers                 reviewer_disagreement (once per
//                                                        comparison), and kappa measures it
//   the same label, two named reviewers                  agreement: no warning
//
// Memory: a comparison judged once costs what the validator's pair table cost before provenance
// (a 64-byte hash-map block), plus a byte per slice key and, when it has a reviewer, its id's
// characters and 8 bytes; each later judgment about 150 bytes. docs/benchmarks.md, "Memory of
// `dpo validate` with provenance (issue 19)".
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "data/pair_key.h"
#include "data/preference_row.h"
#include "data/validation_report.h"

namespace dpo {

// Records one issue: a row's location, or {0, 0, -1} for the whole dataset.
using IssueRecorder = std::function<void(
    IssueCode code, const RowLocation& where, const std::string& id, std::string message)>;
// "file.jsonl:12" for a location (messages that point at an earlier row).
using LocationNamer = std::function<std::string(const RowLocation& where)>;

class ProvenanceTracker {
 public:
  // Throws UsageError for a field path that cannot name a field or a bad threshold. `files`:
  // the input files by index, for the slice key "source_file".
  ProvenanceTracker(
      const ProvenanceOptions& options,
      IssueRecorder record,
      LocationNamer name,
      std::vector<std::string> files = {});
  ~ProvenanceTracker();
  ProvenanceTracker(const ProvenanceTracker&) = delete;
  ProvenanceTracker& operator=(const ProvenanceTracker&) = delete;

  // True when the row's judge field marks it as an AI judgment.
  bool is_ai(const PreferenceRow& row) const;

  // One row that passed the row checks (a pair, tie or both-bad). `chosen_chars` and
  // `rejected_chars` are the completions' lengths in code points.
  void add(
      const PreferenceRow& row,
      const PairHashes& hashes,
      const RowLocation& where,
      size_t chosen_chars,
      size_t rejected_chars);

  // An AI judgment left out (--exclude-ai-judgments): counted only.
  void add_excluded_ai();

  // Fills report.provenance, slices, agreement, reviewers, AI counts and ages, and records the
  // dataset warnings (low_agreement, reviewer_length_preference, stale_pairs).
  void finish(ValidationReport& report);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace dpo
