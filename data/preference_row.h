// One preference pair as every input format is normalised to: a prompt conversation and two
// completions (chosen, rejected), plus the optional fields kept for reports.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/message.h"

namespace dpo {

// A row's judgment. Only `chosen` rows become training pairs; ties and both-bad rows are
// excluded and counted.
enum class Judgment { chosen, tie, both_bad };
const char* judgment_name(Judgment judgment);

// A split requested by the row itself (a `split` field); otherwise the prompt hash decides.
enum class RequestedSplit { none, train, val };

struct PreferenceRow {
  std::vector<Message> prompt;    // system and conversation turns, ending before the answer
  std::vector<Message> chosen;    // the preferred completion (assistant messages)
  std::vector<Message> rejected;  // the dispreferred completion
  std::string id;                 // the row's `id` field, empty when absent
  std::string metadata_json;      // the `metadata` object as JSON text, empty when absent
  // The other top-level fields (not prompt, chosen, id, metadata, ...: a `source` or `locale`
  // column) as one JSON object text, empty when there are none; kept in the prepared file so
  // that slices read the same fields in validate and eval.
  std::string fields_json;
  // Scalars of `metadata` (strings, numbers, booleans) as text, by path: "rubric", and inside
  // nested objects "review.rubric". For slices, balance per rubric or reviewer, provenance.
  std::vector<std::pair<std::string, std::string>> metadata_values;
  // The same for the other top-level fields: "source", "annotation.locale".
  std::vector<std::pair<std::string, std::string>> field_values;
  Judgment judgment = Judgment::chosen;
  std::optional<double> strength;
  RequestedSplit requested_split = RequestedSplit::none;

  void clear();
};

// Where a row came from, for messages and reports.
struct RowLocation {
  uint32_t file_index = 0;  // position of the file in the list given to the command
  uint64_t line = 0;        // 1-based line (where a JSON array element starts)
  int64_t index = -1;       // 0-based array index for JSON array files, -1 for JSONL
};

// Concatenated content of the messages (completion text of chosen/rejected).
std::string joined_content(const std::vector<Message>& messages);

}  // namespace dpo
