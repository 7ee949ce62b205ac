// `dpo inspect FILE.h5`: what a prepared file holds, verified, and a pair decoded back to text.
#pragma once

#include <cstdint>
#include <string>

namespace dpo {

struct InspectOptions {
  std::string path;
  std::string model_dir;       // optional: decode with this model's tokenizer (hashes checked)
  std::string tokenizer_path;  // or a bare tokenizer.model
  int64_t pair = -1;           // >= 0: decode this pair
  std::string split = "train";
};

// Reads and verifies the file (read_prepared_dataset) and returns the text to print.
// Throws CacheError for a malformed file, UsageError for a pair out of range.
std::string inspect_prepared(const InspectOptions& options);

}  // namespace dpo
