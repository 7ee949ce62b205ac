// An exclusive lock on a folder that one process writes (a training run's output folder), so
// that a second process writing the same folder is refused instead of interleaving its files
// with the first one's. flock(2) on <folder>/.lock: the kernel releases it when the owner exits
// or dies, so a lock is never stale; the file keeps the owner's pid for the message.
#pragma once

#include <string>

namespace dpo {

class FolderLock {
 public:
  // Takes the lock without waiting. Throws UsageError naming the folder and the owner's pid when
  // another process (or another FolderLock of this one) holds it, IoError when the lock file
  // cannot be created. `what` names the folder's role in messages ("run folder").
  FolderLock(const std::string& folder, const std::string& what);
  ~FolderLock();
  FolderLock(const FolderLock&) = delete;
  FolderLock& operator=(const FolderLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace dpo
