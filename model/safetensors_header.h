// The safetensors header: its dtypes, tensor entries and the strict parser (no LibTorch, so
// that the libFuzzer target tests/fuzz/safetensors_header_fuzz.cpp builds without it). The
// rules enforced are listed in model/safetensors.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace dpo {

// The dtypes dpo reads and writes: floating point for weights, integers for state.
enum class SafeDType { F32, F16, BF16, I64, I32 };

const char* safe_dtype_name(SafeDType dtype);  // "F32"
size_t safe_dtype_size(SafeDType dtype);       // bytes per element

// Header length cap: a larger header is rejected before any allocation.
constexpr uint64_t kSafeTensorsMaxHeaderBytes = 100ull * 1000 * 1000;

struct SafeTensorInfo {
  std::string name;
  SafeDType dtype = SafeDType::F32;
  std::vector<int64_t> shape;
  uint64_t begin = 0;  // byte offsets in the data section (after the header)
  uint64_t end = 0;
};

struct SafeTensorsHeader {
  std::vector<SafeTensorInfo> tensors;  // ordered by data offset
  std::map<std::string, std::string> metadata;
  uint64_t data_offset = 0;  // 8 + header length: where the data section starts in the file
};

// Parses and checks the header of a whole safetensors file held in `bytes` (the file's first
// bytes; `file_size` is the size of the whole file, so that `bytes` may be just a prefix that
// holds the header). `name` names the file in messages. Throws CheckpointError.
SafeTensorsHeader parse_safetensors_header(
    std::string_view bytes, uint64_t file_size, const std::string& name);

}  // namespace dpo
