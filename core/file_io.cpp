#include "core/file_io.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <memory>

#include "core/error.h"
#include "core/text.h"

namespace dpo {

std::string read_file(const std::string& path, const std::string& what) {
  const std::string label = (what.empty() ? "" : what + " ") + "'" + printable(path) + "'";
  struct FileCloser {
    void operator()(std::FILE* file) const {
      std::fclose(file);
    }
  };
  std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "rb"));
  if (!file)
    throw IoError(errno_message("cannot read " + label, errno));
  struct stat info {};
  if (fstat(fileno(file.get()), &info) == 0 && S_ISDIR(info.st_mode)) {
    throw IoError("cannot read " + label + ": it is a directory");
  }
  std::string bytes;
  if (info.st_size > 0)
    bytes.reserve(static_cast<size_t>(info.st_size));
  char buffer[1 << 16];
  size_t got = 0;
  while ((got = std::fread(buffer, 1, sizeof buffer, file.get())) > 0)
    bytes.append(buffer, got);
  if (std::ferror(file.get()))
    throw IoError(errno_message("cannot read " + label, errno));
  return bytes;
}

namespace {

const char* file_type_words(mode_t mode) {
  if (S_ISDIR(mode))
    return "a folder";
  if (S_ISREG(mode))
    return "a file";
  if (S_ISFIFO(mode))
    return "a named pipe (FIFO)";
  if (S_ISSOCK(mode))
    return "a socket";
  if (S_ISCHR(mode) || S_ISBLK(mode))
    return "a device";
  return "not a regular file or folder";
}

}  // namespace

std::string describe_path_problem(const std::string& path, PathKind kind) {
  if (path.empty())
    return "is empty (no path given)";
  struct stat info {};
  if (stat(path.c_str(), &info) != 0) {
    const int error = errno;
    switch (error) {
      case ENOENT: {
        struct stat link {};
        if (lstat(path.c_str(), &link) == 0 && S_ISLNK(link.st_mode)) {
          char target[4096];
          const ssize_t n = readlink(path.c_str(), target, sizeof target);
          return "is a dangling symlink to '" +
                 printable(n > 0 ? std::string(target, static_cast<size_t>(n)) : "?") +
                 "' (its target does not exist)";
        }
        return "does not exist";
      }
      case ELOOP:
        return "is a symlink loop (ELOOP: too many levels of symbolic links)";
      case ENOTDIR:
        return "cannot be reached: a component of the path is a file, not a folder (ENOTDIR)";
      case EACCES:
        return "cannot be reached: permission denied on a folder of the path (EACCES)";
      case ENAMETOOLONG:
        return "is too long a name (ENAMETOOLONG)";
      default:
        return errno_message("cannot be examined", error);
    }
  }
  const bool want_directory = kind == PathKind::directory;
  if (want_directory && !S_ISDIR(info.st_mode))
    return std::string("is ") + file_type_words(info.st_mode) + ", not a folder";
  if (!want_directory && !S_ISREG(info.st_mode))
    return std::string("is ") + file_type_words(info.st_mode) + ", not a file";
  return "";
}

namespace {
void require_kind(
    const std::string& path, PathKind kind, const std::string& role, const std::string& hint) {
  const std::string problem = describe_path_problem(path, kind);
  if (!problem.empty())
    throw IoError(role + " '" + printable(path) + "' " + problem, hint);
}
}  // namespace

void require_directory(const std::string& path, const std::string& role, const std::string& hint) {
  require_kind(path, PathKind::directory, role, hint);
}

void require_regular_file(
    const std::string& path, const std::string& role, const std::string& hint) {
  require_kind(path, PathKind::regular_file, role, hint);
}

bool is_regular_file(const std::string& path) {
  struct stat info {};
  return stat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode);
}

bool is_directory(const std::string& path) {
  struct stat info {};
  return stat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode);
}

}  // namespace dpo
