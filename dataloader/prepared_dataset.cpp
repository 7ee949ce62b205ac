// The prepared HDF5 file: writing, reading with verification, reference log-probs. The only
// file that includes H5Cpp.h (see prepared_dataset.h for the layout).
#include "dataloader/prepared_dataset.h"

#include <unistd.h>

#include <H5Cpp.h>

#include <algorithm>
#include <cerrno>
#include <fstream>

#include "core/atomic_file.h"
#include "core/build_info.h"
#include "core/error.h"
#include "dataloader/pair_encoder.h"

namespace dpo {
namespace {

constexpr hsize_t kChunk = 1 << 16;       // elements per chunk of large arrays
constexpr hsize_t kCompressAbove = 4096;  // smaller arrays are stored contiguous
const char* const kRebuildHint = "delete the file and run `dpo prepare` again";

template <typename T>
const H5::PredType& native_type();
template <>
const H5::PredType& native_type<int32_t>() {
  return H5::PredType::NATIVE_INT32;
}
template <>
const H5::PredType& native_type<int64_t>() {
  return H5::PredType::NATIVE_INT64;
}
template <>
const H5::PredType& native_type<uint8_t>() {
  return H5::PredType::NATIVE_UINT8;
}
template <>
const H5::PredType& native_type<double>() {
  return H5::PredType::NATIVE_DOUBLE;
}
template <typename T>
const H5::PredType& file_type();
template <>
const H5::PredType& file_type<int32_t>() {
  return H5::PredType::STD_I32LE;
}
template <>
const H5::PredType& file_type<int64_t>() {
  return H5::PredType::STD_I64LE;
}
template <>
const H5::PredType& file_type<uint8_t>() {
  return H5::PredType::STD_U8LE;
}
template <>
const H5::PredType& file_type<double>() {
  return H5::PredType::IEEE_F64LE;
}

H5::StrType string_type() {
  return H5::StrType(H5::PredType::C_S1, H5T_VARIABLE);
}

[[noreturn]] void malformed(const std::string& path, const std::string& what) {
  throw CacheError("prepared dataset '" + path + "' is malformed: " + what, kRebuildHint);
}

// ---- writing ----

void write_string_attribute(H5::H5Object& object, const char* name, const std::string& value) {
  H5::StrType type = string_type();
  H5::Attribute attribute = object.createAttribute(name, type, H5::DataSpace(H5S_SCALAR));
  attribute.write(type, value);
}

void write_int_attribute(H5::H5Object& object, const char* name, int64_t value) {
  H5::Attribute attribute =
      object.createAttribute(name, H5::PredType::STD_I64LE, H5::DataSpace(H5S_SCALAR));
  attribute.write(H5::PredType::NATIVE_INT64, &value);
}

template <typename T>
void write_array(H5::Group& group, const char* name, const std::vector<T>& values) {
  hsize_t size = values.size();
  H5::DataSpace space(1, &size);
  H5::DSetCreatPropList properties;
  if (size >= kCompressAbove) {
    hsize_t chunk = std::min(size, kChunk);
    properties.setChunk(1, &chunk);
    properties.setDeflate(1);  // fast; token ids compress about 2x
  }
  H5::DataSet data = group.createDataSet(name, file_type<T>(), space, properties);
  if (size > 0)
    data.write(values.data(), native_type<T>());
}

void write_strings(H5::Group& group, const char* name, const std::vector<std::string>& values) {
  hsize_t size = values.size();
  H5::DataSpace space(1, &size);
  H5::StrType type = string_type();
  H5::DataSet data = group.createDataSet(name, type, space);
  std::vector<const char*> pointers;
  pointers.reserve(values.size());
  for (const std::string& value : values)
    pointers.push_back(value.c_str());
  if (size > 0)
    data.write(pointers.data(), type);
}

void write_split(H5::H5File& file, const char* name, const PreparedSplit& split) {
  H5::Group group = file.createGroup(name);
  write_array(group, "prompt_ids", split.prompt_ids);
  write_array(group, "chosen_ids", split.chosen_ids);
  write_array(group, "rejected_ids", split.rejected_ids);
  write_array(group, "prompt_offsets", split.prompt_offsets);
  write_array(group, "chosen_offsets", split.chosen_offsets);
  write_array(group, "rejected_offsets", split.rejected_offsets);
  write_array(group, "source_line", split.source_line);
  write_array(group, "source_file", split.source_file);
  write_array(group, "flags", split.flags);
  write_strings(group, "row_ids", split.row_ids);
}

// ---- reading ----

H5::H5File open_file(const std::string& path, unsigned flags) {
  if (::access(path.c_str(), R_OK) != 0) {
    throw IoError(
        errno_message("cannot open prepared dataset '" + path + "'", errno),
        "run `dpo prepare --out " + path + "` first");
  }
  bool is_hdf5 = false;
  try {
    is_hdf5 = H5::H5File::isHdf5(path.c_str());
  } catch (const H5::Exception&) {
  }
  if (!is_hdf5) {
    throw CacheError("'" + path + "' is not an HDF5 file", "pass a file written by `dpo prepare`");
  }
  try {
    return H5::H5File(path.c_str(), flags);
  } catch (const H5::Exception& error) {
    throw CacheError(
        "'" + path + "' cannot be opened (damaged or truncated?): " + error.getDetailMsg(),
        kRebuildHint);
  }
}

bool has_link(const H5::Group& group, const std::string& name) {
  return H5Lexists(group.getId(), name.c_str(), H5P_DEFAULT) > 0;
}

std::string read_string_attribute(
    const H5::H5Object& object, const char* name, const std::string& path) {
  if (!object.attrExists(name))
    malformed(path, std::string("attribute `") + name + "` is missing");
  H5::Attribute attribute = object.openAttribute(name);
  if (attribute.getTypeClass() != H5T_STRING) {
    malformed(path, std::string("attribute `") + name + "` is not a string");
  }
  std::string value;
  attribute.read(attribute.getStrType(), value);
  return value;
}

int64_t read_int_attribute(const H5::H5Object& object, const char* name, const std::string& path) {
  if (!object.attrExists(name))
    malformed(path, std::string("attribute `") + name + "` is missing");
  H5::Attribute attribute = object.openAttribute(name);
  if (attribute.getTypeClass() != H5T_INTEGER) {
    malformed(path, std::string("attribute `") + name + "` is not an integer");
  }
  int64_t value = 0;
  attribute.read(H5::PredType::NATIVE_INT64, &value);
  return value;
}

template <typename T>
std::vector<T> read_array(
    const H5::Group& group,
    const std::string& group_name,
    const char* name,
    const std::string& path) {
  std::string where = group_name + "/" + name;
  if (!has_link(group, name))
    malformed(path, "dataset " + where + " is missing");
  H5::DataSet data = group.openDataSet(name);
  H5T_class_t expected = std::is_floating_point<T>::value ? H5T_FLOAT : H5T_INTEGER;
  if (data.getTypeClass() != expected)
    malformed(path, where + " has the wrong element type");
  H5::DataSpace space = data.getSpace();
  if (space.getSimpleExtentNdims() != 1)
    malformed(path, where + " is not one-dimensional");
  hsize_t size = 0;
  space.getSimpleExtentDims(&size);
  std::vector<T> values(static_cast<size_t>(size));
  if (size > 0)
    data.read(values.data(), native_type<T>());
  return values;
}

std::vector<std::string> read_strings(
    const H5::Group& group,
    const std::string& group_name,
    const char* name,
    const std::string& path) {
  std::string where = group_name + "/" + name;
  if (!has_link(group, name))
    malformed(path, "dataset " + where + " is missing");
  H5::DataSet data = group.openDataSet(name);
  if (data.getTypeClass() != H5T_STRING)
    malformed(path, where + " is not a string array");
  H5::DataSpace space = data.getSpace();
  if (space.getSimpleExtentNdims() != 1)
    malformed(path, where + " is not one-dimensional");
  hsize_t size = 0;
  space.getSimpleExtentDims(&size);
  std::vector<std::string> values;
  if (size == 0)
    return values;
  H5::StrType type = string_type();
  std::vector<char*> pointers(static_cast<size_t>(size), nullptr);
  data.read(pointers.data(), type);
  values.reserve(pointers.size());
  for (char* pointer : pointers)
    values.emplace_back(pointer != nullptr ? pointer : "");
  H5Dvlen_reclaim(type.getId(), space.getId(), H5P_DEFAULT, pointers.data());
  return values;
}

void check_offsets(
    const std::vector<int64_t>& offsets,
    size_t pairs,
    size_t ids,
    const std::string& where,
    const std::string& path) {
  if (offsets.size() != pairs + 1) {
    malformed(
        path,
        where + " has " + std::to_string(offsets.size()) + " entries, expected " +
            std::to_string(pairs + 1));
  }
  if (offsets.front() != 0)
    malformed(path, where + " does not start at 0");
  for (size_t i = 1; i < offsets.size(); ++i) {
    if (offsets[i] < offsets[i - 1]) {
      malformed(path, where + " decreases at entry " + std::to_string(i));
    }
  }
  if (offsets.back() != static_cast<int64_t>(ids)) {
    malformed(
        path,
        where + " ends at " + std::to_string(offsets.back()) + " but there are " +
            std::to_string(ids) + " ids");
  }
}

void check_ids(
    const std::vector<int32_t>& ids,
    int32_t vocab_size,
    const std::string& where,
    const std::string& path) {
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || (vocab_size > 0 && ids[i] >= vocab_size)) {
      throw CacheError(
          "prepared dataset '" + path + "': " + where + "[" + std::to_string(i) +
              "] = " + std::to_string(ids[i]) + " is outside the vocabulary (" +
              std::to_string(vocab_size) + " ids)",
          "the file was prepared with another tokenizer; run `dpo prepare` with "
          "this model's tokenizer");
    }
  }
}

