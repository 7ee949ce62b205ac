// safetensors reading (strict header checks, memory mapping) and writing (single files and
// sharded checkpoints). See safetensors.h for the rules enforced.
#include "model/safetensors.h"

#include <ATen/ATen.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <set>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/file_io.h"

namespace dpo {

at::ScalarType safe_dtype_to_scalar(SafeDType dtype) {
  switch (dtype) {
    case SafeDType::F32:
      return at::kFloat;
    case SafeDType::F16:
      return at::kHalf;
    case SafeDType::BF16:
      return at::kBFloat16;
    case SafeDType::I64:
      return at::kLong;
    case SafeDType::I32:
      return at::kInt;
  }
  return at::kFloat;
}

SafeDType scalar_to_safe_dtype(at::ScalarType type) {
  switch (type) {
    case at::kFloat:
      return SafeDType::F32;
    case at::kHalf:
      return SafeDType::F16;
    case at::kBFloat16:
      return SafeDType::BF16;
    case at::kLong:
      return SafeDType::I64;
    case at::kInt:
      return SafeDType::I32;
    default:
      throw CheckpointError(
          std::string("cannot store a tensor of type ") + c10::toString(type) + " in safetensors",
          "convert it to float32, float16, bfloat16, int64 or int32 first");
  }
}

// ---------------------------------------------------------------------------------------------
// Reading

struct SafeTensorsFile::Mapping {
  void* base = nullptr;
  size_t size = 0;
  ~Mapping() {
    if (base != nullptr)
      ::munmap(base, size);
  }
};

SafeTensorsFile::SafeTensorsFile(const std::string& path) : path_(path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    throw IoError(errno_message("cannot open '" + path + "'", errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int saved = errno;
    ::close(fd);
    throw IoError(errno_message("cannot stat '" + path + "'", saved));
  }
  const uint64_t file_size = static_cast<uint64_t>(st.st_size);
  if (file_size < 8) {
    ::close(fd);
    parse_safetensors_header(std::string_view(), file_size, path);  // throws "too short"
  }
  mapping_ = std::make_shared<Mapping>();
  // Private and writable: copy-on-write pages, so a tensor written to by mistake neither
  // faults nor changes the file.
  void* base = ::mmap(nullptr, file_size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  int saved = errno;
  ::close(fd);
  if (base == MAP_FAILED)
    throw IoError(errno_message("cannot map '" + path + "'", saved));
  mapping_->base = base;
  mapping_->size = file_size;
  header_ = parse_safetensors_header(
      std::string_view(static_cast<const char*>(base), file_size), file_size, path);
  for (size_t i = 0; i < header_.tensors.size(); ++i)
    index_[header_.tensors[i].name] = i;
}

SafeTensorsFile::~SafeTensorsFile() = default;

bool SafeTensorsFile::contains(const std::string& name) const {
  return index_.count(name) != 0;
}

const SafeTensorInfo& SafeTensorsFile::info(const std::string& name) const {
  auto it = index_.find(name);
  if (it == index_.end()) {
    throw CheckpointError("safetensors '" + path_ + "' has no tensor '" + name + "'");
  }
  return header_.tensors[it->second];
}

std::vector<std::string> SafeTensorsFile::names() const {
  std::vector<std::string> out;
  for (const SafeTensorInfo& info : header_.tensors)
    out.push_back(info.name);
  return out;
}

at::Tensor SafeTensorsFile::tensor(const std::string& name) const {
  const SafeTensorInfo& meta = info(name);
  auto options = at::TensorOptions().dtype(safe_dtype_to_scalar(meta.dtype)).device(at::kCPU);
  char* data = static_cast<char*>(mapping_->base) + header_.data_offset + meta.begin;
  const size_t element = safe_dtype_size(meta.dtype);
  if (reinterpret_cast<uintptr_t>(data) % element != 0) {
    // Unaligned (a header length that is not a multiple of 8): copy into aligned memory.
    at::Tensor copy = at::empty(meta.shape, options);
    std::memcpy(copy.data_ptr(), data, meta.end - meta.begin);
    return copy;
  }
  std::shared_ptr<Mapping> keep = mapping_;
  return at::from_blob(
      data, meta.shape, [keep](void*) {}, options);
}

SafeTensorsCheckpoint::SafeTensorsCheckpoint(const std::string& folder) {
  const std::string single = folder + "/model.safetensors";
  const std::string index_path = folder + "/model.safetensors.index.json";
  struct stat st {};
  if (::stat(index_path.c_str(), &st) == 0) {
    sharded_ = true;
    const std::string text = read_file(index_path, "checkpoint index");
    // nlohmann keeps the last of two equal keys; a tensor named twice in the weight_map must
    // be refused, so the keys of the top-level "weight_map" object are collected as parsed.
    std::string top_key, duplicate;
    std::set<std::string> mapped;
    auto watch_keys = [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json& value) {
      if (event == nlohmann::json::parse_event_t::key && value.is_string()) {
        if (depth == 1)
          top_key = value.get<std::string>();
        else if (
            depth == 2 && top_key == "weight_map" &&
            !mapped.insert(value.get<std::string>()).second && duplicate.empty())
          duplicate = value.get<std::string>();
      }
      return true;
    };
    nlohmann::json index = nlohmann::json::parse(text, watch_keys, false);
    const char* hint = "the index must be {\"metadata\": {...}, \"weight_map\": {tensor: file}}";
    if (index.is_discarded() || !index.is_object() || !index.contains("weight_map") ||
        !index["weight_map"].is_object()) {
      throw CheckpointError("'" + index_path + "' is not a valid safetensors index", hint);
    }
    if (!duplicate.empty()) {
      throw CheckpointError(
          "'" + index_path + "': weight_map names tensor '" + duplicate + "' twice",
          "the index is corrupted; re-download the checkpoint");
    }
    std::map<std::string, std::string> weight_map;
    std::map<std::string, SafeTensorsFile*> shards;
    for (const auto& item : index["weight_map"].items()) {
      if (!item.value().is_string()) {
        throw CheckpointError(
            "'" + index_path + "': weight_map['" + item.key() + "'] is not a file name", hint);
      }
      const std::string file = item.value().get<std::string>();
      if (file.empty() || file.find('/') != std::string::npos || file == "." || file == "..") {
        throw CheckpointError(
            "'" + index_path + "': shard name '" + file + "' is not a plain file name", hint);
      }
      weight_map[item.key()] = file;
      if (!shards.count(file)) {
        files_.push_back(std::make_unique<SafeTensorsFile>(folder + "/" + file));
        shards[file] = files_.back().get();
      }
    }
    for (const auto& [tensor, file] : weight_map) {
      if (!shards[file]->contains(tensor)) {
        throw CheckpointError(
            "'" + index_path + "' maps tensor '" + tensor + "' to '" + file +
                "', which does not hold it",
            "the shards and the index do not belong together; re-download the checkpoint");
      }
      where_[tensor] = shards[file];
    }
    // A tensor held by two shards is named as such, whichever of them the index points to.
    std::map<std::string, std::string> holder;  // tensor -> the shard holding it
    for (const auto& [file, shard] : shards) {
      for (const std::string& tensor : shard->names()) {
        auto [seen, first] = holder.emplace(tensor, shard->path());
        if (!first) {
          throw CheckpointError(
              "tensor '" + tensor + "' is in two shards: '" + seen->second + "' and '" +
                  shard->path() + "'",
              "the shards and the index do not belong together; re-download the checkpoint");
        }
      }
    }
    for (const auto& [file, shard] : shards) {
      for (const std::string& tensor : shard->names()) {
        auto it = weight_map.find(tensor);
        if (it == weight_map.end() || it->second != file) {
          throw CheckpointError(
              "shard '" + shard->path() + "' holds tensor '" + tensor +
                  "', which the index maps elsewhere or not at all",
              "the shards and the index do not belong together; re-download the checkpoint");
        }
      }
    }
    return;
  }
  if (::stat(single.c_str(), &st) != 0) {
    throw CheckpointError(
        "'" + folder + "' has neither model.safetensors nor model.safetensors.index.json",
        "pass a Hugging Face model folder saved with safetensors (save_pretrained with "
        "safe_serialization=True)");
  }
  files_.push_back(std::make_unique<SafeTensorsFile>(single));
  for (const std::string& tensor : files_.back()->names())
    where_[tensor] = files_.back().get();
}

SafeTensorsCheckpoint::~SafeTensorsCheckpoint() = default;

std::vector<std::string> SafeTensorsCheckpoint::names() const {
  std::vector<std::string> out;
  for (const auto& entry : where_)
    out.push_back(entry.first);
  return out;
}

bool SafeTensorsCheckpoint::contains(const std::string& name) const {
  return where_.count(name) != 0;
}

const SafeTensorInfo& SafeTensorsCheckpoint::info(const std::string& name) const {
  auto it = where_.find(name);
  if (it == where_.end())
    throw CheckpointError("checkpoint has no tensor '" + name + "'");
  return it->second->info(name);
}

at::Tensor SafeTensorsCheckpoint::tensor(const std::string& name) const {
  auto it = where_.find(name);
  if (it == where_.end())
    throw CheckpointError("checkpoint has no tensor '" + name + "'");
  return it->second->tensor(name);
}

std::vector<std::string> SafeTensorsCheckpoint::files() const {
  std::vector<std::string> out;
  for (const auto& file : files_)
    out.push_back(file->path());
  return out;
}

// ---------------------------------------------------------------------------------------------
// Writing

namespace {

uint64_t tensor_bytes(const at::Tensor& t) {
  return static_cast<uint64_t>(t.numel()) * t.element_size();
}

// The header (length prefix included) for `tensors` laid out in order.
std::string build_header(
    const NamedTensors& tensors, const std::map<std::string, std::string>& metadata) {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty())
    header["__metadata__"] = metadata;
  uint64_t offset = 0;
  std::set<std::string> seen;
  for (const auto& [name, t] : tensors) {
    if (name == "__metadata__" || !seen.insert(name).second) {
      throw CheckpointError("cannot write tensor name '" + name + "' twice (or a reserved name)");
    }
    SafeDType dtype = scalar_to_safe_dtype(t.scalar_type());
    const uint64_t bytes = tensor_bytes(t);
    header[name] = {
        {"dtype", safe_dtype_name(dtype)},
        {"shape", t.sizes().vec()},
        {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const nlohmann::json::exception& e) {
    throw CheckpointError(
        std::string("cannot write a safetensors header: ") + e.what(),
        "tensor names and metadata must be valid UTF-8");
  }
  // Pad with spaces so the data section starts 8-byte aligned (the format allows it).
  text.append((8 - text.size() % 8) % 8, ' ');
  uint64_t len = text.size();
  std::string out(8, '\0');
  std::memcpy(&out[0], &len, 8);
  return out + text;
}

at::Tensor cpu_contiguous(const at::Tensor& t) {
  return t.detach().to(at::kCPU).contiguous();
}

}  // namespace

std::string safetensors_bytes(
    const NamedTensors& tensors, const std::map<std::string, std::string>& metadata) {
  std::string out = build_header(tensors, metadata);
  for (const auto& entry : tensors) {
    at::Tensor t = cpu_contiguous(entry.second);
    out.append(static_cast<const char*>(t.data_ptr()), tensor_bytes(t));
  }
  return out;
}

void write_safetensors(
    const std::string& path,
    const NamedTensors& tensors,
    const std::map<std::string, std::string>& metadata) {
  const std::string header = build_header(tensors, metadata);
  AtomicFile file(path);
  FILE* out = std::fopen(file.temp_path().c_str(), "wb");
  if (out == nullptr)
    throw IoError(errno_message("cannot create '" + file.temp_path() + "'", errno));
  bool ok = std::fwrite(header.data(), 1, header.size(), out) == header.size();
  // One tensor at a time on the CPU, so a model on the GPU is never copied whole.
  for (size_t i = 0; ok && i < tensors.size(); ++i) {
    at::Tensor t = cpu_contiguous(tensors[i].second);
    const uint64_t bytes = tensor_bytes(t);
    ok = std::fwrite(t.data_ptr(), 1, bytes, out) == bytes;
  }
  int saved = errno;
  if (std::fflush(out) != 0)
    ok = false;
  if (std::fclose(out) != 0)
    ok = false;
  if (!ok)
    throw IoError(errno_message("cannot write '" + file.temp_path() + "'", saved));
  file.commit();
}

std::vector<std::string> write_safetensors_checkpoint(
    const std::string& folder,
    const NamedTensors& tensors,
    uint64_t max_shard_bytes,
    const std::map<std::string, std::string>& metadata) {
  // Greedy packing in the given order, as transformers' shard_checkpoint does.
  std::vector<NamedTensors> shards(1);
  uint64_t current = 0;
  uint64_t total = 0;
  for (const auto& entry : tensors) {
    const uint64_t bytes = tensor_bytes(entry.second);
    if (!shards.back().empty() && current + bytes > max_shard_bytes) {
      shards.emplace_back();
      current = 0;
    }
    shards.back().push_back(entry);
    current += bytes;
    total += bytes;
  }
  if (shards.size() == 1) {
    write_safetensors(folder + "/model.safetensors", tensors, metadata);
    return {"model.safetensors"};
  }
  std::vector<std::string> written;
  nlohmann::json weight_map = nlohmann::json::object();
  char name[64];
  for (size_t i = 0; i < shards.size(); ++i) {
    std::snprintf(name, sizeof name, "model-%05zu-of-%05zu.safetensors", i + 1, shards.size());
    write_safetensors(folder + "/" + name, shards[i], metadata);
    for (const auto& entry : shards[i])
      weight_map[entry.first] = name;
    written.push_back(name);
  }
  nlohmann::json index = {{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}};
  write_file_atomically(folder + "/model.safetensors.index.json", index.dump(2) + "\n");
  written.push_back("model.safetensors.index.json");
  return written;
}

uint64_t parse_byte_size(const std::string& text) {
  size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits])))
    ++digits;
  std::string unit = text.substr(digits);
  for (char& c : unit)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  static const std::pair<const char*, uint64_t> kUnits[] = {
      {"", 1},
      {"B", 1},
      {"KB", 1000ull},
      {"MB", 1000ull * 1000},
      {"GB", 1000ull * 1000 * 1000},
      {"KIB", 1ull << 10},
      {"MIB", 1ull << 20},
      {"GIB", 1ull << 30}};
  if (digits > 0 && digits <= 15) {
    const uint64_t number = std::stoull(text.substr(0, digits));
    for (const auto& u : kUnits) {
      if (unit == u.first && number > 0)
        return number * u.second;
    }
  }
  throw UsageError(
      "cannot read the size '" + text + "'",
      "write a positive number with an optional unit: 5GB, 500MB, 2GiB, 1000000");
}

}  // namespace dpo
