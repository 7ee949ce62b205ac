#include "core/file_io.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <memory>

#include "core/error.h"

namespace dpo {

std::string read_file(const std::string& path, const std::string& what) {
  const std::string label = (what.empty() ? "" : what + " ") + "'" + path + "'";
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

bool is_regular_file(const std::string& path) {
  struct stat info {};
  return stat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode);
}

bool is_directory(const std::string& path) {
  struct stat info {};
  return stat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode);
}

}  // namespace dpo
