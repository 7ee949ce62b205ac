#include "trainer/run_folder.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <system_error>

#include "core/error.h"
#include "core/log.h"

namespace fs = std::filesystem;

namespace dpo {
namespace {

// The writer's pid of a NAME.tmp.PID.N file (core/atomic_file.cpp's temporary names); 0 when the
// name is not one.
pid_t temp_file_owner(const std::string& name) {
  const size_t last_dot = name.rfind('.');
  if (last_dot == std::string::npos || last_dot == 0)
    return 0;
  const size_t pid_dot = name.rfind('.', last_dot - 1);
  if (pid_dot == std::string::npos || pid_dot < 4 || name.compare(pid_dot - 4, 4, ".tmp") != 0)
    return 0;
  auto digits = [&](size_t from, size_t to) {
    if (from >= to || to - from > 9)
      return false;
    for (size_t i = from; i < to; ++i) {
      if (name[i] < '0' || name[i] > '9')
        return false;
    }
    return true;
  };
  if (!digits(pid_dot + 1, last_dot) || !digits(last_dot + 1, name.size()))
    return 0;
  return static_cast<pid_t>(std::stol(name.substr(pid_dot + 1, last_dot - pid_dot - 1)));
}

// This process (a pid reused after its earlier owner died: that owner is gone too) or no process.
bool owner_is_gone(pid_t pid) {
  if (pid == getpid())
    return true;
  return ::kill(pid, 0) != 0 && errno == ESRCH;
}

// The first existing folder above `path` that is not a folder, for "lies under a file".
std::string file_above(const fs::path& path) {
  std::error_code error;
  for (fs::path p = path.parent_path(); !p.empty() && p != p.root_path(); p = p.parent_path()) {
    const fs::file_status status = fs::status(p, error);
    if (fs::exists(status))
      return fs::is_directory(status) ? "" : p.string();
  }
  return "";
}

}  // namespace

void create_run_folder(const std::string& out_dir) {
  const std::string what = "the run folder '" + out_dir + "' (train.out_dir)";
  const std::string hint = "set train.out_dir to a folder you can write";
  std::error_code error;
  const fs::file_status status = fs::status(out_dir, error);
  if (fs::exists(status) && !fs::is_directory(status))
    throw IoError(what + " is not a folder: a file of that name exists", hint);
  fs::create_directories(out_dir, error);
  if (error) {
    const std::string file = file_above(out_dir);
    throw IoError(
        "cannot create " + what + ": " +
            (file.empty() ? error.message() : "'" + file + "' is a file, not a folder"),
        hint);
  }
  if (::access(out_dir.c_str(), W_OK | X_OK) != 0)
    throw IoError(errno_message("cannot write into " + what, errno), hint);
}

std::vector<std::string> remove_stale_run_temporaries(const std::string& out_dir) {
  std::vector<std::string> removed;
  auto remove = [&](const fs::path& path, const std::string& why) {
    std::error_code error;
    fs::remove_all(path, error);
    if (error) {
      DPO_LOG_WARN(
          "train",
          "could not remove the stale temporary %s: %s",
          path.string().c_str(),
          error.message().c_str());
      return;
    }
    DPO_LOG_INFO("train", "removed %s (%s)", path.string().c_str(), why.c_str());
    removed.push_back(path.string());
  };
  // Only the names a run writes: another program's files in the folder are not ours to judge.
  auto is_run_temporary = [](const std::string& base, bool in_checkpoints) {
    if (in_checkpoints)
      return base == "LATEST";
    static const char* const kBases[] = {
        "metrics.jsonl",
        "manifest.json",
        "eval_pairs.jsonl",
        "validate.json",
        "informativeness.json",
        "report.html",
        "final",
        "best"};
    for (const char* known : kBases) {
      if (base == known)
        return true;
    }
    return base.size() > 3 && base.compare(base.size() - 3, 3, ".h5") == 0;  // prepared.h5
  };
  for (const bool in_checkpoints : {false, true}) {
    const fs::path folder = in_checkpoints ? fs::path(out_dir) / "checkpoints" : fs::path(out_dir);
    std::error_code error;
    if (!fs::is_directory(folder, error))
      continue;
    std::vector<fs::path> entries;
    for (fs::directory_iterator it(folder, error), end; !error && it != end; it.increment(error))
      entries.push_back(it->path());
    if (error) {
      DPO_LOG_WARN(
          "train",
          "could not look through %s for stale temporaries: %s",
          folder.string().c_str(),
          error.message().c_str());
    }
    for (const fs::path& path : entries) {
      const std::string name = path.filename().string();
      if (in_checkpoints && name.rfind("step-", 0) == 0 && name.size() > 9 &&
          name.compare(name.size() - 4, 4, ".tmp") == 0 &&
          fs::is_directory(fs::symlink_status(path, error))) {
        remove(path, "an unfinished checkpoint of a process that stopped while writing it");
        continue;
      }
      const pid_t owner = temp_file_owner(name);
      if (owner <= 0 || !is_run_temporary(name.substr(0, name.rfind(".tmp.")), in_checkpoints))
        continue;
      if (owner_is_gone(owner)) {
        remove(path, "a temporary of pid " + std::to_string(owner) + ", which is gone");
      } else {
        DPO_LOG_WARN(
            "train",
            "left %s: its writer, pid %d, is still running",
            path.string().c_str(),
            static_cast<int>(owner));
      }
    }
  }
  return removed;
}

std::vector<std::string> run_files_in(const std::string& out_dir) {
  static const char* const kRunFiles[] = {
      "checkpoints",
      "final",
      "best",
      "metrics.jsonl",
      "manifest.json",
      "eval_pairs.jsonl",
      "validate.json",
      "informativeness.json",
      "report.html"};
  std::vector<std::string> present;
  for (const char* name : kRunFiles) {
    std::error_code error;
    if (fs::exists(fs::path(out_dir) / name, error))
      present.push_back(name);
  }
  return present;
}

void claim_run_folder(const std::string& out_dir, bool overwrite) {
  const std::vector<std::string> present = run_files_in(out_dir);
  if (present.empty())
    return;
  std::string listed;
  for (const std::string& name : present)
    listed += (listed.empty() ? "" : ", ") + name;
  if (!overwrite) {
    throw CheckpointError(
        "'" + out_dir + "' already holds a run (" + listed + ")",
        "continue it with --resume, replace it with --overwrite, or set another train.out_dir");
  }
  for (const std::string& name : present) {
    std::error_code error;
    fs::remove_all(fs::path(out_dir) / name, error);
    if (error) {
      throw IoError(
          "cannot delete '" + (fs::path(out_dir) / name).string() +
          "' of the run replaced: " + error.message());
    }
  }
  DPO_LOG_INFO("train", "replaced the run in %s (%s deleted)", out_dir.c_str(), listed.c_str());
}

}  // namespace dpo
