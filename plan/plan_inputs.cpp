#include "plan/plan_inputs.h"

#include <algorithm>
#include <filesystem>
#include <functional>
#include <vector>

#include "dataloader/prepared_dataset.h"

namespace dpo {

namespace {

// The sum of the `n` largest values.
int64_t sum_of_largest(std::vector<int64_t> values, int64_t n) {
  const size_t k = std::min(values.size(), static_cast<size_t>(std::max<int64_t>(n, 0)));
  std::partial_sort(values.begin(), values.begin() + k, values.end(), std::greater<int64_t>());
  int64_t sum = 0;
  for (size_t i = 0; i < k; ++i)
    sum += values[i];
  return sum;
}

}  // namespace

MicroBatchShape largest_micro_batch(const PreparedSplit& split, int64_t pairs, PlanLayout layout) {
  MicroBatchShape b;
  const size_t n = split.size();
  if (n == 0)
    return b;
  pairs = std::min<int64_t>(pairs, static_cast<int64_t>(n));
  std::vector<int64_t> shared, unshared, completions;
  int64_t longest = 0, longest_pair = 0;
  for (size_t i = 0; i < n; ++i) {
    const int64_t p = split.prompt_offsets[i + 1] - split.prompt_offsets[i];
    const int64_t chosen = split.chosen_length(i), rejected = split.rejected_length(i);
    const int64_t c = chosen - p, r = rejected - p;
    shared.push_back(p + c + r);  // [prompt | chosen | rejected]
    unshared.push_back(chosen + rejected);
    completions.push_back(c + r);
    longest = std::max({longest, chosen, rejected});
    longest_pair = std::max(longest_pair, p + c + r);
  }
  b.predicted = sum_of_largest(completions, pairs);
  if (layout.padding_free) {
    b.tokens = sum_of_largest(layout.prefix_sharing ? shared : unshared, pairs);
    b.attention_rows = 2 * pairs;  // one view per sequence, padded to the longest
    b.attention_length = longest;
  } else if (layout.prefix_sharing) {
    b.tokens = pairs * longest_pair;
    b.attention_rows = pairs;
    b.attention_length = longest_pair;
  } else {
    b.tokens = 2 * pairs * longest;
    b.attention_rows = 2 * pairs;
    b.attention_length = longest;
  }
  return b;
}

int64_t split_memory_bytes(const PreparedSplit& split) {
  int64_t bytes =
      4 * static_cast<int64_t>(
              split.prompt_ids.size() + split.chosen_ids.size() + split.rejected_ids.size());
  bytes += 8 * 3 * static_cast<int64_t>(split.size() + 1);    // offsets
  bytes += (8 + 4 + 1) * static_cast<int64_t>(split.size());  // source line, file, flags
  for (const std::string& id : split.row_ids)
    bytes += 32 + static_cast<int64_t>(id.size());
  return bytes;
}

PlanInputs plan_inputs_from_config(
    const Config& config, const ModelConfig& model, PlanDevice device) {
  PlanInputs in;
  in.model = model;
  in.device = device;
  in.dtype = config.train.dtype;
  in.micro_batch_pairs = config.train.micro_batch_pairs;
  in.grad_accum = config.train.grad_accum;
  in.reference_mode = config.reference.mode;
  in.lora = config.lora;
  in.gradient_checkpointing = config.train.gradient_checkpointing;
  const bool other_reference =
      !config.reference.path.empty() && config.reference.path != config.model.path;
  // Live mode keeps a frozen copy (of the policy, or of reference.path) beside the policy; with
  // precomputed log-probs another reference model lives only through the reference pass.
  in.separate_reference = config.reference.mode == ReferenceMode::live;
  in.reference_pass_model = config.reference.mode == ReferenceMode::precomputed && other_reference;
  // LibTorch 2.x (the CUDA builds) has scaled_dot_product_attention; Debian's 1.13 (CPU) not.
  // On the CPU the plan follows the LibTorch this build's dpo-torch runs on.
  in.sdpa = device == PlanDevice::cuda || DPO_PLAN_CPU_SDPA != 0;
  const PlanLayout layout{config.train.prefix_sharing, config.train.padding_free};
  const int64_t max_length =
      config.data.max_length > 0 ? config.data.max_length : model.max_position_embeddings;
  in.micro_batch = worst_case_micro_batch(in.micro_batch_pairs, max_length, layout);
  in.eval_batch = worst_case_micro_batch(config.eval.batch_pairs, max_length, layout);
  if (device == PlanDevice::cpu)
    in.cpu_baseline_bytes = kCpuProcessBaselineBytes;

  const std::string& prepared = config.data.prepared;
  std::error_code error;
  if (!prepared.empty() && std::filesystem::is_regular_file(prepared, error)) {
    PreparedDataset data = read_prepared_dataset(prepared);
    if (data.train.size() > 0)
      in.micro_batch = largest_micro_batch(data.train, in.micro_batch_pairs, layout);
    // The no-gradient passes: the reference pass over train (precomputed), evaluation on val.
    MicroBatchShape eval = largest_micro_batch(data.val, config.eval.batch_pairs, layout);
    if (config.reference.mode == ReferenceMode::precomputed) {
      MicroBatchShape train = largest_micro_batch(data.train, config.eval.batch_pairs, layout);
      if (train.tokens > eval.tokens)
        eval = train;
    }
    in.eval_batch = eval;
    in.data_bytes = split_memory_bytes(data.train) + split_memory_bytes(data.val);
  }
  return in;
}

}  // namespace dpo
