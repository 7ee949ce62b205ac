#include "core/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <filesystem>

#include "core/error.h"

namespace dpo {

namespace {
std::atomic<unsigned> g_temp_counter{0};

std::string make_temp_path(const std::string& path) {
  return path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(g_temp_counter++);
}
}  // namespace

std::string parent_directory(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos)
    return ".";
  if (slash == 0)
    return "/";
  return path.substr(0, slash);
}

void fsync_path(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    throw IoError(errno_message("cannot open '" + path + "' to sync it", errno));
  int rc = ::fsync(fd);
  int saved = errno;
  ::close(fd);
  // Some file systems refuse fsync on folders (EINVAL); the rename is still atomic there.
  if (rc != 0 && saved != EINVAL) {
    throw IoError(errno_message("fsync of '" + path + "' failed", saved));
  }
}

AtomicFile::AtomicFile(std::string path)
    : path_(std::move(path)), temp_path_(make_temp_path(path_)) {}

AtomicFile::~AtomicFile() {
  if (!committed_)
    ::unlink(temp_path_.c_str());
}

void AtomicFile::commit() {
  fsync_path(temp_path_);
  if (::rename(temp_path_.c_str(), path_.c_str()) != 0) {
    throw IoError(errno_message("cannot rename '" + temp_path_ + "' to '" + path_ + "'", errno));
  }
  committed_ = true;
  fsync_path(parent_directory(path_));
}

void write_file_atomically(const std::string& path, std::string_view content) {
  AtomicFile file(path);
  FILE* out = std::fopen(file.temp_path().c_str(), "wb");
  if (out == nullptr) {
    throw IoError(errno_message("cannot create '" + file.temp_path() + "'", errno));
  }
  size_t written = std::fwrite(content.data(), 1, content.size(), out);
  bool ok = written == content.size() && std::fflush(out) == 0;
  int saved = errno;
  if (std::fclose(out) != 0)
    ok = false;
  if (!ok)
    throw IoError(errno_message("cannot write '" + file.temp_path() + "'", saved));
  file.commit();
}

void write_folder_atomically(
    const std::string& folder_arg,
    bool overwrite,
    const std::string& what,
    const std::function<void(const std::string& temp)>& fill) {
  namespace fs = std::filesystem;
  std::string folder = folder_arg;
  while (folder.size() > 1 && folder.back() == '/')
    folder.pop_back();
  std::error_code ec;
  const bool exists = fs::exists(folder, ec);
  if (exists && !fs::is_directory(folder, ec))
    throw CheckpointError("cannot save " + what + " to '" + folder + "': it is a file");
  const bool non_empty = exists && !fs::is_empty(folder, ec);
  if (non_empty && !overwrite) {
    throw CheckpointError(
        "cannot save " + what + " to '" + folder + "': the folder exists and is not empty",
        "choose a new folder or remove the old one");
  }

  const std::string suffix = std::to_string(::getpid()) + "." + std::to_string(g_temp_counter++);
  const std::string temp = folder + ".tmp." + suffix;
  struct RemoveOnFailure {
    std::string path;
    bool armed = true;
    ~RemoveOnFailure() {
      std::error_code ignored;
      if (armed)
        fs::remove_all(path, ignored);
    }
  } cleanup{temp};
  if (!fs::create_directories(temp, ec) || ec)
    throw IoError("cannot create the folder '" + temp + "': " + ec.message());
  fill(temp);
  fsync_path(temp);

  std::string old;
  if (exists) {
    if (non_empty) {
      old = folder + ".old." + suffix;
      fs::rename(folder, old, ec);
    } else {
      fs::remove(folder, ec);
    }
    if (ec)
      throw IoError("cannot move '" + folder + "' out of the way: " + ec.message());
  }
  fs::rename(temp, folder, ec);
  if (ec)
    throw IoError("cannot rename '" + temp + "' to '" + folder + "': " + ec.message());
  cleanup.armed = false;
  fsync_path(parent_directory(folder));
  if (!old.empty())
    fs::remove_all(old, ec);
}

}  // namespace dpo
