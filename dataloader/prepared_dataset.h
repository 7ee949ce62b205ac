// The prepared dataset: tokenized pairs in one HDF5 file written by `dpo prepare`, read by
// `dpo inspect` and the batch loader, and the reference log-probs cached beside them.
// HDF5 (H5Cpp.h) appears only in prepared_dataset.cpp.
//
// Layout (version 1):
//   /                 attributes: format="dpo-prepared", version, fingerprint, source_sha256,
//                     tokenizer_sha256, template_sha256, template, max_length, created_by,
//                     options (JSON text), vocab_size, bos_id, eos_id, pad_id
//   /source_files     string [files]: the input files, in the order given
//   /validation_report string [1]: the validation report of those files (the JSON that
//                     `dpo validate --report` writes); absent in files from before it was added
//   /train, /val      int32 prompt_ids, chosen_ids, rejected_ids (flat, chunked + deflate)
//                     int64 prompt_offsets, chosen_offsets, rejected_offsets ([n+1], from 0)
//                     int64 source_line, int32 source_file (index into source_files),
//                     uint8 flags (PairFlag bits), string row_ids (variable length),
//                     string metadata (variable length: the row's `metadata` object as JSON
//                     text, "" for none; absent in files from before it was added: no metadata)
//                     string fields (variable length: the row's other top-level fields but
//                     arrays, as one JSON object text, "" for none; absent in older files)
//   /reference/<model_hash>          attributes model_hash, dtype, dpo_version,
//                                    prepared_fingerprint
//   /reference/<model_hash>/<split>  attribute checksum (SHA-256 over the prepared fingerprint,
//                                    model hash, dtype, split name and the four arrays);
//                                    float64 chosen_logps, rejected_logps [n];
//                                    int32 chosen_tokens, rejected_tokens [n] (= the
//                                    completion lengths of the split)
// chosen_ids/rejected_ids hold the completions only; a sequence is prompt + completion.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace dpo {

struct EncodedPair;

constexpr const char* kPreparedFormat = "dpo-prepared";
constexpr int kPreparedVersion = 1;

// A read-only view of token ids.
struct IdSpan {
  const int32_t* data = nullptr;
  size_t size = 0;
  const int32_t* begin() const {
    return data;
  }
  const int32_t* end() const {
    return data + size;
  }
  int32_t operator[](size_t i) const {
    return data[i];
  }
  std::vector<int32_t> to_vector() const {
    return std::vector<int32_t>(begin(), end());
  }
};

struct PairTokens {
  IdSpan prompt, chosen, rejected;  // chosen/rejected: completions only
};

// One split (train or val) in memory, as stored.
struct PreparedSplit {
  std::vector<int32_t> prompt_ids, chosen_ids, rejected_ids;
  std::vector<int64_t> prompt_offsets{0}, chosen_offsets{0}, rejected_offsets{0};
  std::vector<int64_t> source_line;
  std::vector<int32_t> source_file;
  std::vector<uint8_t> flags;
  std::vector<std::string> row_ids;
  // Provenance: the row's `metadata` object as JSON text (reviewer, rubric, locale, ...), "" for
  // none; one per pair, so that a held-out pair can be traced to who judged it and how.
  std::vector<std::string> metadata;
  // The row's other top-level fields (a `source` column) as a JSON object, "" for none: slice
  // keys that are not metadata.* read them (trainer/slice_metrics.h).
  std::vector<std::string> fields;

  size_t size() const {
    return source_line.size();
  }
  void add(
      const EncodedPair& pair,
      int32_t file_index,
      int64_t line,
      const std::string& row_id,
      const std::string& metadata_json = "",
      const std::string& fields_json = "");
  PairTokens pair(size_t i) const;
  // The metadata of pair i ("" for none, also when the split was built without any).
  std::string pair_metadata(size_t i) const {
    return i < metadata.size() ? metadata[i] : std::string();
  }
  // The other top-level fields of pair i ("" for none, also when built without any).
  std::string pair_fields(size_t i) const {
    return i < fields.size() ? fields[i] : std::string();
  }
  // prompt + chosen, prompt + rejected: the lengths of the two sequences of a pair.
  int64_t chosen_length(size_t i) const;
  int64_t rejected_length(size_t i) const;
};

struct PreparedHeader {
  int version = kPreparedVersion;
  std::string fingerprint;
  std::string source_sha256;
  std::string tokenizer_sha256;
  // The tokenizer file of the model folder the ids come from: "json" (tokenizer.json) or
  // "sentencepiece" (tokenizer.model); empty in files written before dpo read tokenizer.json
  // (then tokenizer.model). Commands that load the folder again read the same file.
  std::string tokenizer_format;
  std::string template_sha256;
  std::string template_text;
  int64_t max_length = 0;
  std::string created_by;           // "dpo 0.1.0 (abc1234)"; filled by the writer when empty
  std::string options_json = "{}";  // the prepare options, for `dpo inspect`
  std::vector<std::string> source_files;
  // The validation report of the source files (JSON of `dpo validate --report`); a run copies it
  // to validate.json so that its report shows the data's statistics. Empty when not recorded.
  std::string validation_json;
  int32_t vocab_size = 0;
  int32_t bos_id = -1, eos_id = -1, pad_id = -1;
};