PreparedSplit read_split(
    const H5::H5File& file, const std::string& name, int32_t vocab_size, const std::string& path) {
  if (!has_link(file, name))
    malformed(path, "group /" + name + " is missing");
  H5::Group group = file.openGroup(name);
  PreparedSplit split;
  split.prompt_ids = read_array<int32_t>(group, name, "prompt_ids", path);
  split.chosen_ids = read_array<int32_t>(group, name, "chosen_ids", path);
  split.rejected_ids = read_array<int32_t>(group, name, "rejected_ids", path);
  split.prompt_offsets = read_array<int64_t>(group, name, "prompt_offsets", path);
  split.chosen_offsets = read_array<int64_t>(group, name, "chosen_offsets", path);
  split.rejected_offsets = read_array<int64_t>(group, name, "rejected_offsets", path);
  split.source_line = read_array<int64_t>(group, name, "source_line", path);
  split.source_file = read_array<int32_t>(group, name, "source_file", path);
  split.flags = read_array<uint8_t>(group, name, "flags", path);
  split.row_ids = read_strings(group, name, "row_ids", path);

  const size_t n = split.source_line.size();
  for (const auto& [size, what] :
       {std::pair{split.source_file.size(), "source_file"},
        std::pair{split.flags.size(), "flags"},
        std::pair{split.row_ids.size(), "row_ids"}}) {
    if (size != n) {
      malformed(
          path,
          name + "/" + what + " has " + std::to_string(size) + " entries but source_line has " +
              std::to_string(n));
    }
  }
  check_offsets(split.prompt_offsets, n, split.prompt_ids.size(), name + "/prompt_offsets", path);
  check_offsets(split.chosen_offsets, n, split.chosen_ids.size(), name + "/chosen_offsets", path);
  check_offsets(
      split.rejected_offsets, n, split.rejected_ids.size(), name + "/rejected_offsets", path);
  check_ids(split.prompt_ids, vocab_size, name + "/prompt_ids", path);
  check_ids(split.chosen_ids, vocab_size, name + "/chosen_ids", path);
  check_ids(split.rejected_ids, vocab_size, name + "/rejected_ids", path);
  return split;
}

