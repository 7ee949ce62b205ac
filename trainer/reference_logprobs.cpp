#include "trainer/reference_logprobs.h"

#include <ATen/ATen.h>

#include <chrono>
#include <optional>

#include "core/error.h"
#include "core/log.h"
#include "distributed/communicator.h"
#include "model/checkpoint.h"
#include "model/llama.h"
#include "trainer/pair_scoring.h"

namespace dpo {
namespace {

ReferenceLogps::Split as_split(const PairScores& scores) {
  return {scores.chosen_logps, scores.rejected_logps, scores.chosen_tokens, scores.rejected_tokens};
}

}  // namespace

ReferenceLogps reference_logprobs(
    LlamaForCausalLMImpl& scorer, const PreparedDataset& data, const ReferenceSource& source) {
  std::optional<ReferenceLogps> cached;
  if (!source.live)
    cached = read_reference_logps(source.prepared_path, source.model_hash);
  if (cached && cached->dtype == model_dtype_name(source.dtype)) {
    DPO_LOG_INFO(
        "train",
        "reference log-probs of %s found in %s",
        source.model_hash.substr(0, 16).c_str(),
        source.prepared_path.c_str());
    require_finite_logps(cached->train, "train", source.prepared_path);
    require_finite_logps(cached->val, "val", source.prepared_path);
    return *cached;
  }
  ScoreOptions options;
  options.batch_pairs = source.batch_pairs;
  options.pad_id = source.pad_id;
  options.model_label = "the reference model '" + source.model_dir + "'";
  options.communicator = source.communicator;
  auto start = std::chrono::steady_clock::now();
  // score_pairs refuses a non-finite log-prob before anything is cached.
  options.split_name = "train";
  PairScores train =
      source.live ? PairScores{} : score_pairs(scorer, data.train, source.device, options);
  options.split_name = "val";
  PairScores val = score_pairs(scorer, data.val, source.device, options);
  ReferenceLogps reference;
  reference.model_hash = source.model_hash;
  reference.dtype = model_dtype_name(source.dtype);
  reference.train = as_split(train);
  reference.val = as_split(val);
  if (!source.live) {
    if (source.communicator == nullptr || source.communicator->is_main())
      write_reference_logps(source.prepared_path, reference);
    if (source.communicator != nullptr)
      source.communicator->barrier("the reference cache write");
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  DPO_LOG_INFO(
      "train",
      "reference log-probs of %zu pairs computed in %.1f s%s%s",
      (source.live ? 0 : data.train.size()) + data.val.size(),
      seconds,
      source.live ? "" : " and cached in ",
      source.live ? "" : source.prepared_path.c_str());
  return reference;
}

ReferenceTensors reference_tensors(const ReferenceLogps::Split& split, at::Device device) {
  auto to_tensor = [&](const std::vector<double>& values) {
    return at::tensor(values, at::TensorOptions().dtype(at::kDouble)).to(at::kFloat).to(device);
  };
  return {to_tensor(split.chosen_logps), to_tensor(split.rejected_logps)};
}

}  // namespace dpo
