// Data parallelism's one extra step: after the backward passes of a step, the gradients of every
// trained tensor are summed over the ranks. Tensors are packed into flat buckets of about
// `bucket_mib` (one dtype and device per bucket) so a step sends a few large messages, not one
// per tensor; the buckets' sums run concurrently (distributed/communicator.h).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

namespace dpo {

class Communicator;

class GradientBuckets {
 public:
  // `parameters`: the trained tensors, in a fixed order (the same on every rank).
  GradientBuckets(std::vector<at::Tensor> parameters, double bucket_mib);

  // Replaces each parameter's gradient by its sum over the ranks. A parameter without a gradient
  // on this rank (not reached by its pairs) counts as zeros and gets the sum too. `what` names
  // the step in errors.
  void sum_over_ranks(Communicator& communicator, const std::string& what);

  size_t bucket_count() const {
    return buckets_.size();
  }

 private:
  std::vector<at::Tensor> parameters_;
  std::vector<std::vector<size_t>> buckets_;  // indices into parameters_
};

}  // namespace dpo
