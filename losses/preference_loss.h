// The DPO loss family as pure functions: per-pair policy and reference log-probs (sums over the
// completion tokens) and token counts in, per-pair losses, their mean and the batch metrics out.
// No model, no optimizer: the trainer feeds what model/sequence_logprobs.h computes.
//
// Gradient accumulation: `loss` is the mean over the pairs of one micro-batch. For k micro-batches
// of B_i pairs (B = sum B_i), backpropagate loss_i * B_i / B so that the step sees the mean over
// all B pairs; metrics are sums over pairs plus a count, so LossSums::add over micro-batches
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
// with the trainer state). compute_loss takes it as a value and returns the updated state: each
// batch with bco_pair first folds in its mean reward (mean of beta * log-ratios over chosen and
// rejected), then uses the updated mean, as TRL's RunningMoments does with one value per batch.
// The mean stays a device tensor so that a step needs no host sync for it; mean_value() reads it
// back (when saving a checkpoint).
struct BcoState {
  at::Tensor mean;  // [] float64 on the loss's device; undefined: 0 (no batch folded in yet)
  int64_t count = 0;

  double mean_value() const;  // syncs with the device
  static BcoState from_value(double mean, int64_t count, at::Device device);
};

// The figures of a batch, field by field. Rewards are beta * (policy - reference) summed
// log-probs (reference taken as 0 when reference-free).
struct LossFigures {
  double loss = 0;  // per-pair total loss
  double rewards_chosen = 0;
  double rewards_rejected = 0;
  double rewards_margins = 0;     // chosen - rejected
  double rewards_accuracies = 0;  // margin > 0 counts 1, margin == 0 counts 0.5
  double logps_chosen = 0;        // policy, summed over tokens
  double logps_rejected = 0;
  double logps_chosen_per_token = 0;  // policy sum / token count, per pair
  double logps_rejected_per_token = 0;
};

// Means over `pairs` pairs: what is logged and reported. Made only by LossSums::mean(), so a
// mean cannot be divided by the pair count a second time.
struct LossMeans : LossFigures {
  int64_t pairs = 0;
};

// Sums over `pairs` pairs: what a batch gives and what accumulates over micro-batches and steps.
struct LossSums : LossFigures {
  int64_t pairs = 0;

  void add(const LossSums& other);
  // Every field divided by `pairs` (all zero when there are none).
  LossMeans mean() const;
};

struct LossOutput {
  at::Tensor loss;              // [] mean over pairs of per_pair (differentiable)
  at::Tensor per_pair;          // [B] sum_i weight_i * loss_i per pair (differentiable)
  at::Tensor rewards_chosen;    // [B] detached
  at::Tensor rewards_rejected;  // [B] detached
  LossSums metrics;             // sums over the B pairs
  BcoState bco;                 // the state after this batch (the input one without bco_pair)
};

// Computes the weighted sum of config.types on the batch; a pure function of its arguments.
// Inputs are cast to float32 (float64 when policy_chosen is float64). `bco` is the running state
// before this batch (default: none folded in yet), used only by bco_pair; the state after the
// batch comes back in LossOutput::bco. Throws c10::Error (TORCH_CHECK) for mismatched shapes or a
// missing reference.
LossOutput compute_loss(const PairLogps& logps, const LossConfig& config, const BcoState& bco = {});

// One loss type alone, per pair [B]; `bco_delta` is the reward shift used by bco_pair.
at::Tensor per_pair_loss(
    LossType type, const PairLogps& logps, const LossConfig& config, double bco_delta = 0.0);

}  // namespace dpo
