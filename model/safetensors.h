// safetensors: our own reader and writer of the format Hugging Face checkpoints use
// (https://huggingface.co/docs/safetensors). The reader is strict, because a checkpoint is
// untrusted input: an 8-byte little-endian header length (at most 100 MB), a UTF-8 JSON
// header, known dtypes only, offsets that start at 0 and tile the data section exactly (no
// gap, no overlap, no trailing bytes), byte lengths equal to shape x dtype size (computed with
// overflow checks) and `__metadata__` holding strings only. Any violation is a CheckpointError
// naming the file and the tensor; nothing is ever read outside the file.
//
// Files are memory-mapped. Tensors returned by SafeTensorsFile::tensor() view the mapping
// directly (at::from_blob) and keep it alive through their deleter, so they stay valid after
// the SafeTensorsFile is gone. The mapping is private and copy-on-write: writing into such a
// tensor changes neither the file nor other tensors' views of other files.
//
// Sharded checkpoints (model.safetensors.index.json with a weight_map) are read through
// SafeTensorsCheckpoint and written by write_safetensors_checkpoint.
#pragma once

#include <ATen/core/Tensor.h>

#include "model/safetensors_header.h"

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dpo {

at::ScalarType safe_dtype_to_scalar(SafeDType dtype);
// Throws CheckpointError for a scalar type safetensors files of dpo cannot hold.
SafeDType scalar_to_safe_dtype(at::ScalarType type);

// A memory-mapped safetensors file.
class SafeTensorsFile {
 public:
  // Maps and checks the file; throws IoError (cannot open) or CheckpointError (malformed).
  explicit SafeTensorsFile(const std::string& path);
  ~SafeTensorsFile();

  const std::string& path() const {
    return path_;
  }
  const SafeTensorsHeader& header() const {
    return header_;
  }
  bool contains(const std::string& name) const;
  // Throws CheckpointError when the tensor is not in the file.
  const SafeTensorInfo& info(const std::string& name) const;
  std::vector<std::string> names() const;  // in offset order
  // A CPU tensor viewing the mapping (kept alive by the tensor). When the data is not aligned
  // to its element size, an aligned copy is returned instead.
  at::Tensor tensor(const std::string& name) const;

  struct Mapping;

 private:
  std::string path_;
  std::shared_ptr<Mapping> mapping_;
  SafeTensorsHeader header_;
  std::map<std::string, size_t> index_;  // name -> position in header_.tensors
};

// A Hugging Face checkpoint folder's weights: model.safetensors, or the shards listed by
// model.safetensors.index.json (whose weight_map must match the shards' contents exactly).
class SafeTensorsCheckpoint {
 public:
  // Throws CheckpointError when the folder has neither file or they are malformed.
  explicit SafeTensorsCheckpoint(const std::string& folder);
  ~SafeTensorsCheckpoint();

  std::vector<std::string> names() const;  // sorted
  bool contains(const std::string& name) const;
  const SafeTensorInfo& info(const std::string& name) const;
  at::Tensor tensor(const std::string& name) const;  // see SafeTensorsFile::tensor
  // The files read (one, or every shard).
  std::vector<std::string> files() const;
  bool sharded() const {
    return sharded_;
  }

 private:
  std::vector<std::unique_ptr<SafeTensorsFile>> files_;
  std::map<std::string, const SafeTensorsFile*> where_;  // tensor name -> its file
  bool sharded_ = false;
};

using NamedTensors = std::vector<std::pair<std::string, at::Tensor>>;

// The bytes of a safetensors file holding `tensors` (copied to CPU, contiguous) in the given
// order, with `metadata` as __metadata__. The header is padded with spaces to 8 bytes so the
// data section is aligned. Throws CheckpointError for duplicate names or unsupported dtypes.
std::string safetensors_bytes(
    const NamedTensors& tensors, const std::map<std::string, std::string>& metadata = {});

// Writes a safetensors file atomically (core/atomic_file.h).
void write_safetensors(
    const std::string& path,
    const NamedTensors& tensors,
    const std::map<std::string, std::string>& metadata = {});

// Writes `tensors` into `folder` as model.safetensors when their data fits in
// `max_shard_bytes`, otherwise as model-0000I-of-0000N.safetensors shards (each at most
// `max_shard_bytes`, unless a single tensor is larger) plus model.safetensors.index.json
// ({"metadata": {"total_size": ...}, "weight_map": {...}}), as transformers' save_pretrained
// does. Each file is written atomically. Returns the file names written.
std::vector<std::string> write_safetensors_checkpoint(
    const std::string& folder,
    const NamedTensors& tensors,
    uint64_t max_shard_bytes,
    const std::map<std::string, std::string>& metadata = {{"format", "pt"}});

// "5GB", "500MB", "2GiB", "1000" (bytes) -> bytes, as transformers' max_shard_size; throws
// UsageError.
uint64_t parse_byte_size(const std::string& text);

}  // namespace dpo
