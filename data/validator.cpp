#include "data/validator.h"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <unordered_map>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/format.h"
#include "core/hash.h"
#include "core/text.h"
#include "data/pair_key.h"
#include "data/provenance.h"
#include "data/record_reader.h"
#include "data/similarity.h"
#include "data/special_tokens_scan.h"

namespace dpo {

namespace {

constexpr size_t kMaxBalanceValuesPerKey = 100;

// Bits of PromptSplits.
constexpr uint8_t kInTrain = 1;
constexpr uint8_t kInVal = 2;

// The text of a completion: its one message, or the messages joined by newlines.
std::string_view completion_text(const std::vector<Message>& messages, std::string& scratch) {
  if (messages.size() == 1)
    return messages[0].content;
  scratch = joined_content(messages);
  return scratch;
}

size_t total_code_points(const std::vector<Message>& messages) {
  size_t total = 0;
  for (const Message& message : messages)
    total += count_code_points(message.content);
  return total;
}

uint32_t clamp32(size_t value) {
  return value > 0xFFFFFFFFu ? 0xFFFFFFFFu : static_cast<uint32_t>(value);
}

}  // namespace

struct DatasetValidator::State {
  ValidateOptions options;
  std::vector<std::string> files;
  ValidationReport report;
  SpecialTokenScanner scanner;

  std::unordered_map<Hash128, uint8_t, Hash128Hasher> prompt_splits;
  // Duplicates, conflicts, reviewers, slices and ages.
  ProvenanceTracker provenance;
  std::vector<uint32_t> prompt_chars, chosen_chars, rejected_chars;
  std::vector<uint32_t> prompt_tokens, chosen_tokens, rejected_tokens;

  std::unique_ptr<AtomicFile> rejects_file;
  FILE* rejects = nullptr;

  // Scratch buffers reused across rows.
  std::string chosen_scratch, rejected_scratch;
  std::vector<RowError> row_errors;
  PairKeyHasher keys;

  State(const ValidateOptions& opts, std::vector<std::string> paths)
      : options(opts),
        files(std::move(paths)),
        scanner(opts.extra_special_tokens),
        provenance(
            opts.provenance,
            [this](IssueCode code, const RowLocation& where, const std::string& id, std::string m) {
              record(code, where, id, std::move(m));
            },
            [this](const RowLocation& where) { return describe(where); },
            files) {
    report.files.resize(files.size());
    for (size_t i = 0; i < files.size(); ++i)
      report.files[i].path = files[i];
    report.seed = options.seed;
    report.val_fraction = options.val_fraction;
    report.similarity_threshold = options.similarity_threshold;
    report.length_bias_low = options.length_bias_low;
    report.length_bias_high = options.length_bias_high;
    report.length_bias_min_pairs = options.length_bias_min_pairs;
    report.has_tokens = static_cast<bool>(options.count_tokens);
    if (!options.rejects_path.empty()) {
      rejects_file = std::make_unique<AtomicFile>(options.rejects_path);
      rejects = std::fopen(rejects_file->temp_path().c_str(), "wb");
      if (rejects == nullptr) {
        throw IoError(errno_message("cannot create '" + rejects_file->temp_path() + "'", errno));
      }
    }
  }

  ~State() {
    if (rejects != nullptr)
      std::fclose(rejects);
  }

  void record(
      IssueCode code, const RowLocation& where, const std::string& id, std::string message) {
    IssueTally& tally = report.issues[static_cast<int>(code)];
    ++tally.count;
    if (issue_severity(code) == Severity::error) {
      ++report.errors;
    } else {
      ++report.warnings;
    }
    if (tally.examples.size() < options.max_examples) {
      tally.examples.push_back(
          IssueExample{where.file_index, where.line, where.index, id, std::move(message)});
    }
  }

  // "file.jsonl:12" or "file.json[3] (line 40)".
  std::string describe(const RowLocation& where) const {
    const std::string& path = files[where.file_index];
    if (where.index >= 0) {
      return path + "[" + std::to_string(where.index) + "] (line " + std::to_string(where.line) +
             ")";
    }
    return path + ":" + std::to_string(where.line);
  }

