// The reference log-probs of a run: per pair, the summed completion log-probs of chosen and
// rejected under the reference model. reference.mode = precomputed: every pair scored once and
// cached in the prepared file under the reference model's content hash (reused when the same
// hash and dtype are there). live: only the held-out split, for the evaluations (the frozen
// reference scores each train batch beside the policy); the cache is neither read nor written,
// so a stale cache (the way out of a failed step-0 check is live mode) cannot reach the run.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>

#include "dataloader/prepared_dataset.h"

namespace dpo {

class LlamaForCausalLMImpl;
class Communicator;

struct ReferenceSource {
  std::string prepared_path;  // where the cache lives
  std::string model_hash;     // content hash of the reference model
  std::string model_dir;      // for messages
  bool live = false;
  at::Device device = at::kCPU;
  at::ScalarType dtype = at::kFloat;
  int64_t batch_pairs = 8;
  int32_t pad_id = 0;
  // Data parallelism (may be null): the pairs are scored in shards across the ranks, every rank
  // gets all of them, rank 0 writes the cache and the others wait until it is written.
  Communicator* communicator = nullptr;
};

// The cached log-probs, or those of `scorer` (the reference model), cached unless live.
// CheckpointError naming the first pair when the model gives a NaN or Inf log-prob (before
// anything is cached); CacheError when cached values are not finite.
ReferenceLogps reference_logprobs(
    LlamaForCausalLMImpl& scorer, const PreparedDataset& data, const ReferenceSource& source);

// A split's reference log-probs as device tensors, indexed by pair.
struct ReferenceTensors {
  at::Tensor chosen, rejected;  // [n] float32 on the device
};
ReferenceTensors reference_tensors(const ReferenceLogps::Split& split, at::Device device);

}  // namespace dpo
