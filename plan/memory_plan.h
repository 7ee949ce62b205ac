// The memory plan of a training run (`dpo plan`, and `dpo train` before it starts): the expected
// peak memory of one device, term by term (weights, gradients, AdamW moments, fp32 master
// weights, activations of a micro-batch, the logits chunk, the reference model, LoRA adapters,
// the CPU process's baseline), whether it fits into a given memory, and which settings would
// make it fit. Arithmetic only: no LibTorch, no weights, just the model's config.json and the run
// config. Every term's formula and why is in memory_plan.cpp and docs/memory.md.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/lora_config.h"
#include "model/model_config.h"
#include "trainer/config.h"

namespace dpo {

enum class PlanDevice { cpu, cuda };

// The shape of the largest micro-batch as the layers see it (model/packed_batch.h): `tokens`
// positions go through the projections and the MLP; attention runs over `attention_rows` rows
// of `attention_length` positions each (padded rows, or the padding-free layout's views);
// `predicted` positions go through the final norm and the LM head.
struct MicroBatchShape {
  int64_t tokens = 0;
  int64_t attention_rows = 0;
  int64_t attention_length = 0;
  int64_t predicted = 0;
};

// The pair layout of train.prefix_sharing and train.padding_free (model/packed_batch.h's
// PairLayout, which needs LibTorch's headers).
struct PlanLayout {
  bool prefix_sharing = true;
  bool padding_free = true;
};

// The worst case of a micro-batch of `pairs` pairs whose sequences have at most `max_length`
// tokens in `layout`, the prompts unknown (one token each, so that nothing is shared).
MicroBatchShape worst_case_micro_batch(int64_t pairs, int64_t max_length, PlanLayout layout);

// Everything the estimate depends on. plan_inputs_from_config (plan/plan_inputs.h) fills it
// from a run config.
struct PlanInputs {
  ModelConfig model;
  LoraConfig lora;  // lora.enabled: adapters on a frozen base, the reference is "adapters off"
  int64_t micro_batch_pairs = 4;
  int64_t grad_accum = 1;
  MicroBatchShape micro_batch;  // of micro_batch_pairs pairs
  // The largest batch of the no-gradient passes (held-out evaluation, precomputed reference
  // log-probs): eval.batch_pairs pairs.
  MicroBatchShape eval_batch;
  TrainDtype dtype = TrainDtype::fp32;
  bool gradient_checkpointing = false;
  ReferenceMode reference_mode = ReferenceMode::precomputed;
  // A second model in memory beside the policy: live mode without LoRA (a frozen copy of the
  // initial policy or reference.path). With LoRA the reference is the policy, adapters off.
  bool separate_reference = false;
  int64_t max_chunk_logits = int64_t{1} << 24;  // LogprobOptions::max_chunk_logits
  PlanDevice device = PlanDevice::cpu;
  // A reference model loaded beside the policy only for the precomputed reference pass
  // (reference.path names another model, reference.mode = precomputed): freed before training.
  bool reference_pass_model = false;
  // Attention through scaled_dot_product_attention (LibTorch 2.x): no [T, T] scores kept.
  // Without it (LibTorch 1.13) the eager attention keeps its softmax probabilities.
  bool sdpa = false;
  // CPU only: resident memory of the process before the model is loaded (LibTorch and its
  // libraries, the allocator's arenas), and the prepared data held in memory.
  int64_t cpu_baseline_bytes = 0;
  int64_t data_bytes = 0;
};

// One term of the breakdown.
struct PlanTerm {
  std::string name;    // "weights", "gradients", ...
  int64_t bytes = 0;   // held at the peak
  std::string detail;  // how it was computed, in words and figures
};

struct MemoryPlan {
  std::vector<PlanTerm> terms;  // in order; their sum is peak_bytes
  int64_t peak_bytes = 0;
  std::string peak_phase;  // "backward", "optimizer step", "evaluation"
  // Activations of one micro-batch with and without gradient checkpointing (whichever the run
  // uses is in `terms`).
  int64_t activations_bytes = 0, activations_checkpointed_bytes = 0;
  int64_t trainable_parameters = 0, total_parameters = 0;
};

MemoryPlan estimate_memory(const PlanInputs& inputs);

// A change of settings that makes the run fit (or come closest), with its own estimate.
struct PlanSuggestion {
  std::string description;       // "micro-batch of 2 pairs (grad_accum 2)"
  std::vector<std::string> set;  // --set assignments: "train.micro_batch_pairs=2"
  PlanInputs inputs;             // the changed inputs
  MemoryPlan plan;               // their estimate
  bool fits = false;
};

struct PlanVerdict {
  MemoryPlan plan;
  int64_t budget_bytes = 0;  // 0: unknown (nothing is judged)
  bool fits = true;
  // When it does not fit: the single changes and combinations tried, those that fit first.
  std::vector<PlanSuggestion> suggestions;
};

PlanVerdict judge_memory_plan(const PlanInputs& inputs, int64_t budget_bytes);

// "24GiB", "24 GiB", "80GB", "512MiB", "1.5TiB", "1073741824" -> bytes. GB/MB are decimal,
// GiB/MiB binary. Throws UsageError naming `what` otherwise.
int64_t parse_byte_size(const std::string& text, const std::string& what);
// 1536 MiB -> "1.50 GiB"; below 1 MiB in KiB.
std::string format_bytes(int64_t bytes);

// MemAvailable of /proc/meminfo (what the kernel can give without swapping); 0 when unknown.
int64_t available_host_memory_bytes();

const char* plan_device_name(PlanDevice device);

}  // namespace dpo