PreparedHeader read_header(const H5::H5File& file, const std::string& path) {
  if (!file.attrExists("format")) {
    throw CacheError(
        "'" + path +
            "' is an HDF5 file but not a dpo prepared dataset (no `format` "
            "attribute)",
        "pass a file written by `dpo prepare`");
  }
  std::string format = read_string_attribute(file, "format", path);
  if (format != kPreparedFormat) {
    throw CacheError(
        "'" + path + "' has format '" + format + "', expected '" + kPreparedFormat + "'",
        "pass a file written by `dpo prepare`");
  }
  PreparedHeader header;
  header.version = static_cast<int>(read_int_attribute(file, "version", path));
  if (header.version != kPreparedVersion) {
    throw CacheError(
        "'" + path + "' is prepared dataset version " + std::to_string(header.version) +
            "; this dpo reads version " + std::to_string(kPreparedVersion),
        kRebuildHint);
  }
  header.fingerprint = read_string_attribute(file, "fingerprint", path);
  header.source_sha256 = read_string_attribute(file, "source_sha256", path);
  header.tokenizer_sha256 = read_string_attribute(file, "tokenizer_sha256", path);
  header.template_sha256 = read_string_attribute(file, "template_sha256", path);
  header.template_text = read_string_attribute(file, "template", path);
  header.max_length = read_int_attribute(file, "max_length", path);
  header.created_by = read_string_attribute(file, "created_by", path);
  header.options_json = read_string_attribute(file, "options", path);
  header.vocab_size = static_cast<int32_t>(read_int_attribute(file, "vocab_size", path));
  header.bos_id = static_cast<int32_t>(read_int_attribute(file, "bos_id", path));
  header.eos_id = static_cast<int32_t>(read_int_attribute(file, "eos_id", path));
  header.pad_id = static_cast<int32_t>(read_int_attribute(file, "pad_id", path));
  header.source_files = read_strings(file, "", "source_files", path);
  if (has_link(file, "validation_report")) {
    std::vector<std::string> report = read_strings(file, "", "validation_report", path);
    if (report.size() != 1)
      malformed(path, "dataset /validation_report must hold one string");
    header.validation_json = report[0];
  }
  return header;
}

