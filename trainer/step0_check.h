// The step-0 check of a run whose reference is the initial policy: on the first batch, before any
// update, the policy's log-probs must equal the reference log-probs (rewards 0, DPO loss ln 2).
// A stale reference cache or one computed in another dtype shows here.
#pragma once

#include <ATen/core/Tensor.h>

#include "losses/preference_loss.h"

namespace dpo {

// `tolerance_per_token`: nats per completion token (0: by dtype, fp32 1e-5, bf16 2e-2), plus a
// fixed 1e-3 (fp32) or 0.1 (bf16) per sequence. CheckpointError when the policy's log-probs are
// not finite; CacheError naming the largest difference and the way out (live mode) when they
// differ by more.
void check_step0(const PairLogps& pair, at::ScalarType dtype, double tolerance_per_token);

}  // namespace dpo
