// The prepared HDF5 file: writing, reading with verification, reference log-probs. The only
// file that includes H5Cpp.h (see prepared_dataset.h for the layout).
#include "dataloader/prepared_dataset.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <H5Cpp.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <new>
#include <stdexcept>
#include <tuple>

#include "core/atomic_file.h"
#include "core/build_info.h"
#include "core/error.h"
#include "core/hash.h"
#include "core/log.h"
#include "dataloader/pair_encoder.h"
#include "dataloader/prepared_seal.h"

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

// ---- files on disk ----
// HDF5 builds the file in memory (its core driver) and dpo writes the image with plain write()
// calls: a full disk is then an errno of our own write, reported with the file's name, never an
// HDF5 object that fails to close while an exception unwinds (that crashed), and the temporary
// file is always removed. The previous file stays as it was until the rename.

std::atomic<unsigned> g_memory_files{0};

std::string memory_file_name() {
  return "dpo-memory-" + std::to_string(::getpid()) + "-" + std::to_string(g_memory_files++);
}

H5::FileAccPropList memory_access() {
  H5::FileAccPropList access;
  if (H5Pset_fapl_core(access.getId(), 1 << 20, 0) < 0)
    throw H5::PropListIException("H5Pset_fapl_core", "cannot select the in-memory driver");
  return access;
}

// A new, empty HDF5 file in memory, with a user block for the seal (prepared_seal.h).
H5::H5File create_memory_file() {
  H5::FileCreatPropList creation;
  creation.setUserblock(kPreparedUserBlockBytes);
  return H5::H5File(memory_file_name().c_str(), H5F_ACC_TRUNC, creation, memory_access());
}

// An HDF5 file in memory opened from `bytes` (a file image), writable.
H5::H5File open_memory_file(std::string& bytes) {
  H5::FileAccPropList access = memory_access();
  if (H5Pset_file_image(access.getId(), bytes.data(), bytes.size()) < 0)
    throw H5::PropListIException("H5Pset_file_image", "cannot load the file image");
  std::string().swap(bytes);  // the property list holds its own copy
  return H5::H5File(
      memory_file_name().c_str(), H5F_ACC_RDWR, H5::FileCreatPropList::DEFAULT, access);
}

// The bytes of an HDF5 file held in memory.
std::string file_image(H5::H5File& file) {
  file.flush(H5F_SCOPE_GLOBAL);
  ssize_t size = H5Fget_file_image(file.getId(), nullptr, 0);
  if (size < 0)
    throw H5::FileIException("H5Fget_file_image", "cannot read the file image");
  std::string image(static_cast<size_t>(size), '\0');
  if (H5Fget_file_image(file.getId(), image.data(), image.size()) != size)
    throw H5::FileIException("H5Fget_file_image", "cannot copy the file image");
  // The image starts at the superblock: a file with a user block (the seal's place) gets its
  // user block back in front, where the superblock's base address says it is.
  const hsize_t user_block = file.getCreatePlist().getUserblock();
  if (user_block > 0 && image.compare(0, 8, "\x89HDF\r\n\x1a\n") == 0)
    image.insert(0, static_cast<size_t>(user_block), '\0');
  return image;
}

std::string megabytes(uint64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.1f MB", static_cast<double>(bytes) / (1 << 20));
  return text;
}

bool exists(const std::string& path) {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0;
}

// The whole file, with errno in the message when it cannot be read.
std::string read_bytes(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    throw IoError(errno_message("cannot open prepared dataset '" + path + "'", errno));
  std::string bytes;
  char buffer[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      int saved = errno;
      ::close(fd);
      throw IoError(errno_message("cannot read prepared dataset '" + path + "'", saved));
    }
    if (n == 0)
      break;
    bytes.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  return bytes;
}

// "x.h5.tmp.<pid>.<n>": a temporary file of AtomicFile; true with its writer's pid.
bool temporary_owner(const std::string& name, long* pid) {
  static const std::string kMarker = ".h5.tmp.";
  size_t at = name.rfind(kMarker);
  if (at == std::string::npos)
    return false;
  const char* digits = name.c_str() + at + kMarker.size();
  char* end = nullptr;
  errno = 0;
  long value = std::strtol(digits, &end, 10);
  if (end == digits || *end != '.' || errno != 0 || value <= 0)
    return false;
  const char* counter = end + 1;
  if (*counter == '\0')
    return false;
  for (const char* c = counter; *c != '\0'; ++c) {
    if (*c < '0' || *c > '9')
      return false;
  }
  *pid = value;
  return true;
}

}  // namespace

