// The safetensors header parser: every rule of the format checked, no LibTorch.
#include "model/safetensors_header.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <climits>
#include <cstring>

#include "core/error.h"
#include "core/json_file.h"

namespace dpo {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "safetensors data is little-endian");

namespace {

const char* const kFormatHint =
    "the file is not a valid safetensors file (truncated or corrupted download?); "
    "re-download or re-export the checkpoint";

[[noreturn]] void fail(const std::string& name, const std::string& what) {
  throw CheckpointError("safetensors '" + name + "': " + what, kFormatHint);
}

bool parse_dtype(const std::string& text, SafeDType& out) {
  static const std::pair<const char*, SafeDType> kNames[] = {
      {"F32", SafeDType::F32},
      {"F16", SafeDType::F16},
      {"BF16", SafeDType::BF16},
      {"I64", SafeDType::I64},
      {"I32", SafeDType::I32}};
  for (const auto& entry : kNames) {
    if (text == entry.first) {
      out = entry.second;
      return true;
    }
  }
  return false;
}

uint64_t read_le64(const char* p) {
  uint64_t value = 0;
  std::memcpy(&value, p, 8);  // little-endian host (static_assert above)
  return value;
}

// One tensor entry of the header: {"dtype": "F32", "shape": [..], "data_offsets": [b, e]}.
SafeTensorInfo parse_entry(
    const std::string& file, const std::string& key, const nlohmann::json& v) {
  const std::string where = "tensor '" + key + "'";
  if (!v.is_object())
    fail(file, where + " is not an object");
  for (const auto& item : v.items()) {
    if (item.key() != "dtype" && item.key() != "shape" && item.key() != "data_offsets") {
      fail(file, where + " has an unknown field '" + item.key() + "'");
    }
  }
  auto dtype = v.find("dtype");
  auto shape = v.find("shape");
  auto offsets = v.find("data_offsets");
  if (dtype == v.end() || shape == v.end() || offsets == v.end()) {
    fail(file, where + " needs the fields dtype, shape and data_offsets");
  }
  SafeTensorInfo info;
  info.name = key;
  if (!dtype->is_string())
    fail(file, where + ": dtype is not a string");
  const std::string& dtype_text = dtype->get_ref<const std::string&>();
  if (!parse_dtype(dtype_text, info.dtype)) {
    throw CheckpointError(
        "safetensors '" + file + "': " + where + " has dtype '" + dtype_text +
            "', which dpo does not read",
        "dpo reads F32, F16 and BF16 weights and I64/I32 state; convert the checkpoint "
        "(e.g. with transformers, torch_dtype=torch.bfloat16)");
  }
  if (!shape->is_array())
    fail(file, where + ": shape is not an array");
  uint64_t elements = 1;
  for (const auto& dim : *shape) {
    if (!dim.is_number_unsigned())
      fail(file, where + ": shape holds a value that is not a size");
    uint64_t d = dim.get<uint64_t>();
    if (d > static_cast<uint64_t>(INT64_MAX))
      fail(file, where + ": shape dimension too large");
    info.shape.push_back(static_cast<int64_t>(d));
    if (__builtin_mul_overflow(elements, d, &elements)) {
      fail(file, where + ": the byte size of its shape overflows 64 bits");
    }
  }
  uint64_t bytes = 0;
  if (__builtin_mul_overflow(elements, safe_dtype_size(info.dtype), &bytes)) {
    fail(file, where + ": the byte size of its shape overflows 64 bits");
  }
  if (!offsets->is_array() || offsets->size() != 2 || !(*offsets)[0].is_number_unsigned() ||
      !(*offsets)[1].is_number_unsigned()) {
    fail(file, where + ": data_offsets must be two non-negative integers [begin, end]");
  }
  info.begin = (*offsets)[0].get<uint64_t>();
  info.end = (*offsets)[1].get<uint64_t>();
  if (info.end < info.begin)
    fail(file, where + ": data_offsets end before they begin");
  if (info.end - info.begin != bytes) {
    fail(
        file,
        where + ": data_offsets span " + std::to_string(info.end - info.begin) +
            " bytes but shape x dtype needs " + std::to_string(bytes));
  }
  return info;
}

}  // namespace

