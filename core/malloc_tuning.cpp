#include "core/malloc_tuning.h"

#include <malloc.h>

#include <cstdlib>
#include <initializer_list>

namespace dpo {

bool keep_freed_memory_in_heap() {
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

}  // namespace dpo