// Runs `body` turning HDF5 exceptions into CacheError naming the file.
template <typename Body>
auto guarded(const std::string& path, const char* what, Body body) -> decltype(body()) {
  H5::Exception::dontPrint();
  try {
    return body();
  } catch (const H5::Exception& error) {
    throw CacheError(
        std::string(what) + " '" + path + "' failed: " + error.getFuncName() + ": " +
            error.getDetailMsg(),
        kRebuildHint);
  }
}

size_t split_size_in_file(const H5::H5File& file, const char* name, const std::string& path) {
  if (!has_link(file, name))
    malformed(path, std::string("group /") + name + " is missing");
  H5::Group group = file.openGroup(name);
  if (!has_link(group, "source_line"))
    malformed(path, std::string(name) + "/source_line is missing");
  hsize_t size = 0;
  group.openDataSet("source_line").getSpace().getSimpleExtentDims(&size);
  return static_cast<size_t>(size);
}

TokenLengthSummary summarize(std::vector<int64_t> values) {
  TokenLengthSummary summary;
  if (values.empty())
    return summary;
  std::sort(values.begin(), values.end());
  auto at = [&](double q) {
    size_t index = static_cast<size_t>(q * static_cast<double>(values.size() - 1) + 0.5);
    return values[std::min(index, values.size() - 1)];
  };
  summary.min = values.front();
  summary.max = values.back();
  summary.p50 = at(0.5);
  summary.p90 = at(0.9);
  summary.p99 = at(0.99);
  double total = 0;
  for (int64_t v : values)
    total += static_cast<double>(v);
  summary.mean = total / static_cast<double>(values.size());
  return summary;
}

}  // namespace

// ---- PreparedSplit ----

void PreparedSplit::add(
    const EncodedPair& pair, int32_t file_index, int64_t line, const std::string& row_id) {
  prompt_ids.insert(prompt_ids.end(), pair.prompt.begin(), pair.prompt.end());
  chosen_ids.insert(chosen_ids.end(), pair.chosen.begin(), pair.chosen.end());
  rejected_ids.insert(rejected_ids.end(), pair.rejected.begin(), pair.rejected.end());
  prompt_offsets.push_back(static_cast<int64_t>(prompt_ids.size()));
  chosen_offsets.push_back(static_cast<int64_t>(chosen_ids.size()));
  rejected_offsets.push_back(static_cast<int64_t>(rejected_ids.size()));
  source_file.push_back(file_index);
  source_line.push_back(line);
  flags.push_back(pair.flags);
  row_ids.push_back(row_id);
}

PairTokens PreparedSplit::pair(size_t i) const {
  auto span = [](const std::vector<int32_t>& ids, const std::vector<int64_t>& offsets, size_t i) {
    return IdSpan{ids.data() + offsets[i], static_cast<size_t>(offsets[i + 1] - offsets[i])};
  };
  return {
      span(prompt_ids, prompt_offsets, i),
      span(chosen_ids, chosen_offsets, i),
      span(rejected_ids, rejected_offsets, i)};
}

int64_t PreparedSplit::chosen_length(size_t i) const {
  return (prompt_offsets[i + 1] - prompt_offsets[i]) + (chosen_offsets[i + 1] - chosen_offsets[i]);
}

int64_t PreparedSplit::rejected_length(size_t i) const {
  return (prompt_offsets[i + 1] - prompt_offsets[i]) +
         (rejected_offsets[i + 1] - rejected_offsets[i]);
}

