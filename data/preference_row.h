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
  // Top-level scalar fields of `metadata` (strings, numbers, booleans) as text, for balance
  // statistics per source, rubric or reviewer.
  std::vector<std::pair<std::string, std::string>> metadata_values;
  // Top-level scalar fields that are not preference fields (a `source` or `locale` column), as
  // text, for slices (`--slice-by source`).
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
