// Shared by the libFuzzer harnesses of tests/fuzz/: a scratch file per process for parsers
// that read paths, and the one rule every harness checks: bad input ends in a dpo::Error (a
// message for the user), never in another exception, a crash, a hang or an out-of-bounds read.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace dpo::fuzz {

// A path in /dev/shm (or /tmp) private to this process, ending in `suffix`.
inline std::string scratch_path(const char* suffix) {
  const char* dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
  return std::string(dir) + "/dpo-fuzz-" + std::to_string(getpid()) + suffix;
}

// Writes the input to `path` (replacing it); aborts when it cannot (a harness bug, not a find).
inline void write_scratch(const std::string& path, const uint8_t* data, size_t size) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr)
    std::abort();
  if (size > 0 && std::fwrite(data, 1, size, f) != size)
    std::abort();
  std::fclose(f);
}

}  // namespace dpo::fuzz