const PreparedSplit& PreparedDataset::split(const std::string& name) const {
  if (name == "train")
    return train;
  if (name == "val")
    return val;
  throw UsageError("unknown split '" + name + "'", "use train or val");
}

// ---- files ----

void write_prepared_dataset(
    const std::string& path,
    const PreparedHeader& header,
    const PreparedSplit& train,
    const PreparedSplit& val) {
  AtomicFile atomic(path);
  guarded(path, "writing prepared dataset", [&] {
    H5::H5File file(atomic.temp_path().c_str(), H5F_ACC_TRUNC);
    write_string_attribute(file, "format", kPreparedFormat);
    write_int_attribute(file, "version", kPreparedVersion);
    write_string_attribute(file, "fingerprint", header.fingerprint);
    write_string_attribute(file, "source_sha256", header.source_sha256);
    write_string_attribute(file, "tokenizer_sha256", header.tokenizer_sha256);
    write_string_attribute(file, "template_sha256", header.template_sha256);
    write_string_attribute(file, "template", header.template_text);
    write_int_attribute(file, "max_length", header.max_length);
    write_string_attribute(
        file,
        "created_by",
        header.created_by.empty() ? "dpo " + dpo_version() + " (" + dpo_git_commit() + ")"
                                  : header.created_by);
    write_string_attribute(file, "options", header.options_json);
    write_int_attribute(file, "vocab_size", header.vocab_size);
    write_int_attribute(file, "bos_id", header.bos_id);
    write_int_attribute(file, "eos_id", header.eos_id);
    write_int_attribute(file, "pad_id", header.pad_id);
    write_strings(file, "source_files", header.source_files);
    if (!header.validation_json.empty())
      write_strings(file, "validation_report", {header.validation_json});
    write_split(file, "train", train);
    write_split(file, "val", val);
    file.close();
  });
  atomic.commit();
}

PreparedHeader read_prepared_header(const std::string& path) {
  return guarded(path, "reading prepared dataset", [&] {
    H5::H5File file = open_file(path, H5F_ACC_RDONLY);
    return read_header(file, path);
  });
}

PreparedDataset read_prepared_dataset(const std::string& path, int32_t vocab_size) {
  return guarded(path, "reading prepared dataset", [&] {
    H5::H5File file = open_file(path, H5F_ACC_RDONLY);
    PreparedDataset dataset;
    dataset.path = path;
    dataset.header = read_header(file, path);
    int32_t vocab = vocab_size > 0 ? vocab_size : dataset.header.vocab_size;
    dataset.train = read_split(file, "train", vocab, path);
    dataset.val = read_split(file, "val", vocab, path);
    for (const PreparedSplit* split : {&dataset.train, &dataset.val}) {
      for (int32_t index : split->source_file) {
        if (index < 0 || static_cast<size_t>(index) >= dataset.header.source_files.size()) {
          malformed(
              path,
              "source_file index " + std::to_string(index) + " outside the " +
                  std::to_string(dataset.header.source_files.size()) + " source files");
        }
      }
    }
    return dataset;
  });
}

SplitLengthStats length_stats(const PreparedSplit& split) {
  SplitLengthStats stats;
  stats.pairs = split.size();
  std::vector<int64_t> prompt, chosen, rejected;
  for (size_t i = 0; i < split.size(); ++i) {
    prompt.push_back(split.prompt_offsets[i + 1] - split.prompt_offsets[i]);
    chosen.push_back(split.chosen_length(i));
    rejected.push_back(split.rejected_length(i));
    stats.total_tokens += chosen.back() + rejected.back();
  }
  stats.prompt = summarize(std::move(prompt));
  stats.chosen = summarize(std::move(chosen));
  stats.rejected = summarize(std::move(rejected));
  return stats;
}

// ---- reference log-probs ----