struct PreparedDataset {
  std::string path;
  PreparedHeader header;
  PreparedSplit train, val;
  // "train" or "val"; throws UsageError otherwise.
  const PreparedSplit& split(const std::string& name) const;
};

// Writes the file atomically: HDF5 builds it in memory, then a temporary file in the same folder
// is written, fsynced and renamed. A full disk is an IoError naming the file with the errno text
// ("No space left on device"); the temporary file is removed and a previous file is unchanged.
// Stale temporaries of dead processes in that folder are removed first.
void write_prepared_dataset(
    const std::string& path,
    const PreparedHeader& header,
    const PreparedSplit& train,
    const PreparedSplit& val);

// Reads and verifies the whole file: format and version, every offsets array monotone from 0
// to the ids' size, per-pair arrays of the split's size, ids inside [0, vocab_size) (the given
// vocab_size, or the header's when 0), no pair with an empty prompt or completion. Declared
// sizes are checked against each other and against the bytes the file stores before anything
// is allocated. Throws IoError when the file cannot be opened and CacheError naming the file and
// the dataset for anything malformed.
PreparedDataset read_prepared_dataset(const std::string& path, int32_t vocab_size = 0);
// Empty when `path` is a prepared file (the HDF5 signature and format="dpo-prepared", any
// version); else why not ("not an HDF5 file", "an HDF5 file without the format attribute", ...).
std::string not_a_prepared_file(const std::string& path);
// Only the root attributes (for "already prepared?" checks).
PreparedHeader read_prepared_header(const std::string& path);

// Token-length statistics of a split (sequence = prompt + completion).
struct TokenLengthSummary {
  int64_t min = 0, max = 0, p50 = 0, p90 = 0, p99 = 0;
  double mean = 0;
};
struct SplitLengthStats {
  size_t pairs = 0;
  TokenLengthSummary prompt, chosen, rejected;  // chosen/rejected: full sequences
  int64_t total_tokens = 0;                     // prompt counted twice (it is fed twice)
};
SplitLengthStats length_stats(const PreparedSplit& split);

// Reference-model log-probabilities of every pair, cached in the prepared file.
struct ReferenceLogps {
  struct Split {
    std::vector<double> chosen_logps, rejected_logps;     // [n] summed over the completion
    std::vector<int32_t> chosen_tokens, rejected_tokens;  // [n] completion tokens scored
  };
  std::string model_hash;
  std::string dtype = "float32";  // the dtype the reference model ran in
  std::string dpo_version;        // filled by the writer when empty
  Split train, val;
};

// Adds (or replaces) /reference/<model_hash>. Copy-on-write: the file is loaded into memory,
// the group added there, and the new image written atomically (as write_prepared_dataset), so
// readers see the old or the new file, never a half-written one; memory: about twice the file.
// The split sizes and token counts must match the file's. When the write fails (a full disk),
// IoError with the cause, the prepared file unchanged, and the values kept in a small file in
// $TMPDIR (else /tmp) that import_reference_logps() caches later; the message names it.
// A replaced group's space is not reclaimed (HDF5 does not shrink files); fine for a cache.
void write_reference_logps(const std::string& path, const ReferenceLogps& logps);
// Caches the values kept by a failed write_reference_logps() (`sidecar`) into `path`, the
// prepared file they were computed on (checked by fingerprint and checksum).
void import_reference_logps(const std::string& path, const std::string& sidecar);
// The cached log-probs for `model_hash`; nullopt when absent (or written by a dpo without
// checksums: recomputed). CacheError naming the file and the group when sized differently from
// the splits, when a token count differs from the completion's length, or on a checksum mismatch.
std::optional<ReferenceLogps> read_reference_logps(
    const std::string& path, const std::string& model_hash);
// The model hashes with cached log-probs.
std::vector<std::string> list_reference_logps(const std::string& path);

// Removes the temporary files `*.h5.tmp.<pid>.<n>` in `folder` whose process no longer exists
// (kill(pid, 0) fails with ESRCH), with a log line each; returns their paths. Those of running
// processes are left alone. Called by every write into a folder.
std::vector<std::string> remove_stale_prepared_temporaries(const std::string& folder);

// The tokenizer of `model_dir` read from the file the prepared ids came from
// (header.tokenizer_format: tokenizer.json or tokenizer.model), so that a folder holding both
// is read as it was at prepare time.
Tokenizer tokenizer_for_prepared(const std::string& model_dir, const PreparedHeader& header);

}  // namespace dpo
