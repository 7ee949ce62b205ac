// The one JSON parser for the files dpo reads (configs, config.json, tokenizer_config.json,
// chat_template.json, special_tokens_map.json, trainer_state.json, the safetensors header, ...).
// Strict RFC 8259 with errors that say where and why: line and column, and the real reason
// ("duplicate key 'train.max_steps'", "lone surrogate \ud800", "unexpected byte 0xEF (a UTF-8
// BOM)"). Beyond nlohmann's own parser it refuses duplicate keys in any object (the last one
// would silently win), lone surrogates and numbers that overflow a double. A UTF-8 BOM at the
// very start is skipped (nlohmann and Python's utf-8-sig accept it); anywhere else it is an
// error. Only the forward declaration of nlohmann::json is seen here; callers that walk the value
// include <nlohmann/json.hpp> in their .cpp.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace dpo {

// Where and why a text is not acceptable JSON.
struct JsonProblem {
  uint64_t offset = 0;  // byte offset into the text
  uint64_t line = 1;    // 1-based (from JsonParseOptions::first_line); \n, \r\n, lone \r end one
  uint64_t column = 1;  // 1-based, in characters (an invalid byte counts as one)
  bool column_only = false;  // the text is one line: positions are written "column C"
  std::string reason;        // "duplicate key 'train.max_steps'", "unterminated string", ...
  std::string note;          // more context, e.g. "first at line 2, column 3"; may be empty

  // "<reason> at line L, column C" (or "at column C") plus " (<note>)" when there is one.
  std::string describe() const;
};

struct JsonParseOptions {
  bool allow_comments = false;   // // and /* */ comments (dpo's own config files)
  int max_depth = 512;           // nesting of arrays and objects; deeper is refused
  bool skip_leading_bom = true;  // a UTF-8 BOM at the very start is skipped (false: an error)
  uint64_t first_line = 1;       // the line number of the text's first line (a record in a file)
  // Write positions as "column C" when the text holds no line break (a JSONL record, whose line
  // the caller names).
  bool column_only_when_one_line = false;
};

// The line and column (as in JsonProblem, first line 1) of byte `offset` of `text`.
void json_text_position(std::string_view text, uint64_t offset, uint64_t& line, uint64_t& column);

// Checks `text` without building a value: nothing when it is acceptable, else the first problem.
std::optional<JsonProblem> find_json_problem(
    std::string_view text, const JsonParseOptions& options = {});

// Parses into `out`; false (and `problem` filled, `out` unspecified) when the text is refused.
bool parse_json_strict(
    std::string_view text,
    nlohmann::json& out,
    JsonProblem& problem,
    const JsonParseOptions& options = {});
bool parse_json_strict(
    std::string_view text,
    nlohmann::ordered_json& out,
    JsonProblem& problem,
    const JsonParseOptions& options = {});

// Which dpo error a refused text throws.
enum class JsonErrorKind { config, checkpoint, data, cache, io };

// How a refusal is worded: "<what>: <problem.describe()>" thrown as `kind` with `hint`.
struct JsonSource {
  JsonSource(
      std::string what_,
      JsonErrorKind kind_ = JsonErrorKind::config,
      std::string hint_ = "",
      JsonParseOptions options_ = {})
      : what(std::move(what_)), kind(kind_), hint(std::move(hint_)), options(options_) {}
  std::string what;  // e.g. "'m/config.json' is not valid JSON"
  JsonErrorKind kind = JsonErrorKind::config;
  std::string hint;
  JsonParseOptions options;
};

// Parse or throw the dpo error described by `source`.
nlohmann::json parse_json(std::string_view text, const JsonSource& source);
nlohmann::ordered_json parse_ordered_json(std::string_view text, const JsonSource& source);

// The common case of a model-folder file: throws ConfigError "'<file>' is not valid JSON:
// <reason> at line L, column C" with a hint.
nlohmann::json parse_json_file_text(std::string_view text, const std::string& file);

}  // namespace dpo
