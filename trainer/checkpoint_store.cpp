#include "trainer/checkpoint_store.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

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
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (entry.is_regular_file() || entry.is_directory())
      fsync_path(entry.path().string());
  }
  fsync_path(root.string());
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
  std::ifstream file(dir_ + "/LATEST");
  if (!file)
    return std::nullopt;
  std::string name;
  std::getline(file, name);
  name = std::string(trim_whitespace(name));
  fs::path folder = fs::path(dir_) / name;
  if (name.empty() || !fs::is_directory(folder)) {
    throw CheckpointError(
        "'" + dir_ + "/LATEST' names '" + name + "', which is not a checkpoint folder",
        "delete LATEST to start over, or point it at an existing step-* folder");
  }
  return folder.string();
}

std::vector<std::string> CheckpointStore::list() const {
  std::vector<std::string> folders;
  std::error_code error;
  if (!fs::is_directory(dir_, error))
    return folders;
  for (const auto& entry : fs::directory_iterator(dir_)) {
    std::string name = entry.path().filename().string();
    if (entry.is_directory() && name.rfind(kPrefix, 0) == 0 &&
        name.find(kTempSuffix) == std::string::npos) {
      folders.push_back(entry.path().string());
    }
  }
  std::sort(folders.begin(), folders.end());  // zero-padded step numbers sort by step
  return folders;
}

}  // namespace dpo
