#include "distributed/gradient_sync.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include "distributed/communicator.h"

namespace dpo {

GradientBuckets::GradientBuckets(std::vector<at::Tensor> parameters, double bucket_mib)
    : parameters_(std::move(parameters)) {
  const double limit = bucket_mib * 1024.0 * 1024.0;
  double bytes = 0;
  for (size_t i = 0; i < parameters_.size(); ++i) {
    const at::Tensor& p = parameters_[i];
    const bool new_bucket = buckets_.empty() || bytes >= limit ||
                            parameters_[buckets_.back().front()].scalar_type() != p.scalar_type() ||
                            parameters_[buckets_.back().front()].device() != p.device();
    if (new_bucket) {
      buckets_.emplace_back();
      bytes = 0;
    }
    buckets_.back().push_back(i);
    bytes += static_cast<double>(p.numel()) * static_cast<double>(p.element_size());
  }
}

void GradientBuckets::sum_over_ranks(Communicator& communicator, const std::string& what) {
  if (communicator.world_size() <= 1)
    return;
  at::NoGradGuard no_grad;
  std::vector<at::Tensor> flats;
  flats.reserve(buckets_.size());
  for (const std::vector<size_t>& bucket : buckets_) {
    std::vector<at::Tensor> pieces;
    for (size_t i : bucket) {
      at::Tensor& p = parameters_[i];
      if (!p.grad().defined())
        p.mutable_grad() = at::zeros_like(p);
      pieces.push_back(p.grad().reshape({-1}));
    }
    flats.push_back(at::cat(pieces));  // [sum of the bucket's numel]
  }
  communicator.all_reduce_sum(flats, what);
  for (size_t b = 0; b < buckets_.size(); ++b) {
    int64_t offset = 0;
    for (size_t i : buckets_[b]) {
      at::Tensor& grad = parameters_[i].mutable_grad();
      const int64_t n = grad.numel();
      grad.copy_(flats[b].narrow(0, offset, n).view(grad.sizes()));
      offset += n;
    }
  }
}

}  // namespace dpo
