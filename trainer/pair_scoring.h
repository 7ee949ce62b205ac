// Scores the pairs of a prepared split under a model: per pair, the summed completion log-probs
// and token counts of chosen and rejected. `dpo score`, the reference pass of `dpo train`
// (reference.mode = precomputed) and `dpo eval` use it.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "dataloader/batch_loader.h"
#include "dataloader/prepared_dataset.h"

namespace dpo {

class LlamaForCausalLMImpl;

// A loader batch as tensors on `device`: both sequences of each pair in one forward pass.
struct BatchTensors {
  at::Tensor input_ids;          // [2B, T] int64: chosen rows, then rejected rows
  at::Tensor completion_start;   // [2B] int64
  at::Tensor completion_length;  // [2B] int64
  int64_t pairs = 0;             // B
  int64_t tokens = 0;            // real (unpadded) tokens in the batch
};
BatchTensors batch_to_tensors(const Batch& batch, at::Device device);

struct PairScores {
  std::vector<double> chosen_logps, rejected_logps;     // [n] in split order
  std::vector<int32_t> chosen_tokens, rejected_tokens;  // [n]
};

struct ScoreOptions {
  int64_t batch_pairs = 8;
  int32_t pad_id = 0;
  // Called after each batch with (pairs done, pairs total); may be empty.
  std::function<void(size_t, size_t)> progress;
};

// Runs the model in eval mode without gradients over every pair of `split`.
PairScores score_pairs(
    LlamaForCausalLMImpl& model,
    const PreparedSplit& split,
    at::Device device,
    const ScoreOptions& options);

}  // namespace dpo