std::vector<std::string> remove_stale_prepared_temporaries(const std::string& folder) {
  std::vector<std::string> removed;
  DIR* dir = ::opendir(folder.c_str());
  if (dir == nullptr)
    return removed;
  std::vector<std::pair<std::string, long>> stale;
  while (const dirent* entry = ::readdir(dir)) {
    long pid = 0;
    std::string name = entry->d_name;
    if (!temporary_owner(name, &pid) || pid == static_cast<long>(::getpid()))
      continue;
    // Only a process that does not exist (ESRCH); EPERM means it runs under another user.
    if (::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH)
      continue;
    stale.emplace_back(name, pid);
  }
  ::closedir(dir);
  for (const auto& [name, pid] : stale) {
    std::string path = (folder == "/" ? "" : folder) + "/" + name;
    if (::unlink(path.c_str()) == 0) {
      DPO_LOG_INFO(
          "prepare",
          "removed '%s', a temporary file left by process %ld (no longer running)",
          path.c_str(),
          pid);
      removed.push_back(path);
    } else {
      DPO_LOG_WARN(
          "prepare",
          "cannot remove '%s', a temporary file left by process %ld: %s",
          path.c_str(),
          pid,
          std::strerror(errno));
    }
  }
  return removed;
}

namespace {

// Writes `image` to `path` atomically (temporary file, fsync, rename). IoError with the errno
// text ("No space left on device") and the file named; the temporary file is removed.
void write_image(const std::string& path, const std::string& image) {
  const std::string folder = parent_directory(path);
  remove_stale_prepared_temporaries(folder);
  const bool had_file = exists(path);
  const std::string unchanged =
      had_file ? "; the previous '" + path + "' is unchanged" : "; no file was written";
  AtomicFile atomic(path);
  const std::string& temp = atomic.temp_path();
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0) {
    throw IoError(
        errno_message("cannot create '" + temp + "' (the temporary file of '" + path + "')", errno),
        "check that the folder '" + folder + "' exists and is writable" + unchanged);
  }
  size_t done = 0;
  int error = 0;
  while (done < image.size()) {
    ssize_t n = ::write(fd, image.data() + done, image.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      error = n < 0 ? errno : EIO;
      break;
    }
    done += static_cast<size_t>(n);
  }
  if (error == 0 && ::fsync(fd) != 0)
    error = errno;
  if (::close(fd) != 0 && error == 0)
    error = errno;
  if (error != 0) {
    throw IoError(
        errno_message(
            "cannot write '" + path + "' (" + megabytes(image.size()) + ", " +
                std::to_string(done) + " bytes written)",
            error),
        "free space in '" + folder + "' (or choose another --out) and run it again" + unchanged);
  }
  atomic.commit();
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
  // A split built without metadata (older code paths) stores "" per pair.
  std::vector<std::string> metadata = split.metadata;
  metadata.resize(split.size());
  write_strings(group, "metadata", metadata);
  std::vector<std::string> fields = split.fields;
  fields.resize(split.size());
  write_strings(group, "fields", fields);
}

// ---- reading ----

