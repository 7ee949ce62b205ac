#include "trainer/step0_check.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include <string>

#include "core/error.h"
#include "core/log.h"
#include "model/checkpoint.h"

namespace dpo {

void check_step0(const PairLogps& pair, at::ScalarType dtype, double tolerance_per_token) {
  at::NoGradGuard no_grad;
  const bool fp32 = dtype == at::kFloat;
  at::Tensor tokens = at::cat({pair.chosen_tokens, pair.rejected_tokens}).to(at::kDouble);  // [2B]
  at::Tensor diff = at::cat({pair.policy_chosen - pair.reference_chosen,
                             pair.policy_rejected - pair.reference_rejected})
                        .abs()
                        .to(at::kDouble);  // [2B]
  const double per_token = tolerance_per_token > 0 ? tolerance_per_token : (fp32 ? 1e-5 : 2e-2);
  at::Tensor tolerance = tokens * per_token + (fp32 ? 1e-3 : 0.1);  // [2B]
  // NaN compares false with everything: test for it first, or a NaN model would pass.
  if (!at::isfinite(diff).all().item<bool>()) {
    throw CheckpointError(
        "step-0 check failed: the initial model gives non-finite log-probs on the first batch",
        "its weights hold NaN or Inf, or overflow in " + model_dtype_name(dtype) +
            ": check the checkpoint with `dpo score`, or train in fp32");
  }
  const double worst = diff.max().item<double>();
  if ((diff > tolerance).any().item<bool>()) {
    throw CacheError(
        "step-0 check failed: policy and reference log-probs differ by up to " +
            std::to_string(worst) +
            " nats on the first batch, where they must agree (the reference is the initial policy)",
        "the cached reference log-probs are stale or were computed in another dtype: "
        "run again after deleting the prepared file's reference group, or use "
        "--set reference.mode=live");
  }
  DPO_LOG_INFO("train", "step-0 check passed: policy and reference agree within %.2g nats", worst);
}

}  // namespace dpo