const char* safe_dtype_name(SafeDType dtype) {
  switch (dtype) {
    case SafeDType::F32:
      return "F32";
    case SafeDType::F16:
      return "F16";
    case SafeDType::BF16:
      return "BF16";
    case SafeDType::I64:
      return "I64";
    case SafeDType::I32:
      return "I32";
  }
  return "?";
}

size_t safe_dtype_size(SafeDType dtype) {
  switch (dtype) {
    case SafeDType::F32:
      return 4;
    case SafeDType::F16:
      return 2;
    case SafeDType::BF16:
      return 2;
    case SafeDType::I64:
      return 8;
    case SafeDType::I32:
      return 4;
  }
  return 1;
}

SafeTensorsHeader parse_safetensors_header(
    std::string_view bytes, uint64_t file_size, const std::string& name) {
  if (file_size < 8 || bytes.size() < 8) {
    fail(
        name,
        "file of " + std::to_string(file_size) +
            " bytes is too short for the 8-byte header length");
  }
  const uint64_t header_len = read_le64(bytes.data());
  if (header_len > kSafeTensorsMaxHeaderBytes) {
    fail(name, "header length " + std::to_string(header_len) + " exceeds the 100 MB limit");
  }
  if (header_len > file_size - 8) {
    fail(
        name,
        "header length " + std::to_string(header_len) + " runs past the end of the file (" +
            std::to_string(file_size) + " bytes)");
  }
  if (bytes.size() < 8 + header_len)
    fail(name, "header not fully read");
  std::string_view text = bytes.substr(8, header_len);
  if (text.empty() || text[0] != '{')
    fail(name, "header does not start with '{'");

  // Invalid JSON, invalid UTF-8 and a tensor named twice are refused with line and column.
  nlohmann::json root = parse_json(
      text,
      JsonSource(
          "safetensors '" + name + "': header is not a valid UTF-8 JSON object",
          JsonErrorKind::checkpoint,
          kFormatHint));
  if (root.is_discarded() || !root.is_object())
    fail(name, "header is not a valid UTF-8 JSON object");

  SafeTensorsHeader header;
  header.data_offset = 8 + header_len;
  for (const auto& item : root.items()) {
    if (item.key() == "__metadata__") {
      if (!item.value().is_object())
        fail(name, "__metadata__ is not an object");
      for (const auto& meta : item.value().items()) {
        if (!meta.value().is_string()) {
          fail(name, "__metadata__ value of '" + meta.key() + "' is not a string");
        }
        header.metadata[meta.key()] = meta.value().get<std::string>();
      }
      continue;
    }
    header.tensors.push_back(parse_entry(name, item.key(), item.value()));
  }

  // The data section is tiled exactly: sorted by offset, each tensor starts where the
  // previous one ended, the first at 0 and the last at the end of the file.
  std::sort(header.tensors.begin(), header.tensors.end(), [](const auto& a, const auto& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  const uint64_t data_size = file_size - header.data_offset;
  uint64_t expected = 0;
  for (const SafeTensorInfo& info : header.tensors) {
    if (info.begin < expected) {
      fail(
          name,
          "tensor '" + info.name + "' overlaps the previous tensor's data (offset " +
              std::to_string(info.begin) + ")");
    }
    if (info.begin > expected) {
      fail(
          name,
          "gap in the data section before tensor '" + info.name + "' (offset " +
              std::to_string(info.begin) + ", expected " + std::to_string(expected) + ")");
    }
    expected = info.end;
    if (expected > data_size) {
      fail(
          name,
          "tensor '" + info.name + "' ends at byte " + std::to_string(expected) +
              " past the end of the data section (" + std::to_string(data_size) + " bytes)");
    }
  }
  if (expected != data_size) {
    fail(name, std::to_string(data_size - expected) + " trailing bytes after the last tensor");
  }
  return header;
}

}  // namespace dpo