H5::H5File open_file(const std::string& path, unsigned flags) {
  if (::access(path.c_str(), R_OK) != 0) {
    throw IoError(
        errno_message("cannot open prepared dataset '" + path + "'", errno),
        "run `dpo prepare --out " + path + "` first");
  }
  // A damaged file never reaches libhdf5, which can loop forever on one (prepared_seal.h).
  verify_prepared_seal(path);
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

// Attributes are read into one value: an attribute holding an array would overrun it.
void require_single_value(
    const H5::Attribute& attribute, const char* name, const std::string& path) {
  H5::DataSpace space = attribute.getSpace();
  if (space.getSimpleExtentNpoints() != 1) {
    malformed(
        path,
        std::string("attribute `") + name + "` holds " +
            std::to_string(space.getSimpleExtentNpoints()) + " values instead of one");
  }
}

std::string read_string_attribute(
    const H5::H5Object& object, const char* name, const std::string& path) {
  if (!object.attrExists(name))
    malformed(path, std::string("attribute `") + name + "` is missing");
  H5::Attribute attribute = object.openAttribute(name);
  if (attribute.getTypeClass() != H5T_STRING) {
    malformed(path, std::string("attribute `") + name + "` is not a string");
  }
  require_single_value(attribute, name, path);
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
  require_single_value(attribute, name, path);
  int64_t value = 0;
  attribute.read(H5::PredType::NATIVE_INT64, &value);
  return value;
}

uint64_t size_on_disk(const std::string& path) {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0 ? static_cast<uint64_t>(info.st_size) : 0;
}

// Deflate expands at most about 1032x; a dataset that declares more than this many times the
// bytes it stores (plus a little for fill values) cannot be a file we wrote.
constexpr uint64_t kMaxExpansion = 1100;
constexpr uint64_t kExpansionSlack = 1 << 16;

// The element count of a 1-D dataset, checked before anything is allocated: its storage must
// lie inside the file, and the declared size must be reachable from what is stored, so a
// header that declares 2^40 elements is refused by name instead of allocated.
size_t checked_extent(
    const H5::DataSet& data,
    size_t element_size,
    const std::string& where,
    const std::string& path) {
  H5::DataSpace space = data.getSpace();
  if (space.getSimpleExtentNdims() != 1)
    malformed(path, where + " is not one-dimensional");
  hsize_t size = 0;
  space.getSimpleExtentDims(&size);
  const uint64_t file_bytes = size_on_disk(path);
  const uint64_t stored = H5Dget_storage_size(data.getId());
  if (stored > file_bytes) {
    malformed(
        path,
        where + " claims " + std::to_string(stored) + " bytes of storage but the file has " +
            std::to_string(file_bytes));
  }
  const uint64_t limit = stored * kMaxExpansion + kExpansionSlack;
  if (size > limit || size * element_size > limit) {
    malformed(
        path,
        where + " declares " + std::to_string(size) + " elements but the file stores only " +
            std::to_string(stored) + " bytes of it");
  }
  return static_cast<size_t>(size);
}

H5::DataSet open_dataset(
    const H5::Group& group, const std::string& where, const char* name, const std::string& path) {
  if (!has_link(group, name))
    malformed(path, "dataset " + where + " is missing");
  return group.openDataSet(name);
}

// `expected`: the size the other arrays give this one, checked before it is read; `why` says
// where that size comes from.
struct Expected {
  size_t size;
  std::string why;  // "source_line has 4"
};

template <typename T>
std::vector<T> read_array(
    const H5::Group& group,
    const std::string& group_name,
    const char* name,
    const std::string& path,
    const std::optional<Expected>& expected = std::nullopt) {
  std::string where = group_name + "/" + name;
  H5::DataSet data = open_dataset(group, where, name, path);
  H5T_class_t type_class = std::is_floating_point<T>::value ? H5T_FLOAT : H5T_INTEGER;
  if (data.getTypeClass() != type_class)
    malformed(path, where + " has the wrong element type");
  size_t size = checked_extent(data, sizeof(T), where, path);
  if (expected && size != expected->size) {
    malformed(path, where + " has " + std::to_string(size) + " entries but " + expected->why);
  }
  std::vector<T> values(size);
  if (size > 0)
    data.read(values.data(), native_type<T>());
  return values;
}

std::vector<std::string> read_strings(
    const H5::Group& group,
    const std::string& group_name,
    const char* name,
    const std::string& path,
    const std::optional<Expected>& expected = std::nullopt) {
  std::string where = group_name + "/" + name;
  H5::DataSet data = open_dataset(group, where, name, path);
  if (data.getTypeClass() != H5T_STRING)
    malformed(path, where + " is not a string array");
  size_t size = checked_extent(data, sizeof(hvl_t), where, path);
  if (expected && size != expected->size) {
    malformed(path, where + " has " + std::to_string(size) + " entries but " + expected->why);
  }
  std::vector<std::string> values;
  if (size == 0)
    return values;
  H5::StrType type = string_type();
  H5::DataSpace space = data.getSpace();
  std::vector<char*> pointers(size, nullptr);
  data.read(pointers.data(), type);
  try {
    values.reserve(pointers.size());
    for (char* pointer : pointers)
      values.emplace_back(pointer != nullptr ? pointer : "");
  } catch (...) {
    H5Dvlen_reclaim(type.getId(), space.getId(), H5P_DEFAULT, pointers.data());
    throw;
  }
  H5Dvlen_reclaim(type.getId(), space.getId(), H5P_DEFAULT, pointers.data());
  return values;
}

// The element count of a dataset without reading it (checked like read_array()).
size_t dataset_extent(
    const H5::Group& group,
    const std::string& group_name,
    const char* name,
    size_t element_size,
    const std::string& path) {
  std::string where = group_name + "/" + name;
  return checked_extent(open_dataset(group, where, name, path), element_size, where, path);
}

// An offsets array: [pairs + 1] entries from 0, never decreasing, ending at the ids' count.
// The ids' count is checked here, before the ids are read.
std::vector<int64_t> read_offsets(
    const H5::Group& group,
    const std::string& name,
    const char* offsets_name,
    const char* ids_name,
    size_t pairs,
    const std::string& path) {
  const std::string where = name + "/" + offsets_name;
  std::vector<int64_t> offsets = read_array<int64_t>(
      group,
      name,
      offsets_name,
      path,
      Expected{
          pairs + 1,
          "expected " + std::to_string(pairs + 1) + " (source_line has " + std::to_string(pairs) +
              " pairs)"});
  if (offsets.front() != 0)
    malformed(path, where + " does not start at 0");
  for (size_t i = 1; i < offsets.size(); ++i) {
    if (offsets[i] < offsets[i - 1])
      malformed(path, where + " decreases at entry " + std::to_string(i));
  }
  size_t ids = dataset_extent(group, name, ids_name, sizeof(int32_t), path);
  if (offsets.back() != static_cast<int64_t>(ids)) {
    malformed(
        path,
        where + " ends at " + std::to_string(offsets.back()) + " but there are " +
            std::to_string(ids) + " ids");
  }
  return offsets;
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

// Every pair has a prompt and two non-empty completions: a pair with an empty completion has
// nothing to compare and must not be trained.
void check_nonempty(
    const PreparedSplit& split,
    const std::string& name,
    const std::vector<std::string>& source_files,
    const std::string& path) {
  for (size_t i = 0; i < split.size(); ++i) {
    const char* empty = nullptr;
    if (split.prompt_offsets[i + 1] == split.prompt_offsets[i])
      empty = "prompt";
    else if (split.chosen_offsets[i + 1] == split.chosen_offsets[i])
      empty = "chosen completion";
    else if (split.rejected_offsets[i + 1] == split.rejected_offsets[i])
      empty = "rejected completion";
    if (empty == nullptr)
      continue;
    const int32_t file = split.source_file[i];
    std::string source = file >= 0 && static_cast<size_t>(file) < source_files.size()
                             ? source_files[static_cast<size_t>(file)]
                             : "?";
    throw CacheError(
        "prepared dataset '" + path + "': " + name + " pair " + std::to_string(i) + " (id '" +
            split.row_ids[i] + "', " + source + ":" + std::to_string(split.source_line[i]) +
            ") has an empty " + empty + " (0 tokens)",
        "prepare the data again with this dpo: `dpo prepare` reports such rows (empty_chosen, "
        "empty_rejected) with their line instead of keeping them");
  }
}

PreparedSplit read_split(
    const H5::H5File& file,
    const std::string& name,
    int32_t vocab_size,
    const std::vector<std::string>& source_files,
    const std::string& path) {
  if (!has_link(file, name))
    malformed(path, "group /" + name + " is missing");
  H5::Group group = file.openGroup(name);
  PreparedSplit split;
  // Sizes first, each checked against the others before the next array is read.
  split.source_line = read_array<int64_t>(group, name, "source_line", path);
  const size_t n = split.source_line.size();
  const Expected per_pair{n, "source_line has " + std::to_string(n)};
  split.source_file = read_array<int32_t>(group, name, "source_file", path, per_pair);
  split.flags = read_array<uint8_t>(group, name, "flags", path, per_pair);
  split.row_ids = read_strings(group, name, "row_ids", path, per_pair);
  // Files from before provenance was stored have no metadata dataset: no metadata.
  split.metadata = has_link(group, "metadata")
                       ? read_strings(group, name, "metadata", path, per_pair)
                       : std::vector<std::string>(n);
  split.fields = has_link(group, "fields") ? read_strings(group, name, "fields", path, per_pair)
                                           : std::vector<std::string>(n);
  split.prompt_offsets = read_offsets(group, name, "prompt_offsets", "prompt_ids", n, path);
  split.chosen_offsets = read_offsets(group, name, "chosen_offsets", "chosen_ids", n, path);
  split.rejected_offsets = read_offsets(group, name, "rejected_offsets", "rejected_ids", n, path);
  split.prompt_ids = read_array<int32_t>(group, name, "prompt_ids", path);
  split.chosen_ids = read_array<int32_t>(group, name, "chosen_ids", path);
  split.rejected_ids = read_array<int32_t>(group, name, "rejected_ids", path);
  check_ids(split.prompt_ids, vocab_size, name + "/prompt_ids", path);
  check_ids(split.chosen_ids, vocab_size, name + "/chosen_ids", path);
  check_ids(split.rejected_ids, vocab_size, name + "/rejected_ids", path);
  for (int32_t index : split.source_file) {
    if (index < 0 || static_cast<size_t>(index) >= source_files.size()) {
      malformed(
          path,
          name + "/source_file index " + std::to_string(index) + " outside the " +
              std::to_string(source_files.size()) + " source files");
    }
  }
  check_nonempty(split, name, source_files, path);
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
  if (file.attrExists("tokenizer_format"))
    header.tokenizer_format = read_string_attribute(file, "tokenizer_format", path);
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

// Runs `body` turning HDF5 exceptions, and allocation failures from sizes read in the file,
// into CacheError naming the file.
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
  } catch (const std::bad_alloc&) {
    throw CacheError(
        std::string(what) + " '" + path + "' failed: its sizes need more memory than is available",
        "a file this large needs a machine with more memory; if it is small on disk it is "
        "damaged: " +
            std::string(kRebuildHint));
  } catch (const std::length_error& error) {
    throw CacheError(
        std::string(what) + " '" + path + "' failed: a size in the file is too large (" +
            error.what() + ")",
        kRebuildHint);
  }
}

size_t split_size_in_file(const H5::H5File& file, const char* name, const std::string& path) {
  if (!has_link(file, name))
    malformed(path, std::string("group /") + name + " is missing");
  H5::Group group = file.openGroup(name);
  return dataset_extent(group, name, "source_line", sizeof(int64_t), path);
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

// ---- reference log-probs ----

const char* const kReferenceHint =
    "recompute them: `dpo score --model REFERENCE_DIR --data FILE.h5 --write-reference` replaces "
    "the cached entry (a training run that finds no valid entry recomputes it too); or drop every "
    "cached entry with `dpo prepare ... --force`, which rewrites the file without them";

// SHA-256 over what the cached values were computed from (the prepared file's fingerprint, the
// model hash, the dtype, the split) and over the values themselves.
std::string reference_checksum(
    const std::string& fingerprint,
    const std::string& model_hash,
    const std::string& dtype,
    const std::string& split_name,
    const ReferenceLogps::Split& split) {
  Sha256 hash;
  auto field = [&](const void* data, size_t bytes) {
    const uint64_t size = bytes;
    hash.update(&size, sizeof(size));
    hash.update(data, bytes);
  };
  auto text = [&](const std::string& value) { field(value.data(), value.size()); };
  text("dpo-reference-logps 1");
  text(fingerprint);
  text(model_hash);
  text(dtype);
  text(split_name);
  field(split.chosen_logps.data(), split.chosen_logps.size() * sizeof(double));
  field(split.rejected_logps.data(), split.rejected_logps.size() * sizeof(double));
  field(split.chosen_tokens.data(), split.chosen_tokens.size() * sizeof(int32_t));
  field(split.rejected_tokens.data(), split.rejected_tokens.size() * sizeof(int32_t));
  return hash.hex_digest();
}

// The completion lengths of a split, from its offsets, to check cached token counts against.
struct CompletionLengths {
  std::vector<int64_t> chosen_offsets, rejected_offsets;
};

CompletionLengths completion_lengths(
    const H5::H5File& file, const char* name, size_t pairs, const std::string& path) {
  H5::Group group = file.openGroup(name);
  return {
      read_offsets(group, name, "chosen_offsets", "chosen_ids", pairs, path),
      read_offsets(group, name, "rejected_offsets", "rejected_ids", pairs, path)};
}

// Each cached token count must be the completion's length in the prepared file: the scorer
// counts every completion token once.
void check_token_counts(
    const ReferenceLogps::Split& split,
    const CompletionLengths& lengths,
    const std::string& where,
    const std::string& path) {
  for (const auto& [counts, offsets, name] :
       {std::tuple{&split.chosen_tokens, &lengths.chosen_offsets, "chosen"},
        std::tuple{&split.rejected_tokens, &lengths.rejected_offsets, "rejected"}}) {
    for (size_t i = 0; i < counts->size(); ++i) {
      const int64_t expected = (*offsets)[i + 1] - (*offsets)[i];
      if ((*counts)[i] != expected) {
        throw CacheError(
            "reference log-probs cached in '" + path + "': " + where + "/" + name + "_tokens[" +
                std::to_string(i) + "] = " + std::to_string((*counts)[i]) + " but pair " +
                std::to_string(i) + "'s " + name + " completion has " + std::to_string(expected) +
                " tokens in the prepared data",
            kReferenceHint);
      }
    }
  }
}

// Writes the attributes and arrays of /reference/<hash> into `file`.
void write_reference_group(
    H5::H5File& file, const ReferenceLogps& logps, const std::string& fingerprint) {
  H5::Group reference =
      has_link(file, "reference") ? file.openGroup("reference") : file.createGroup("reference");
  if (has_link(reference, logps.model_hash))
    H5Ldelete(reference.getId(), logps.model_hash.c_str(), H5P_DEFAULT);
  H5::Group group = reference.createGroup(logps.model_hash);
  write_string_attribute(group, "model_hash", logps.model_hash);
  write_string_attribute(group, "dtype", logps.dtype);
  write_string_attribute(
      group, "dpo_version", logps.dpo_version.empty() ? dpo_version() : logps.dpo_version);
  write_string_attribute(group, "prepared_fingerprint", fingerprint);
  for (const auto& [name, split] :
       {std::pair{"train", &logps.train}, std::pair{"val", &logps.val}}) {
    H5::Group g = group.createGroup(name);
    write_string_attribute(
        g,
        "checksum",
        reference_checksum(fingerprint, logps.model_hash, logps.dtype, name, *split));
    write_array(g, "chosen_logps", split->chosen_logps);
    write_array(g, "rejected_logps", split->rejected_logps);
    write_array(g, "chosen_tokens", split->chosen_tokens);
    write_array(g, "rejected_tokens", split->rejected_tokens);
  }
}

// /reference/<model_hash> of `file` (nullopt when absent, or when written before checksums:
// then it is recomputed), verified against its checksum; with `splits` (the prepared file)
// also its sizes and token counts against the splits, before the values are read.
std::optional<ReferenceLogps> read_reference_group(
    const H5::H5File& file,
    const std::string& path,
    const std::string& model_hash,
    const std::string& fingerprint,
    const H5::H5File* splits) {
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
    if (!g.attrExists("checksum")) {
      DPO_LOG_WARN(
          "prepare",
          "the reference log-probs cached in '%s' for %s have no checksum (an older dpo wrote "
          "them): not used, they are computed again",
          path.c_str(),
          model_hash.substr(0, 16).c_str());
      return std::nullopt;
    }
    const std::string checksum = read_string_attribute(g, "checksum", path);
    std::optional<Expected> sized;
    if (splits != nullptr) {
      size_t n = split_size_in_file(*splits, name, path);
      sized =
          Expected{n, "the " + std::string(name) + " split has " + std::to_string(n) + " pairs"};
    }
    split->chosen_logps = read_array<double>(g, where, "chosen_logps", path, sized);
    split->rejected_logps = read_array<double>(g, where, "rejected_logps", path, sized);
    split->chosen_tokens = read_array<int32_t>(g, where, "chosen_tokens", path, sized);
    split->rejected_tokens = read_array<int32_t>(g, where, "rejected_tokens", path, sized);
    const size_t n = split->chosen_logps.size();
    for (size_t size :
         {split->rejected_logps.size(),
          split->chosen_tokens.size(),
          split->rejected_tokens.size()}) {
      if (size != n)
        malformed(path, where + " holds arrays of different sizes");
    }
    if (reference_checksum(fingerprint, logps.model_hash, logps.dtype, name, *split) != checksum) {
      throw CacheError(
          "reference log-probs cached in '" + path + "' (" + where +
              "): checksum mismatch: the values or what they were computed from changed since "
              "they were written",
          kReferenceHint);
    }
    if (splits != nullptr)
      check_token_counts(*split, completion_lengths(*splits, name, n, path), where, path);
  }
  return logps;
}

// Where the computed values go when the prepared file cannot take them (a full disk):
// $TMPDIR (else /tmp)/dpo-reference-<file>-<hash>.h5, a small file of the same layout.
std::string reference_sidecar_path(const std::string& path, const std::string& model_hash) {
  const char* tmp = std::getenv("TMPDIR");
  std::string folder = tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
  size_t slash = path.find_last_of('/');
  std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  return folder + "/dpo-reference-" + base + "-" + model_hash.substr(0, 16) + ".h5";
}

}  // namespace

