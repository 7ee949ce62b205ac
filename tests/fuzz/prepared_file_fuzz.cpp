// libFuzzer target for prepared files (HDF5, dataloader/prepared_dataset.h): the input is
// written to a file and read as dpo reads it (header, both splits, cached reference
// log-probs). Any input must be read or refused with a dpo::Error naming the file; never a
// crash, a hang, a huge allocation or another exception. (libhdf5 itself is not instrumented;
// its reads of a corrupt file are reached only through dpo's calls.)
#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/error.h"
#include "dataloader/prepared_dataset.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = dpo::fuzz::scratch_path(".h5");
  dpo::fuzz::write_scratch(path, data, size);
  try {
    dpo::read_prepared_header(path);
    dpo::read_prepared_dataset(path, /*vocab_size=*/0);
    for (const std::string& key : dpo::list_reference_logps(path))
      dpo::read_reference_logps(path, key);
  } catch (const dpo::Error&) {
  }
  return 0;
}
