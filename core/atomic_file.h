// Atomic writes: readers see either the old file or the complete new one, never a partial
// file, even if the process dies mid-write. Caches and checkpoints are written this way.
#pragma once

#include <functional>
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

// Writes a whole folder atomically (a model or adapter folder): `fill` writes its files into a
// fresh temporary folder beside `folder`, which then takes `folder`'s place by rename; an
// existing folder is moved aside first and removed after. CheckpointError naming `what` ("the
// model") when `folder` is a file, or is not empty and `overwrite` is false; on failure the
// temporary folder is removed and `folder` is left as it was.
void write_folder_atomically(
    const std::string& folder,
    bool overwrite,
    const std::string& what,
    const std::function<void(const std::string& temp)>& fill);

// Flush a file's or a folder's data to the disk; throw IoError on failure.
void fsync_path(const std::string& path);

// The folder part of a path ("." for a bare file name).
std::string parent_directory(const std::string& path);

}  // namespace dpo