// ---- PreparedSplit ----

void PreparedSplit::add(
    const EncodedPair& pair,
    int32_t file_index,
    int64_t line,
    const std::string& row_id,
    const std::string& metadata_json,
    const std::string& fields_json) {
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
  metadata.resize(row_ids.size() - 1);  // a split filled field by field before this call
  metadata.push_back(metadata_json);
  fields.resize(row_ids.size() - 1);
  fields.push_back(fields_json);
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
  std::string image = guarded(path, "writing prepared dataset", [&] {
    H5::H5File file = create_memory_file();
    write_string_attribute(file, "format", kPreparedFormat);
    write_int_attribute(file, "version", kPreparedVersion);
    write_string_attribute(file, "fingerprint", header.fingerprint);
    write_string_attribute(file, "source_sha256", header.source_sha256);
    write_string_attribute(file, "tokenizer_sha256", header.tokenizer_sha256);
    write_string_attribute(file, "template_sha256", header.template_sha256);
    if (!header.tokenizer_format.empty())
      write_string_attribute(file, "tokenizer_format", header.tokenizer_format);
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
    return file_image(file);
  });
  seal_prepared_image(image);
  write_image(path, image);
}

std::string not_a_prepared_file(const std::string& path) {
  H5::Exception::dontPrint();
  // A damaged file never reaches libhdf5, which can loop forever on one (prepared_seal.h).
  try {
    verify_prepared_seal(path);
  } catch (const CacheError&) {
    // HDF5 from the first byte: no user block, so never sealed (an older dpo's or another
    // tool's file); otherwise the seal is there and does not match.
    std::string start(8, '\0');
    std::ifstream in(path, std::ios::binary);
    in.read(start.data(), 8);
    if (in && start == std::string("\x89HDF\r\n\x1a\n", 8))
      return "an HDF5 file without dpo's checksum (an older dpo's prepared file, or "
             "another tool's file)";
    return "a damaged prepared file (its checksum does not match)";
  } catch (const IoError&) {
    // Unreadable or absent: isHdf5 below says so as before.
  }
  bool is_hdf5 = false;
  try {
    is_hdf5 = H5::H5File::isHdf5(path.c_str());
  } catch (const H5::Exception&) {
  }
  if (!is_hdf5)
    return "not an HDF5 file";
  try {
    H5::H5File file(path.c_str(), H5F_ACC_RDONLY);
    if (!file.attrExists("format"))
      return "an HDF5 file without dpo's `format` attribute";
    H5::Attribute attribute = file.openAttribute("format");
    if (attribute.getTypeClass() != H5T_STRING ||
        attribute.getSpace().getSimpleExtentNpoints() != 1)
      return "an HDF5 file whose `format` attribute is not a string";
    std::string format;
    attribute.read(attribute.getStrType(), format);
    if (format != kPreparedFormat)
      return "an HDF5 file of format '" + format + "'";
    return "";
  } catch (const H5::Exception& error) {
    return "an HDF5 file that cannot be opened: " + error.getDetailMsg();
  }
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
    const std::vector<std::string>& files = dataset.header.source_files;
    dataset.train = read_split(file, "train", vocab, files, path);
    dataset.val = read_split(file, "val", vocab, files, path);
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
  // Check the sizes and token counts against the file before writing anything.
  std::string fingerprint = guarded(path, "reading prepared dataset", [&] {
    H5::H5File file = open_file(path, H5F_ACC_RDONLY);
    PreparedHeader header = read_header(file, path);
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
      check_token_counts(
          *split,
          completion_lengths(file, name, n, path),
          "reference/" + logps.model_hash + "/" + name,
          path);
    }
    return header.fingerprint;
  });

  // Copy-on-write in memory: the file is loaded, the group added, and the new image written
  // atomically; the prepared file is untouched until the rename.
  verify_prepared_seal(path);
  std::string bytes = read_bytes(path);
  std::string image = guarded(path, "writing reference log-probs to", [&] {
    H5::H5File file = open_memory_file(bytes);
    write_reference_group(file, logps, fingerprint);
    return file_image(file);
  });
  seal_prepared_image(image);
  try {
    write_image(path, image);
  } catch (const IoError& error) {
    // Keep the computed values: a small file of the same layout elsewhere, to import later.
    std::string().swap(image);
    const std::string sidecar = reference_sidecar_path(path, logps.model_hash);
    std::string kept;
    try {
      std::string small = guarded(sidecar, "writing reference log-probs to", [&] {
        H5::H5File file = create_memory_file();
        write_string_attribute(file, "format", "dpo-reference-logps");
        write_string_attribute(file, "prepared_path", path);
        write_string_attribute(file, "prepared_fingerprint", fingerprint);
        write_reference_group(file, logps, fingerprint);
        return file_image(file);
      });
      seal_prepared_image(small);
      write_image(sidecar, small);
      kept = "the computed values are kept in '" + sidecar +
             "': once there is room, cache them with `dpo prepare --out " + path +
             " --import-reference " + sidecar + "`";
    } catch (const Error& sidecar_error) {
      kept = "the computed values could not be kept either (" + sidecar_error.message() + ")";
    }
    throw IoError(
        "caching reference log-probs in '" + path + "' failed: " + error.message(),
        "the prepared file is unchanged and still usable; " + kept);
  }
}

