#include "core/folder_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "core/error.h"

namespace dpo {

FolderLock::FolderLock(const std::string& folder, const std::string& what) {
  const std::string path = folder + "/.lock";
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0)
    throw IoError(errno_message("cannot create the lock file '" + path + "'", errno));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    char owner[32] = {};
    const ssize_t got = ::pread(fd_, owner, sizeof owner - 1, 0);
    ::close(fd_);
    fd_ = -1;
    if (error != EWOULDBLOCK)
      throw IoError(errno_message("cannot lock '" + path + "'", error));
    std::string pid = got > 0 ? std::string(owner, static_cast<size_t>(got)) : "unknown";
    while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' '))
      pid.pop_back();
    throw UsageError(
        "the " + what + " '" + folder + "' is in use by another dpo process (pid " + pid + ")",
        "wait for it to finish, stop it, or choose another folder");
  }
  // The owner's pid, for the message another process gets.
  const std::string pid = std::to_string(::getpid()) + "\n";
  // A failed write leaves the lock held without the pid: only a refused process's message is
  // poorer, so the results are deliberately not checked.
  const bool recorded = ::ftruncate(fd_, 0) == 0 && ::pwrite(fd_, pid.data(), pid.size(), 0) ==
                                                        static_cast<ssize_t>(pid.size());
  (void)recorded;
}

FolderLock::~FolderLock() {
  if (fd_ >= 0)
    ::close(fd_);  // releases the flock
}

}  // namespace dpo