  // One JSON line per rejected or excluded row, for auditing.
  void write_reject(
      const RowLocation& where,
      const std::string& id,
      const char* verdict,
      const std::vector<RowError>& reasons) {
    if (rejects == nullptr)
      return;
    std::string line = "{\"file\":" + json_quote(files[where.file_index]) +
                       ",\"line\":" + std::to_string(where.line);
    if (where.index >= 0)
      line += ",\"index\":" + std::to_string(where.index);
    if (!id.empty())
      line += ",\"id\":" + json_quote(id);
    line += ",\"verdict\":\"" + std::string(verdict) + "\",\"reasons\":[";
    for (size_t i = 0; i < reasons.size(); ++i) {
      if (i > 0)
        line += ",";
      line += "{\"code\":\"" + std::string(issue_name(reasons[i].code)) +
              "\",\"message\":" + json_quote(reasons[i].message) + "}";
    }
    line += "]}\n";
    if (std::fwrite(line.data(), 1, line.size(), rejects) != line.size()) {
      throw IoError("cannot write '" + rejects_file->temp_path() + "'");
    }
  }

  // Errors that make a parsed row unusable.
  void check_row_errors(
      const PreferenceRow& row, std::string_view chosen, std::string_view rejected) {
    row_errors.clear();
    // The prompt must hold a non-empty turn besides the system message, at its end.
    const Message* last_turn = nullptr;
    for (const Message& message : row.prompt) {
      if (message.role != "system")
        last_turn = &message;
    }
    if (last_turn == nullptr || is_blank(last_turn->content)) {
      row_errors.push_back(
          {IssueCode::empty_prompt,
           last_turn == nullptr ? "the prompt has no user turn"
                                : "the prompt's last turn is empty"});
    }
    for (size_t i = 1; i < row.prompt.size(); ++i) {
      if (row.prompt[i].role == "system") {
        row_errors.push_back(
            {IssueCode::bad_role_order,
             "a system message at prompt position " + std::to_string(i) + " (only first)"});
        break;
      }
    }
    if (!row.prompt.empty() && row.prompt.back().role == "assistant") {
      row_errors.push_back(
          {IssueCode::bad_role_order,
           "the prompt ends with an assistant turn, so the answer does not follow a user turn"});
    }
    check_completion_roles(row.chosen, "chosen");
    check_completion_roles(row.rejected, "rejected");
    bool chosen_empty = is_blank(chosen);
    bool rejected_empty = is_blank(rejected);
    if (chosen_empty)
      row_errors.push_back({IssueCode::empty_chosen, "the chosen response is empty"});
    if (rejected_empty) {
      row_errors.push_back({IssueCode::empty_rejected, "the rejected response is empty"});
    }
    if (!chosen_empty && !rejected_empty && trim_whitespace(chosen) == trim_whitespace(rejected)) {
      row_errors.push_back(
          {IssueCode::chosen_equals_rejected,
           "chosen and rejected are identical: \"" + excerpt_for_message(trim_whitespace(chosen)) +
               "\""});
    }
  }

  void check_completion_roles(const std::vector<Message>& completion, const char* name) {
    if (completion.empty())
      return;  // reported as empty
    for (size_t i = 0; i < completion.size(); ++i) {
      const std::string& role = completion[i].role;
      bool allowed = role == "assistant" || (role == "tool" && i > 0 && i + 1 < completion.size());
      if (!allowed) {
        row_errors.push_back(
            {IssueCode::bad_role_order,
             std::string(name) + "[" + std::to_string(i) + "] is from '" + role +
                 "'; a completion is the assistant's"});
        return;
      }
    }
  }

