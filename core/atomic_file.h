// Atomic writes: readers see either the old file or the complete new one, never a partial
// file, even if the process dies mid-write. Caches and checkpoints are written this way.
#pragma once

#include <string>
#include <string_view>

namespace dpo {

// Write through a temporary file in the destination's folder. The caller (or a library such
// as HDF5) writes temp_path(); commit() fsyncs it, renames it over path() and fsyncs the
// folder. Destroyed without commit(), the temporary file is removed.
class AtomicFile {
 public:
  explicit AtomicFile(std::string path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  const std::string& path() const {
    return path_;
  }
  const std::string& temp_path() const {
    return temp_path_;
  }
  void commit();

 private:
  std::string path_;
  std::string temp_path_;
  bool committed_ = false;
};

// Atomically replaces `path` with `content`.
void write_file_atomically(const std::string& path, std::string_view content);

// Flush a file's or a folder's data to the disk; throw IoError on failure.
void fsync_path(const std::string& path);

// The folder part of a path ("." for a bare file name).
std::string parent_directory(const std::string& path);

}  // namespace dpo
