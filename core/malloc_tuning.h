// Process-wide malloc settings for dpo's workloads (measured in docs/benchmarks.md).
#pragma once

#include <string>

namespace dpo {

// glibc's malloc hands every freed buffer above 128 KiB back to the kernel (munmap, or a trim of
// the heap top) and page-faults it in again on the next use; a training step allocates the same
// activation buffers every time. Raising the mmap and trim thresholds keeps freed memory in the
// heap for reuse. Call once at start-up, before the big allocations. Skipped when the user set
// MALLOC_* tunables in the environment, and when the process allocates with tcmalloc (dpo-torch
// links it where the build found it: cmake/Dependencies.cmake), which reuses freed buffers by
// itself. Returns true when the settings were applied.
bool keep_freed_memory_in_heap();

// The malloc this process allocates with: "tcmalloc 2.10" or "glibc".
std::string malloc_name();

}  // namespace dpo