void write_reference_logps(const std::string& path, const ReferenceLogps& logps) {
  if (logps.model_hash.empty() || logps.model_hash.find('/') != std::string::npos) {
    throw UsageError("reference model hash '" + logps.model_hash + "' is not a valid group name");
  }
  // Check the sizes against the file before copying it.
  guarded(path, "reading prepared dataset", [&] {
    H5::H5File file = open_file(path, H5F_ACC_RDONLY);
    read_header(file, path);
    for (const auto& [name, split] :
         {std::pair{"train", &logps.train}, std::pair{"val", &logps.val}}) {
      size_t n = split_size_in_file(file, name, path);
      for (size_t size :
           {split->chosen_logps.size(),
            split->rejected_logps.size(),
            split->chosen_tokens.size(),
            split->rejected_tokens.size()}) {
        if (size != n) {
          throw CacheError(
              "reference log-probs for '" + path + "' split " + name + " have " +
                  std::to_string(size) + " entries, the split has " + std::to_string(n) + " pairs",
              "compute them on this prepared file");
        }
      }
    }
  });

  AtomicFile atomic(path);
  {
    std::ifstream in(path, std::ios::binary);
    std::ofstream out(atomic.temp_path(), std::ios::binary | std::ios::trunc);
    out << in.rdbuf();
    out.flush();
    if (!in || !out)
      throw IoError("cannot copy '" + path + "' to '" + atomic.temp_path() + "'");
  }
  guarded(path, "writing reference log-probs to", [&] {
    H5::H5File file(atomic.temp_path().c_str(), H5F_ACC_RDWR);
    H5::Group reference =
        has_link(file, "reference") ? file.openGroup("reference") : file.createGroup("reference");
    if (has_link(reference, logps.model_hash)) {
      H5Ldelete(reference.getId(), logps.model_hash.c_str(), H5P_DEFAULT);
    }
    H5::Group group = reference.createGroup(logps.model_hash);
    write_string_attribute(group, "model_hash", logps.model_hash);
    write_string_attribute(group, "dtype", logps.dtype);
    write_string_attribute(
        group, "dpo_version", logps.dpo_version.empty() ? dpo_version() : logps.dpo_version);
    for (const auto& [name, split] :
         {std::pair{"train", &logps.train}, std::pair{"val", &logps.val}}) {
      H5::Group g = group.createGroup(name);
      write_array(g, "chosen_logps", split->chosen_logps);
      write_array(g, "rejected_logps", split->rejected_logps);
      write_array(g, "chosen_tokens", split->chosen_tokens);
      write_array(g, "rejected_tokens", split->rejected_tokens);
    }
    file.close();
  });
  atomic.commit();
}

std::optional<ReferenceLogps> read_reference_logps(
    const std::string& path, const std::string& model_hash) {
  return guarded(path, "reading reference log-probs from", [&]() -> std::optional<ReferenceLogps> {
    H5::H5File file = open_file(path, H5F_ACC_RDONLY);
    read_header(file, path);
    if (!has_link(file, "reference"))
      return std::nullopt;
    H5::Group reference = file.openGroup("reference");
    if (model_hash.empty() || model_hash.find('/') != std::string::npos ||
        !has_link(reference, model_hash)) {
      return std::nullopt;
    }
    H5::Group group = reference.openGroup(model_hash);
    ReferenceLogps logps;
    logps.model_hash = read_string_attribute(group, "model_hash", path);
    logps.dtype = read_string_attribute(group, "dtype", path);
    logps.dpo_version = read_string_attribute(group, "dpo_version", path);
    for (const auto& [name, split] :
         {std::pair{"train", &logps.train}, std::pair{"val", &logps.val}}) {
      std::string where = "reference/" + model_hash + "/" + name;
      if (!has_link(group, name))
        malformed(path, "group " + where + " is missing");
      H5::Group g = group.openGroup(name);
      split->chosen_logps = read_array<double>(g, where, "chosen_logps", path);
      split->rejected_logps = read_array<double>(g, where, "rejected_logps", path);
      split->chosen_tokens = read_array<int32_t>(g, where, "chosen_tokens", path);
      split->rejected_tokens = read_array<int32_t>(g, where, "rejected_tokens", path);
      size_t n = split_size_in_file(file, name, path);
      for (size_t size :
           {split->chosen_logps.size(),
            split->rejected_logps.size(),
            split->chosen_tokens.size(),
            split->rejected_tokens.size()}) {
        if (size != n) {
          malformed(
              path,
              where + " has " + std::to_string(size) + " entries, the split has " +
                  std::to_string(n) + " pairs");
        }
      }
    }
    return logps;
  });
}

std::vector<std::string> list_reference_logps(const std::string& path) {
  return guarded(path, "reading prepared dataset", [&] {
    H5::H5File file = open_file(path, H5F_ACC_RDONLY);
    std::vector<std::string> hashes;
    if (!has_link(file, "reference"))
      return hashes;
    H5::Group reference = file.openGroup("reference");
    for (hsize_t i = 0; i < reference.getNumObjs(); ++i) {
      hashes.push_back(reference.getObjnameByIdx(i));
    }
    std::sort(hashes.begin(), hashes.end());
    return hashes;
  });
}

}  // namespace dpo
