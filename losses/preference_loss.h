// The DPO loss family as pure functions: per-pair policy and reference log-probs (sums over the
// completion tokens) and token counts in, per-pair losses, their mean and the batch metrics out.
// No model, no optimizer: the trainer feeds what model/sequence_logprobs.h computes.
//
// Gradient accumulation: `loss` is the mean over the pairs of one micro-batch. For k micro-batches
// of B_i pairs (B = sum B_i), backpropagate loss_i * B_i / B so that the step sees the mean over
// all B pairs; metrics are sums over pairs plus a count, so LossMetrics::add over micro-batches
// and then mean() gives the same figures as one batch of B pairs. Formulas: docs/losses.md.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

#include "losses/loss_config.h"

namespace dpo {

struct PairLogps {
  at::Tensor policy_chosen;       // [B] sum of log p over chosen completion tokens (with grad)
  at::Tensor policy_rejected;     // [B]
  at::Tensor reference_chosen;    // [B] no grad; may be undefined when reference-free
  at::Tensor reference_rejected;  // [B]
  at::Tensor chosen_tokens;       // [B] completion token counts (any numeric dtype)
  at::Tensor rejected_tokens;     // [B]
};

// The running mean of BCO's reward shift delta, carried by the caller across steps (and saved
// with the trainer state). Each call with bco_pair first folds in the batch's mean reward
// (mean of beta * log-ratios over chosen and rejected), then uses the updated mean, as TRL's
// RunningMoments does with one value per batch.
struct BcoState {
  double mean = 0.0;
  int64_t count = 0;
};

// Sums over pairs (divide by `pairs` for the mean). Rewards are beta * (policy - reference)
// summed log-probs (reference taken as 0 when reference-free).
struct LossMetrics {
  int64_t pairs = 0;
  double loss = 0;  // sum of per-pair total losses
  double rewards_chosen = 0;
  double rewards_rejected = 0;
  double rewards_margins = 0;     // chosen - rejected
  double rewards_accuracies = 0;  // margin > 0 counts 1, margin == 0 counts 0.5
  double logps_chosen = 0;        // policy, summed over tokens
  double logps_rejected = 0;
  double logps_chosen_per_token = 0;  // policy sum / token count, per pair
  double logps_rejected_per_token = 0;

  void add(const LossMetrics& other);
  // The mean over pairs of every field; `pairs` is kept.
  LossMetrics mean() const;
};

struct LossOutput {
  at::Tensor loss;              // [] mean over pairs of per_pair (differentiable)
  at::Tensor per_pair;          // [B] sum_i weight_i * loss_i per pair (differentiable)
  at::Tensor rewards_chosen;    // [B] detached
  at::Tensor rewards_rejected;  // [B] detached
  LossMetrics metrics;          // sums over the B pairs
};

// Computes the weighted sum of config.types on the batch. Inputs are cast to float32 (float64
// when policy_chosen is float64). `bco` is required when bco_pair is among the types (it is
// updated in place) and ignored otherwise. Throws c10::Error (TORCH_CHECK) for mismatched
// shapes or a missing reference.
LossOutput compute_loss(const PairLogps& logps, const LossConfig& config, BcoState* bco = nullptr);

// One loss type alone, per pair [B]; `bco_delta` is the reward shift used by bco_pair.
at::Tensor per_pair_loss(
    LossType type, const PairLogps& logps, const LossConfig& config, double bco_delta = 0.0);

}  // namespace dpo
