// libFuzzer target for the safetensors header parser (model/safetensors_header.h): any input
// must either parse into a header that tiles the data section exactly, or throw
// CheckpointError; never crash, hang or read out of bounds. Built only with clang:
//   tools/fuzz.sh (see docs/reliability.md), or by hand:
//   cmake -S . -B build-fuzz -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang -DDPO_FUZZ=ON
//   cmake --build build-fuzz --target safetensors_header_fuzz
//   build-fuzz/tests/fuzz/safetensors_header_fuzz -max_total_time=30
//   tests/fuzz/corpus/safetensors_header
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/error.h"
#include "model/safetensors_header.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  try {
    dpo::SafeTensorsHeader header = dpo::parse_safetensors_header(bytes, size, "fuzz");
    // Accepted: the tensors must lie inside the input, back to back, to its last byte.
    uint64_t offset = 0;
    for (const dpo::SafeTensorInfo& info : header.tensors) {
      if (info.begin != offset || info.end < info.begin)
        std::abort();
      offset = info.end;
    }
    if (header.data_offset + offset != size)
      std::abort();
  } catch (const dpo::CheckpointError&) {
  }
  return 0;
}
