// The baseline of the tokenization benchmarks is sentencepiece's own `spm_encode`, which Debian
// ships in the `sentencepiece` package (not a build dependency of dpo). Both benchmarks look for
// it before they spend minutes on their own side, and say how to get it when it is missing.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <sstream>
#include <stdexcept>
#include <string>

namespace dpo_bench {

// Throws, with the fix, unless `program` (a path, or a name looked up on PATH) is executable.
inline void require_spm_encode(const std::string& program) {
  auto executable = [](const std::string& path) { return access(path.c_str(), X_OK) == 0; };
  bool found = false;
  if (program.find('/') != std::string::npos) {
    found = executable(program);
  } else if (const char* path = std::getenv("PATH")) {
    std::istringstream folders(path);
    for (std::string folder; !found && std::getline(folders, folder, ':');)
      found = executable((folder.empty() ? "." : folder) + "/" + program);
  }
  if (!found) {
    throw std::runtime_error(
        program +
        " not found: it is the baseline of this benchmark, from Debian's "
        "`sentencepiece` package (`make bench` installs it, or apt-get install "
        "sentencepiece), or pass the path of another build of it");
  }
}

}  // namespace dpo_bench
