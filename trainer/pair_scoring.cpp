#include "trainer/pair_scoring.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include <memory>

#include "model/llama.h"
#include "model/sequence_logprobs.h"

namespace dpo {

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
  BatchLoaderOptions loader_options;
  loader_options.batch_size = options.batch_pairs;
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
    BatchTensors tensors = batch_to_tensors(batch, device);
    SequenceLogprobs logps = sequence_logprobs(
        model, tensors.input_ids, tensors.completion_start, tensors.completion_length);
    at::Tensor sums = logps.sum.to(at::kDouble).cpu();  // [2B]
    at::Tensor counts = logps.count.cpu();              // [2B]
    auto sum = sums.accessor<double, 1>();
    auto count = counts.accessor<int64_t, 1>();
    for (int64_t i = 0; i < batch.pairs; ++i) {
      size_t pair = static_cast<size_t>(batch.pair_indices[i]);
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
  return scores;
}

}  // namespace dpo
