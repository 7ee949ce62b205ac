#include "trainer/pair_scoring.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <optional>

#include "core/error.h"
#include "core/format.h"
#include "distributed/communicator.h"
#include "model/llama.h"
#include "model/sequence_logprobs.h"
#include "trainer/finite_check.h"

namespace dpo {
namespace {

std::string pair_label(const std::string& split_name, const PreparedSplit& split, size_t pair) {
  return (split_name.empty() ? "" : split_name + " ") + "pair " + std::to_string(pair) + " (id '" +
         split.row_ids[pair] + "')";
}

// A NaN or Inf log-prob poisons every loss it enters and, cached, every later run: refused
// before the caller writes anything, with the weight to blame when there is one.
[[noreturn]] void throw_non_finite_scores(
    LlamaForCausalLMImpl& model,
    const PreparedSplit& split,
    const ScoreOptions& options,
    size_t pair,
    double chosen,
    double rejected) {
  const std::optional<std::string> weight = first_non_finite_weight(model);
  throw CheckpointError(
      options.model_label + " gives non-finite log-probs (chosen " + format("%g", chosen) +
          ", rejected " + format("%g", rejected) + ") for " +
          pair_label(options.split_name, split, pair) + ": " +
          (weight ? "its weight " + *weight + " is not finite"
                  : "its weights are finite, so the values overflow in this dtype"),
      weight ? "the model folder is damaged or was saved from a diverged run: use an earlier "
               "checkpoint"
             : "score in fp32 (--dtype fp32, train.dtype = fp32)");
}

// Each rank holds the scores of its pairs and zeros elsewhere: a sum over the ranks gives every
// rank all of them, exactly (x + 0 = x).
void sum_scores_over_ranks(PairScores& scores, Communicator& ranks, const std::string& split_name) {
  const int64_t n = static_cast<int64_t>(scores.chosen_logps.size());
  at::Tensor table = at::empty({4, n}, at::TensorOptions().dtype(at::kDouble));  // [4, n]
  auto t = table.accessor<double, 2>();
  for (int64_t i = 0; i < n; ++i) {
    const size_t k = static_cast<size_t>(i);
    t[0][i] = scores.chosen_logps[k];
    t[1][i] = scores.rejected_logps[k];
    t[2][i] = scores.chosen_tokens[k];
    t[3][i] = scores.rejected_tokens[k];
  }
  std::vector<at::Tensor> tensors{table};
  ranks.all_reduce_sum(tensors, "the " + split_name + " scores");
  for (int64_t i = 0; i < n; ++i) {
    const size_t k = static_cast<size_t>(i);
    scores.chosen_logps[k] = t[0][i];
    scores.rejected_logps[k] = t[1][i];
    scores.chosen_tokens[k] = static_cast<int32_t>(t[2][i]);
    scores.rejected_tokens[k] = static_cast<int32_t>(t[3][i]);
  }
}

}  // namespace

BatchTensors batch_to_tensors(const Batch& batch, at::Device device) {
  const int64_t rows = 2 * batch.pairs;
  BatchTensors out;
  out.pairs = batch.pairs;
  // from_blob does not copy: clone to own the memory, then move to the device.
  auto int32_cpu = at::TensorOptions().dtype(at::kInt);
  out.input_ids =
      at::from_blob(const_cast<int32_t*>(batch.input_ids.data()), {rows, batch.length}, int32_cpu)
          .to(at::kLong)
          .to(device);
  at::Tensor lengths =
      at::from_blob(const_cast<int32_t*>(batch.lengths.data()), {rows}, int32_cpu).to(at::kLong);
  at::Tensor start =
      at::from_blob(const_cast<int32_t*>(batch.completion_start.data()), {rows}, int32_cpu)
          .to(at::kLong);
  out.completion_start = start.to(device);
  out.completion_length = (lengths - start).to(device);
  out.tokens = lengths.sum().item<int64_t>();
  return out;
}

PairScores score_pairs(
    LlamaForCausalLMImpl& model,
    const PreparedSplit& split,
    at::Device device,
    const ScoreOptions& options) {
  PairScores scores;
  const size_t n = split.size();
  scores.chosen_logps.assign(n, 0);
  scores.rejected_logps.assign(n, 0);
  scores.chosen_tokens.assign(n, 0);
  scores.rejected_tokens.assign(n, 0);
  if (n == 0)
    return scores;

  // A non-owning shared_ptr: the loader only reads the split during this call.
  std::shared_ptr<const PreparedSplit> view(&split, [](const PreparedSplit*) {});
  Communicator* ranks = options.communicator;
  const int64_t world = ranks != nullptr ? ranks->world_size() : 1;
  BatchLoaderOptions loader_options;
  loader_options.batch_size = options.batch_pairs * world;  // every rank scores batch_pairs
  loader_options.shard_count = world;
  loader_options.shard_index = ranks != nullptr ? ranks->rank() : 0;
  loader_options.shuffle = false;
  loader_options.pad_id = options.pad_id;
  loader_options.prefetch = 1;
  BatchLoader loader(view, loader_options);

  const bool was_training = model.is_training();
  model.eval();
  at::NoGradGuard no_grad;
  size_t done = 0;
  for (int64_t b = 0; b < loader.batches_per_epoch(); ++b) {
    Batch batch = loader.next();
    if (batch.pairs == 0)
      continue;  // a last batch smaller than the number of ranks
    // The shared and packed layouts are built on the CPU; the padded forward takes the rows as
    // they are.
    BatchTensors tensors = batch_to_tensors(batch, options.layout.padded() ? device : at::kCPU);
    SequenceLogprobs logps = pair_sequence_logprobs(
        model,
        tensors.input_ids,
        tensors.completion_start,
        tensors.completion_length,
        options.layout);
    at::Tensor sums = logps.sum.to(at::kDouble).cpu();  // [2B]
    at::Tensor counts = logps.count.cpu();              // [2B]
    auto sum = sums.accessor<double, 1>();
    auto count = counts.accessor<int64_t, 1>();
    for (int64_t i = 0; i < batch.pairs; ++i) {
      size_t pair = static_cast<size_t>(batch.pair_indices[i]);
      if (!std::isfinite(sum[i]) || !std::isfinite(sum[batch.pairs + i]))
        throw_non_finite_scores(model, split, options, pair, sum[i], sum[batch.pairs + i]);
      scores.chosen_logps[pair] = sum[i];
      scores.rejected_logps[pair] = sum[batch.pairs + i];
      scores.chosen_tokens[pair] = static_cast<int32_t>(count[i]);
      scores.rejected_tokens[pair] = static_cast<int32_t>(count[batch.pairs + i]);
    }
    done += static_cast<size_t>(batch.pairs);
    if (options.progress)
      options.progress(done, n);
  }
  if (was_training)
    model.train();
  if (world > 1)
    sum_scores_over_ranks(scores, *ranks, options.split_name);
  return scores;
}

void require_finite_logps(
    const ReferenceLogps::Split& logps, const std::string& split_name, const std::string& origin) {
  for (size_t i = 0; i < logps.chosen_logps.size() && i < logps.rejected_logps.size(); ++i) {
    if (std::isfinite(logps.chosen_logps[i]) && std::isfinite(logps.rejected_logps[i]))
      continue;
    throw CacheError(
        "the cached reference log-probs in '" + origin + "' are not finite for " + split_name +
            " pair " + std::to_string(i) + " (chosen " + format("%g", logps.chosen_logps[i]) +
            ", rejected " + format("%g", logps.rejected_logps[i]) + ")",
        "the cache is damaged: score the reference again (dpo score --write-reference) or use "
        "another copy of the prepared file");
  }
}

void require_fits_context(
    const PreparedSplit& split,
    const std::string& split_name,
    int64_t max_position_embeddings,
    const std::string& prepared_path,
    const std::string& model_dir) {
  if (max_position_embeddings <= 0)
    return;
  for (size_t i = 0; i < split.size(); ++i) {
    const int64_t chosen = split.chosen_length(i), rejected = split.rejected_length(i);
    if (chosen <= max_position_embeddings && rejected <= max_position_embeddings)
      continue;
    throw DataError(
        "'" + prepared_path + "': " + pair_label(split_name, split, i) + " has a " +
            (chosen >= rejected ? "chosen" : "rejected") + " sequence of " +
            std::to_string(std::max(chosen, rejected)) +
            " tokens (prompt + completion), more than the " +
            std::to_string(max_position_embeddings) + " positions of the model ('" + model_dir +
            "/config.json': max_position_embeddings)",
        "prepare the data again with --max-length " + std::to_string(max_position_embeddings) +
            " (data.max_length) or less, or use a model with a longer context");
  }
}

}  // namespace dpo
