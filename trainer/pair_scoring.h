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
#include "model/packed_batch.h"

namespace dpo {

class LlamaForCausalLMImpl;
class Communicator;

// A loader batch as tensors on `device`: both sequences of each pair in one forward pass (the
// trainer keeps them on the CPU: the layouts of model/packed_batch.h are built there, and
// sequence_logprobs moves what it runs to the model's device).
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
  // Prefix sharing and padding-free packing (model/packed_batch.h): the same log-probs within
  // float noise for less work; both off is the padded forward.
  PairLayout layout;
  // For the message of a non-finite log-prob: the split's name ("train", "val") and the model
  // ("the reference model 'DIR'").
  std::string split_name;
  std::string model_label = "the model";
  // Called after each batch with (pairs done, pairs total); may be empty.
  std::function<void(size_t, size_t)> progress;
  // Data parallelism (may be null): every rank scores its shard of each batch (BatchLoader's
  // shards) and the scores are summed over the ranks into the whole arrays, so every rank returns
  // the scores of every pair.
  Communicator* communicator = nullptr;
};

// Runs the model in eval mode without gradients over every pair of `split` (or this rank's share,
// with options.communicator). A NaN or Inf
// log-prob is a CheckpointError (at the first batch that gives one, before the caller can write
// anything) naming the split, the pair (index and id) and the model's first non-finite weight.
PairScores score_pairs(
    LlamaForCausalLMImpl& model,
    const PreparedSplit& split,
    at::Device device,
    const ScoreOptions& options);

// Log-probs read from a cache (the reference group of a prepared file) must be finite too:
// CacheError naming `origin`, the split and the first pair otherwise.
void require_finite_logps(
    const ReferenceLogps::Split& logps, const std::string& split_name, const std::string& origin);

// The context check of every command that runs a model on prepared pairs (train, eval, score,
// check, compare), before any forward pass: DataError when a sequence (prompt + completion) of
// `split` is longer than the model's max_position_embeddings, naming the prepared file, the
// split, the pair (index and id), its length and the model's config.json.
void require_fits_context(
    const PreparedSplit& split,
    const std::string& split_name,
    int64_t max_position_embeddings,
    const std::string& prepared_path,
    const std::string& model_dir);

}  // namespace dpo
