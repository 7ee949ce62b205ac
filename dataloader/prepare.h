// `dpo prepare`: validate, render every pair with the model's pinned chat template, tokenize in
// parallel, split, and write one HDF5 file (dataloader/prepared_dataset.h) atomically.
// Re-running with the same inputs and options finds the same fingerprint and does nothing.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/validation_report.h"
#include "data/validator.h"
#include "dataloader/pair_encoder.h"

namespace dpo {

struct PrepareOptions {
  std::vector<std::string> files;
  std::string model_dir;       // a Hugging Face folder: tokenizer + chat template
  std::string tokenizer_path;  // or a bare tokenizer.model ...
  // Which file of model_dir: automatic (tokenizer.json when present, as transformers'
  // AutoTokenizer), json or sentencepiece (--tokenizer-format).
  TokenizerFormat tokenizer_format = TokenizerFormat::automatic;
  std::string template_spec;  // ... with a template (also overrides the model's template)
  int64_t max_length = 1024;
  LengthPolicy length_policy = LengthPolicy::drop;
  BosPolicy bos_policy = BosPolicy::as_template;  // --add-bos
  ValidateOptions validate;                       // format, fields, val_fraction, seed, thresholds
  int threads = 0;                                // 0: every core
  std::string out_path;
  bool force = false;         // rewrite even when the fingerprint matches
  bool overwrite = false;     // replace an existing out_path that is not a prepared file
  bool require_train = true;  // false: a file with held-out pairs only is fine (eval sets)
};

// Rows left out while encoding, by reason, with examples.
struct EncodeIssue {
  std::string code;   // prefix_mismatch, template_error, too_long, ...
  std::string where;  // file:line
  std::string message;
};

struct PrepareResult {
  ValidationReport validation;
  PairEncodeCounts train_counts, val_counts;
  std::vector<EncodeIssue> issues;  // at most validate.max_examples per code
  std::string fingerprint;
  std::string tokenizer_sha256, template_sha256, source_sha256;
  uint64_t train_pairs = 0, val_pairs = 0;
  bool reused = false;  // the file existed with this fingerprint
  double seconds = 0;
};

PrepareResult prepare_dataset(const PrepareOptions& options);

// What happened to the rows: the validation summary, the tokenization counts per split and
// examples of each tokenization issue. Also the body of the error when no pair is left.
std::string rows_report(const PrepareResult& result);

// The human-readable summary printed by `dpo prepare`: rows_report() and the file written.
std::string prepare_summary(const PrepareResult& result, const std::string& out_path);

}  // namespace dpo
