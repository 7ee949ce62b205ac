// Differences between the LibTorch versions dpo builds against (Debian's 1.13 on CPU, 2.x
// from a PyTorch wheel on GPU machines) live here and nowhere else.
#pragma once

#include <torch/version.h>

// LibTorch >= 2.0 has at::scaled_dot_product_attention (flash and memory-efficient kernels).
#if TORCH_VERSION_MAJOR >= 2
#define DPO_HAS_SDPA 1
#else
#define DPO_HAS_SDPA 0
#endif

// c10::Allocator: LibTorch 2.3 made allocate() non-const and added the pure virtual copy_data().
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 3)
#define DPO_ALLOCATOR_ALLOCATE_CONST
#define DPO_ALLOCATOR_HAS_COPY_DATA 1
#else
#define DPO_ALLOCATOR_ALLOCATE_CONST const
#define DPO_ALLOCATOR_HAS_COPY_DATA 0
#endif
