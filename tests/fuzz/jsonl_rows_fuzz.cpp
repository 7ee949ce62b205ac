// libFuzzer target for reading preference data: the record reader (JSONL, JSON array, gzip),
// the row parser (every format) and the validator, run on the input as a data file. Any input
// must give a report whose row accounting holds (rows == accepted + rejected + excluded), or a
// dpo::Error; never a crash, a hang, another exception or an out-of-bounds read.
#include <cstdint>
#include <cstdlib>

#include "core/error.h"
#include "data/validator.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = dpo::fuzz::scratch_path(".jsonl");
  dpo::fuzz::write_scratch(path, data, size);
  dpo::ValidateOptions options;
  options.max_record_bytes = 1 << 16;  // small enough that the too-large path is reached
  try {
    dpo::ValidationReport report = dpo::validate_files({path}, options);
    if (report.rows != report.pairs_ok + report.rejected + report.excluded)
      std::abort();
    if (report.train_pairs + report.val_pairs != report.pairs_ok)
      std::abort();
  } catch (const dpo::Error&) {
  }
  return 0;
}
