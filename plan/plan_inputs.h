// The memory plan's inputs from a run config: the model's config.json (no weights), the train,
// reference and eval sections, and, when the prepared file exists, the lengths of its pairs (the
// largest micro-batch it can make) instead of the max_length worst case.
#pragma once

#include <cstdint>
#include <string>

#include "plan/memory_plan.h"
#include "trainer/config.h"

namespace dpo {

struct PreparedSplit;

// Resident memory of a `dpo train` process on the CPU besides its tensors: LibTorch and its
// libraries, the allocator's arenas, the tokenizer (measured: docs/memory.md). It depends on
// the LibTorch dpo-torch loads, so CMake sets it per build (plan/CMakeLists.txt): ~180 MiB with
// Debian's LibTorch 1.13 (CPU only), ~380 MiB with a PyTorch 2.x wheel's (CUDA compiled in),
// 15 MiB more with tcmalloc.
#ifndef DPO_CPU_BASELINE_MIB
#define DPO_CPU_BASELINE_MIB 180
#endif
constexpr int64_t kCpuProcessBaselineBytes = int64_t{DPO_CPU_BASELINE_MIB} << 20;

// The plan's inputs under a run config (lora and train.gradient_checkpointing included).
// `model` is the policy's config.json;
// `device` the device the run will use (train.device resolved). Reads data.prepared when it
// names an existing file: its pairs give the micro-batch shapes and the data's size in memory.
PlanInputs plan_inputs_from_config(
    const Config& config, const ModelConfig& model, PlanDevice device);

// The largest micro-batch of `pairs` pairs `split` can make in `layout`: the `pairs` pairs with
// the most tokens together, its longest sequence setting the attention length.
MicroBatchShape largest_micro_batch(const PreparedSplit& split, int64_t pairs, PlanLayout layout);

// The bytes a split holds in memory (ids, offsets, row ids).
int64_t split_memory_bytes(const PreparedSplit& split);

}  // namespace dpo
