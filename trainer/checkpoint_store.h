// The checkpoints folder of a run: RUN/checkpoints/step-00000100/ ... and a LATEST file naming
// the newest complete one. A checkpoint is written into a temporary sibling folder, fsynced and
// renamed; LATEST is replaced atomically afterwards; older checkpoints beyond `keep` are deleted
// only then, and only those numbered below the new one. A crash at any point leaves LATEST naming a
// complete checkpoint (or none).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace dpo {

class CheckpointStore {
 public:
  CheckpointStore(std::string run_dir, int keep);

  // A fresh, empty temporary folder to write the checkpoint of `step` into.
  std::string begin(uint64_t step);
  // fsyncs every file in the temporary folder, renames it to its final name, points LATEST at
  // it and prunes old checkpoints. Returns the final folder.
  std::string commit(uint64_t step);

  // The folder LATEST names, when there is one and it exists; CheckpointError when LATEST names
  // a missing folder.
  std::optional<std::string> latest() const;
  // Complete checkpoints, oldest first.
  std::vector<std::string> list() const;

  static std::string folder_name(uint64_t step);  // "step-00000100"

 private:
  std::string dir_;  // RUN/checkpoints
  int keep_;
};

}  // namespace dpo
