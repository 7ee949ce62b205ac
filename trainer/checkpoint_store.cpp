#include "trainer/checkpoint_store.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string_view>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/format.h"
#include "core/log.h"
#include "core/text.h"

namespace fs = std::filesystem;

namespace dpo {
namespace {

constexpr const char* kPrefix = "step-";
constexpr const char* kTempSuffix = ".tmp";

void fsync_tree(const fs::path& root) {
  std::error_code error;
  for (fs::recursive_directory_iterator it(root, error), end; !error && it != end;
       it.increment(error)) {
    std::error_code kind;
    if (it->is_regular_file(kind) || it->is_directory(kind))
      fsync_path(it->path().string());
  }
  if (error)
    throw IoError("cannot list '" + root.string() + "' to sync it: " + error.message());
  fsync_path(root.string());
}

// User-controlled bytes (a LATEST file's content) for a message: escaped, cut after 80 bytes.
std::string shown(std::string_view bytes) {
  constexpr size_t kLimit = 80;
  return printable(bytes.substr(0, kLimit)) + (bytes.size() > kLimit ? "..." : "");
}

// "step-" and decimal digits, nothing else: a name inside checkpoints/, never a path.
bool is_checkpoint_name(std::string_view name) {
  const std::string_view prefix = kPrefix;
  if (name.size() <= prefix.size() || name.substr(0, prefix.size()) != prefix)
    return false;
  return std::all_of(
      name.begin() + static_cast<std::ptrdiff_t>(prefix.size()), name.end(), [](char c) {
        return c >= '0' && c <= '9';
      });
}

}  // namespace

CheckpointStore::CheckpointStore(std::string run_dir, int keep)
    : dir_(std::move(run_dir) + "/checkpoints"), keep_(std::max(1, keep)) {}

std::string CheckpointStore::folder_name(uint64_t step) {
  return format("%s%08llu", kPrefix, static_cast<unsigned long long>(step));
}

std::string CheckpointStore::begin(uint64_t step) {
  fs::path temp = fs::path(dir_) / (folder_name(step) + kTempSuffix);
  std::error_code error;
  fs::remove_all(temp, error);  // left over from a crash
  fs::create_directories(temp, error);
  if (error)
    throw IoError("cannot create '" + temp.string() + "': " + error.message());
  return temp.string();
}

std::string CheckpointStore::commit(uint64_t step) {
  fs::path temp = fs::path(dir_) / (folder_name(step) + kTempSuffix);
  fs::path final_dir = fs::path(dir_) / folder_name(step);
  fsync_tree(temp);
  std::error_code error;
  fs::remove_all(final_dir, error);  // a checkpoint of the same step from an earlier attempt
  fs::rename(temp, final_dir, error);
  if (error) {
    throw IoError(
        "cannot rename '" + temp.string() + "' to '" + final_dir.string() +
        "': " + error.message());
  }
  fsync_path(dir_);
  write_file_atomically(dir_ + "/LATEST", folder_name(step) + "\n");

  // Rotation: of the checkpoints numbered below this one, keep the newest keep_ - 1. A folder
  // numbered above it is not this run's history (nothing of a later step exists yet): never
  // delete it, nor the checkpoint just written.
  std::vector<std::string> older;
  for (const std::string& folder : list()) {
    if (fs::path(folder).filename().string() < folder_name(step))
      older.push_back(folder);  // zero-padded names: text order is step order
  }
  for (size_t i = 0; i + static_cast<size_t>(keep_ - 1) < older.size(); ++i) {
    fs::remove_all(older[i], error);
    if (error)
      DPO_LOG_WARN(
          "checkpoint", "could not delete '%s': %s", older[i].c_str(), error.message().c_str());
  }
  return final_dir.string();
}

std::optional<std::string> CheckpointStore::latest() const {
  const std::string latest_path = dir_ + "/LATEST";
  std::error_code error;
  if (!fs::exists(fs::symlink_status(latest_path, error)))
    return std::nullopt;
  constexpr const char* kHint =
      "point LATEST at an existing checkpoint of this run (one line: a step-* folder name from "
      "checkpoints/), or start again with --overwrite";
  // A short file: more than a name in it is not a LATEST this program wrote.
  std::ifstream file(latest_path, std::ios::binary);
  std::string content(257, '\0');
  file.read(content.data(), static_cast<std::streamsize>(content.size()));
  if (file.bad() || (!file && file.gcount() == 0 && !file.eof())) {
    throw CheckpointError("cannot read '" + latest_path + "'", kHint);
  }
  content.resize(static_cast<size_t>(file.gcount()));
  const std::string name(trim_whitespace(content));
  if (!is_checkpoint_name(name)) {
    throw CheckpointError(
        "'" + latest_path + "' holds '" + shown(content) +
            "', which is not the name of a checkpoint folder (step-N inside checkpoints/)",
        kHint);
  }
  const fs::path folder = fs::path(dir_) / name;
  const fs::file_status status = fs::symlink_status(folder, error);
  if (!fs::is_directory(status)) {
    throw CheckpointError(
        "'" + latest_path + "' names '" + name + "', which " +
            (fs::exists(status) ? "is not a folder (a symlink or a file)" : "does not exist") +
            " in '" + dir_ + "'",
        kHint);
  }
  return folder.string();
}

std::vector<std::string> CheckpointStore::list() const {
  std::vector<std::string> folders;
  std::error_code error;
  if (!fs::is_directory(dir_, error))
    return folders;
  for (fs::directory_iterator it(dir_, error), end; !error && it != end; it.increment(error)) {
    std::string name = it->path().filename().string();
    if (it->is_directory(error) && is_checkpoint_name(name))
      folders.push_back(it->path().string());
  }
  if (error)
    throw IoError("cannot list '" + dir_ + "': " + error.message());
  std::sort(folders.begin(), folders.end());  // zero-padded step numbers sort by step
  return folders;
}

}  // namespace dpo