  // The first special token found in any message; false when none.
  bool find_special_token(const PreferenceRow& row, std::string& where) {
    const std::pair<const char*, const std::vector<Message>*> parts[] = {
        {"prompt", &row.prompt}, {"chosen", &row.chosen}, {"rejected", &row.rejected}};
    for (const auto& [name, messages] : parts) {
      for (size_t i = 0; i < messages->size(); ++i) {
        std::string_view token = scanner.find((*messages)[i].content);
        if (!token.empty()) {
          where = "'" + std::string(token) + "' in " + name + "[" + std::to_string(i) + "].content";
          return true;
        }
      }
    }
    return false;
  }

  size_t count_tokens(const std::vector<Message>& messages) {
    size_t total = 0;
    for (const Message& message : messages) {
      total += options.count_tokens(message.content);
    }
    return total;
  }

  void add_balance(const PreferenceRow& row, bool chosen_longer) {
    for (const auto& [key, value] : row.metadata_values) {
      if (options.provenance.timestamp_field == "metadata." + key)
        continue;  // a time stamp is not a category (its ages are reported instead)
      auto& values = report.metadata_balance[key];
      auto it = values.find(value);
      if (it == values.end()) {
        it = values.size() < kMaxBalanceValuesPerKey
                 ? values.emplace(value, BalanceCount{}).first
                 : values.emplace("(other)", BalanceCount{}).first;
      }
      ++it->second.pairs;
      it->second.chosen_longer += chosen_longer ? 1 : 0;
    }
  }
};

DatasetValidator::DatasetValidator(const ValidateOptions& options, std::vector<std::string> files)
    : state_(std::make_unique<State>(options, std::move(files))) {
  if (!(options.val_fraction >= 0.0 && options.val_fraction < 1.0)) {
    throw UsageError(
        "--val-fraction must be in [0, 1), got " + std::to_string(options.val_fraction));
  }
  if (!(options.similarity_threshold > 0.0 && options.similarity_threshold <= 1.0)) {
    throw UsageError(
        "--similarity-threshold must be in (0, 1], got " +
        std::to_string(options.similarity_threshold));
  }
}

DatasetValidator::~DatasetValidator() = default;

void DatasetValidator::add_rejected(
    const RowLocation& where, const std::string& id, const std::vector<RowError>& errors) {
  State& s = *state_;
  ++s.report.rows;
  ++s.report.rejected;
  for (const RowError& error : errors)
    s.record(error.code, where, id, error.message);
  s.write_reject(where, id, "rejected", errors);
}

bool DatasetValidator::add_row(const PreferenceRow& row, const RowLocation& where, Split* split) {
  State& s = *state_;
  ValidationReport& report = s.report;
  ++report.rows;

  std::string_view chosen = completion_text(row.chosen, s.chosen_scratch);
  std::string_view rejected = completion_text(row.rejected, s.rejected_scratch);
  s.check_row_errors(row, chosen, rejected);
  if (!s.row_errors.empty()) {
    ++report.rejected;
    for (const RowError& error : s.row_errors)
      s.record(error.code, where, row.id, error.message);
    s.write_reject(where, row.id, "rejected", s.row_errors);
    return false;
  }

  const PairHashes hashes = s.keys.hashes(row);
  const Hash128& prompt = hashes.prompt;
  const size_t chosen_chars = count_code_points(chosen);
  const size_t rejected_chars = count_code_points(rejected);
  if (s.options.provenance.exclude_ai_judgments && s.provenance.is_ai(row)) {
    // Left out on request: counted, listed in the rejects file, no warnings.
    s.provenance.add_excluded_ai();
    ++report.excluded;
    s.write_reject(where, row.id, "excluded_ai_judgment", {});
    return false;
  }

  std::string token_where;
  if (s.find_special_token(row, token_where)) {
    s.record(IssueCode::special_tokens_in_content, where, row.id, token_where);
  }
  double similarity = 0;
  if (similar_at_least(chosen, rejected, s.options.similarity_threshold, &similarity)) {
    s.record(
        IssueCode::near_identical_responses,
        where,
        row.id,
        format("chosen and rejected are %.1f%% similar", 100.0 * similarity));
  }
  // Cross-row checks (duplicates, conflicts, reviewer disagreement) and provenance.
  s.provenance.add(row, hashes, where, chosen_chars, rejected_chars);
  if (row.judgment != Judgment::chosen) {
    std::string message = std::string("judgment is '") + judgment_name(row.judgment) + "'";
    s.record(IssueCode::tie_or_both_bad, where, row.id, message + "; excluded from the pairs");
    ++report.excluded;
    s.write_reject(where, row.id, "excluded", {{IssueCode::tie_or_both_bad, message}});
    return false;
  }

  // The split: requested by the row, else by the prompt's hash.
  Split assigned = split_for_prompt(prompt, s.options.seed, s.options.val_fraction);
  if (row.requested_split != RequestedSplit::none) {
    assigned = row.requested_split == RequestedSplit::val ? Split::val : Split::train;
    ++report.split_requested_by_rows;
  }
  uint8_t& splits = s.prompt_splits[prompt];
  uint8_t bit = assigned == Split::train ? kInTrain : kInVal;
  uint8_t other = assigned == Split::train ? kInVal : kInTrain;
  if ((splits & other) != 0 && (splits & bit) == 0) {
    s.record(
        IssueCode::duplicate_prompt_across_splits,
        where,
        row.id,
        std::string("this prompt is also in the ") + (other == kInVal ? "val" : "train") +
            " split");
  }
  splits |= bit;
  if (assigned == Split::train) {
    ++report.train_pairs;
  } else {
    ++report.val_pairs;
  }

  // Statistics.
  ++report.pairs_ok;
  size_t prompt_chars = total_code_points(row.prompt);
  s.prompt_chars.push_back(clamp32(prompt_chars));
  s.chosen_chars.push_back(clamp32(chosen_chars));
  s.rejected_chars.push_back(clamp32(rejected_chars));
  bool chosen_longer = chosen_chars > rejected_chars;
  report.chosen_longer += chosen_longer ? 1 : 0;
  report.equal_length += chosen_chars == rejected_chars ? 1 : 0;
  size_t user_turns = 0;
  for (const Message& message : row.prompt)
    user_turns += message.role == "user" ? 1 : 0;
  report.multi_turn_pairs += user_turns > 1 ? 1 : 0;
  if (s.options.count_tokens) {
    s.prompt_tokens.push_back(clamp32(s.count_tokens(row.prompt)));
    s.chosen_tokens.push_back(clamp32(s.count_tokens(row.chosen)));
    s.rejected_tokens.push_back(clamp32(s.count_tokens(row.rejected)));
  }
  s.add_balance(row, chosen_longer);
  if (split != nullptr)
    *split = assigned;
  return true;
}

void DatasetValidator::set_file_summary(size_t file_index, const FileSummary& summary) {
  state_->report.files.at(file_index) = summary;
}

ValidationReport DatasetValidator::finish() {
  State& s = *state_;
  ValidationReport& report = s.report;
  report.prompt_chars = summarize_lengths(std::move(s.prompt_chars));
  report.chosen_chars = summarize_lengths(std::move(s.chosen_chars));
  report.rejected_chars = summarize_lengths(std::move(s.rejected_chars));
  if (s.options.count_tokens) {
    report.prompt_tokens = summarize_lengths(std::move(s.prompt_tokens));
    report.chosen_tokens = summarize_lengths(std::move(s.chosen_tokens));
    report.rejected_tokens = summarize_lengths(std::move(s.rejected_tokens));
  }
  report.unique_prompts = s.prompt_splits.size();
  for (const auto& [key, splits] : s.prompt_splits) {
    report.train_prompts += (splits & kInTrain) ? 1 : 0;
    report.val_prompts += (splits & kInVal) ? 1 : 0;
  }
  if (report.pairs_ok > 0) {
    report.chosen_longer_fraction =
        chosen_longer_share(report.pairs_ok, report.chosen_longer, report.equal_length);
    // Pairs of equal length say nothing about a verbosity bias; too few unequal pairs cannot
    // show one (5 of 5 happens by chance one time in 32).
    const uint64_t unequal = report.pairs_ok - report.equal_length;
    if (unequal >= report.length_bias_min_pairs &&
        (report.chosen_longer_fraction < report.length_bias_low ||
         report.chosen_longer_fraction > report.length_bias_high)) {
      std::string text = format(
          "the chosen response is longer in %.1f%% of %llu pairs of unequal length (allowed "
          "%.0f%%-%.0f%%; %llu pairs of equal length left out)",
          100.0 * report.chosen_longer_fraction,
          static_cast<unsigned long long>(unequal),
          100.0 * report.length_bias_low,
          100.0 * report.length_bias_high,
          static_cast<unsigned long long>(report.equal_length));
      s.record(IssueCode::length_bias, RowLocation{0, 0, -1}, "", std::move(text));
    }
  }
  s.provenance.finish(report);
  if (report.pairs_ok > report.repeat_judgments) {
    report.prompt_duplication_rate =
        1.0 - static_cast<double>(report.unique_prompts) /
                  static_cast<double>(report.pairs_ok - report.repeat_judgments);
  }
  report.fail_on_warnings = s.options.fail_on_warnings;
  // No row at all (an empty file, or blank lines only) is not a dataset that passes.
  report.passed =
      report.rows > 0 && report.errors == 0 && !(report.fail_on_warnings && report.warnings > 0);
  if (s.rejects != nullptr) {
    bool ok = std::fflush(s.rejects) == 0;
    ok = std::fclose(s.rejects) == 0 && ok;
    s.rejects = nullptr;
    if (!ok)
      throw IoError("cannot write '" + s.rejects_file->temp_path() + "'");
    s.rejects_file->commit();
  }
  return std::move(report);
}

ValidationReport validate_files(
    const std::vector<std::string>& files,
    const ValidateOptions& options,
    const AcceptedPairSink& sink) {
  auto start = std::chrono::steady_clock::now();
  if (files.empty())
    throw UsageError("no data files given");
  for (const std::string& path : files) {
    std::ifstream probe(path, std::ios::binary);
    if (!probe)
      throw IoError(errno_message("cannot open '" + path + "'", errno));
  }
  DatasetValidator validator(options, files);
  PreferenceRow row;
  std::vector<RowError> errors;
  Record record;
  for (size_t file_index = 0; file_index < files.size(); ++file_index) {
    RecordReader reader(files[file_index], options.max_record_bytes);
    RowParser parser(options.format, options.fields);
    FileSummary summary;
    summary.path = files[file_index];
    while (reader.next(record)) {
      ++summary.rows;
      RowLocation where{static_cast<uint32_t>(file_index), record.line, record.index};
      errors.clear();
      if (record.problem == RecordProblem::too_large) {
        errors.push_back(
            {IssueCode::record_too_large,
             "the record has " + std::to_string(record.size) + " bytes, over the cap of " +
                 std::to_string(options.max_record_bytes) + " (--max-record-bytes)"});
        validator.add_rejected(where, "", errors);
      } else if (record.problem == RecordProblem::malformed_array) {
        errors.push_back({IssueCode::invalid_json, record.problem_detail});
        validator.add_rejected(where, "", errors);
      } else if (parser.parse(record.text, row, errors, record.line)) {
        Split split;
        if (validator.add_row(row, where, &split) && sink)
          sink(row, where, split);
      } else {
        validator.add_rejected(where, row.id, errors);
      }
    }
    summary.layout = file_layout_name(reader.layout());
    summary.compressed = reader.compressed();
    summary.byte_order_mark = reader.had_byte_order_mark();
    summary.format = data_format_name(parser.format());
    summary.blank_lines = reader.blank_lines();
    summary.bytes = reader.bytes_consumed();
    validator.set_file_summary(file_index, summary);
  }
  ValidationReport report = validator.finish();
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace dpo
