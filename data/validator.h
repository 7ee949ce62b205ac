// The dataset checks of `dpo validate`. Rows are read one at a time (RecordReader), parsed
// (RowParser) and handed to DatasetValidator, which applies the row checks, remembers small
// per-row hashes for the cross-row checks (duplicates, conflicts, prompt splits) and gathers
// statistics. Memory grows by those hashes, three lengths per pair and, for the provenance
// statistics (data/provenance.h), about 80 bytes per judgment plus its id.
//
// Matching key of a text: runs of whitespace collapsed, ends trimmed, ASCII lower-cased
// (core/text.h). A prompt's key covers its roles and contents; it decides the split and the
// prompt duplication rate. Duplicate and conflicting pairs compare the prompt key and the exact
// trimmed completions. The keys are defined once, in pair_key.h (dpo compare uses them too).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "data/dataset_split.h"
#include "data/preference_row.h"
#include "data/row_parser.h"
#include "data/validation_report.h"

namespace dpo {

// Token count of one message's content, for token-length statistics. The data library does not
// know tokenizers: the caller passes one in (tokenizer/ builds it from a tokenizer.model).
using TokenCounter = std::function<size_t(const std::string& text)>;

struct ValidateOptions {
  DataFormat format = DataFormat::auto_detect;
  FieldNames fields;
  uint64_t max_record_bytes = 16ull << 20;
  double val_fraction = 0.15;
  uint64_t seed = 0;
  double similarity_threshold = 0.95;
  double length_bias_low = 0.35;
  double length_bias_high = 0.65;
  size_t max_examples = 5;
  // The verdict also fails on warnings (--fail-on warning).
  bool fail_on_warnings = false;
  // Optional: also report lengths in tokens, counted by this function.
  TokenCounter count_tokens;
  // Extra strings to flag as special tokens in content.
  std::vector<std::string> extra_special_tokens;
  // Optional: write one JSON line per rejected or excluded row with its reasons.
  std::string rejects_path;
  // length_bias needs at least this many pairs whose responses differ in length.
  uint64_t length_bias_min_pairs = 20;
  // Slices, reviewers, AI judgments, timestamps (data/provenance.h).
  ProvenanceOptions provenance;
};

// Checks and counts every row given to it; finish() produces the report.
class DatasetValidator {
 public:
  // `files` are the paths of the inputs, in order; examples refer to them by index.
  DatasetValidator(const ValidateOptions& options, std::vector<std::string> files);
  ~DatasetValidator();
  DatasetValidator(const DatasetValidator&) = delete;
  DatasetValidator& operator=(const DatasetValidator&) = delete;

  // A row that could not be parsed (or read): rejected with these errors.
  void add_rejected(
      const RowLocation& where, const std::string& id, const std::vector<RowError>& errors);

  // A parsed row. Returns true when it is accepted as a training pair; `split` then says
  // where it goes.
  bool add_row(const PreferenceRow& row, const RowLocation& where, Split* split);

  void set_file_summary(size_t file_index, const FileSummary& summary);

  ValidationReport finish();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Called for each accepted pair, in reading order (prepare tokenizes them).
using AcceptedPairSink =
    std::function<void(const PreferenceRow& row, const RowLocation& where, Split split)>;

// Reads, parses and checks every file. Throws IoError when a file cannot be opened or read,
// UsageError for bad options; everything wrong inside rows goes into the report.
ValidationReport validate_files(
    const std::vector<std::string>& files,
    const ValidateOptions& options,
    const AcceptedPairSink& sink = nullptr);

}  // namespace dpo
