// Process-wide malloc settings for dpo's workloads (measured in docs/benchmarks.md).
#pragma once

namespace dpo {

// glibc's malloc hands every freed buffer above 128 KiB back to the kernel (munmap, or a trim of
// the heap top) and page-faults it in again on the next use; a training step allocates the same
// activation buffers every time. Raising the mmap and trim thresholds keeps freed memory in the
// heap for reuse. Call once at start-up, before the big allocations. Skipped when the user set
// MALLOC_* tunables in the environment. Returns true when the settings were applied.
bool keep_freed_memory_in_heap();

}  // namespace dpo