void import_reference_logps(const std::string& path, const std::string& sidecar) {
  const std::string prepared = read_prepared_header(path).fingerprint;
  ReferenceLogps logps = guarded(sidecar, "reading reference log-probs from", [&] {
    H5::H5File file = open_file(sidecar, H5F_ACC_RDONLY);
    if (!file.attrExists("format") ||
        read_string_attribute(file, "format", sidecar) != "dpo-reference-logps") {
      throw CacheError(
          "'" + sidecar + "' is not a file of reference log-probs",
          "pass the file named when caching them failed");
    }
    std::string fingerprint = read_string_attribute(file, "prepared_fingerprint", sidecar);
    if (fingerprint != prepared) {
      throw CacheError(
          "'" + sidecar + "' holds reference log-probs of another prepared file (fingerprint " +
              fingerprint.substr(0, 16) + "; '" + path + "' has " + prepared.substr(0, 16) + ")",
          "import it into the file it was computed on");
    }
    if (!has_link(file, "reference"))
      malformed(sidecar, "group /reference is missing");
    H5::Group reference = file.openGroup("reference");
    if (reference.getNumObjs() != 1)
      malformed(sidecar, "expected one group under /reference");
    std::string hash = reference.getObjnameByIdx(0);
    std::optional<ReferenceLogps> found =
        read_reference_group(file, sidecar, hash, fingerprint, nullptr);
    if (!found)
      malformed(sidecar, "the group /reference/" + hash + " has no checksum");
    return *found;
  });
  write_reference_logps(path, logps);  // checks sizes and token counts against the splits
}

std::optional<ReferenceLogps> read_reference_logps(
    const std::string& path, const std::string& model_hash) {
  return guarded(path, "reading reference log-probs from", [&]() -> std::optional<ReferenceLogps> {
    H5::H5File file = open_file(path, H5F_ACC_RDONLY);
    const std::string fingerprint = read_header(file, path).fingerprint;
    return read_reference_group(file, path, model_hash, fingerprint, &file);
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

Tokenizer tokenizer_for_prepared(const std::string& model_dir, const PreparedHeader& header) {
  // Files without the attribute come from a dpo that read tokenizer.model only.
  const TokenizerFormat format = header.tokenizer_format.empty()
                                     ? TokenizerFormat::sentencepiece
                                     : parse_tokenizer_format(header.tokenizer_format);
  return Tokenizer::from_model_folder(model_dir, format);
}

}  // namespace dpo
