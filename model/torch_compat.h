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
