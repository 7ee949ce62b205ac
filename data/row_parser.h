// Parses one JSON record into a PreferenceRow, for every accepted input format:
//   standard        {prompt: str, chosen: str, rejected: str}
//   conversational  {prompt: [messages], chosen: [assistant messages], rejected: [...]}
//   implicit        {chosen, rejected} only: whole conversations (message lists, or HH-RLHF
//                   "\n\nHuman: ...\n\nAssistant: ..." strings) sharing the prompt
//   sharegpt        {conversations: [{from, value}], chosen: {from, value}, rejected: {...}}
//   openai          {input: {messages}, preferred_output: [...], non_preferred_output: [...]}
// plus an optional `system` string, `id`, `metadata`, `preference`, `strength` and `split`.
// Message content may be a string or a list of text parts. The format is forced or detected
// from the first JSON object of a file; standard and conversational rows may mix.
// See docs/data-formats.md.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "data/issue_codes.h"
#include "data/preference_row.h"

namespace dpo {

enum class DataFormat { auto_detect, standard, conversational, implicit_prompt, sharegpt, openai };
const char* data_format_name(DataFormat format);
// "auto" | "standard" | "conversational" | "implicit" | "sharegpt" | "openai"; throws UsageError.
DataFormat parse_data_format(const std::string& name);

// The column names holding the canonical fields; `--fields prompt=question,chosen=response_j`
// renames them (for example for Stack Exchange paired data).
struct FieldNames {
  std::string prompt = "prompt";
  std::string chosen = "chosen";
  std::string rejected = "rejected";
  std::string system = "system";
  std::string id = "id";
  std::string metadata = "metadata";
  std::string preference = "preference";
  std::string strength = "strength";
  std::string split = "split";

  // "prompt=question,chosen=response_j,rejected=response_k"; throws UsageError on an unknown
  // canonical name or a malformed entry.
  static FieldNames parse(const std::string& spec);
};

struct RowError {
  IssueCode code;
  std::string message;
};

class RowParser {
 public:
  RowParser(DataFormat format, FieldNames fields);
  ~RowParser();
  RowParser(const RowParser&) = delete;
  RowParser& operator=(const RowParser&) = delete;

  // `record` must be followed by kRecordPadding readable bytes (as RecordReader provides).
  // Returns true and fills `row` when the record is a well-formed pair; otherwise appends
  // the reasons to `errors` (and `row` is unspecified). JSON problems are named with their
  // place: "at column C" for a one-line record, else "at line L, column C" with `first_line`
  // the record's line in its file (0: unknown, lines then count from the record's start).
  // A key given twice in any object is a duplicate_key error. Semantic checks (empty texts,
  // role order, duplicate pairs) are the validator's, except that a prompt with turns but no
  // user turn is a bad_role_order here.
  bool parse(
      std::string_view record,
      PreferenceRow& row,
      std::vector<RowError>& errors,
      uint64_t first_line = 0);

  // The forced format, or the one detected from the first JSON object (auto_detect before).
  DataFormat format() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A conversation given on its own (`dpo template render --messages`): a JSON array of messages
// or an object with a "messages" array. Each message is read exactly as in rows (role aliases
// such as human/gpt, content as a string or a list of text parts). `source` names the input in
// messages. Throws DataError naming the source and the offending field.
std::vector<Message> parse_conversation(std::string_view json, const std::string& source);

}  // namespace dpo
