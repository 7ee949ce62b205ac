#include "core/malloc_tuning.h"

#include <dlfcn.h>
#include <malloc.h>

#include <cstdlib>
#include <initializer_list>

namespace dpo {
namespace {

// tcmalloc's version function, when tcmalloc is linked into (or preloaded in) this process.
using TcVersion = const char* (*)(int* major, int* minor, const char** patch);
TcVersion tcmalloc_version_function() {
  return reinterpret_cast<TcVersion>(dlsym(RTLD_DEFAULT, "tc_version"));
}

}  // namespace

bool keep_freed_memory_in_heap() {
  if (tcmalloc_version_function() != nullptr)
    return false;
  for (const char* name : {"MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_"}) {
    if (std::getenv(name) != nullptr)
      return false;
  }
  constexpr int kMiB = 1 << 20;
  // 32 MiB is the largest mmap threshold glibc accepts on 64-bit; larger buffers stay mmapped.
  bool ok = mallopt(M_MMAP_THRESHOLD, 32 * kMiB) == 1;
  ok = mallopt(M_TRIM_THRESHOLD, 1024 * kMiB) == 1 && ok;
  ok = mallopt(M_TOP_PAD, 256 * kMiB) == 1 && ok;
  return ok;
}

std::string malloc_name() {
  if (TcVersion version = tcmalloc_version_function()) {
    int major = 0;
    int minor = 0;
    version(&major, &minor, nullptr);
    return "tcmalloc " + std::to_string(major) + "." + std::to_string(minor);
  }
  return "glibc";
}

}  // namespace dpo
