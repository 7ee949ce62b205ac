// The settings of the DPO loss family: which losses (a weighted sum of one or more), beta and the
// loss-specific parameters. A plain struct without LibTorch, so that the trainer's config can
// hold it as its `loss` section. Formulas and sources: docs/losses.md.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace dpo {

// Names as in TRL's DPOConfig.loss_type (simpo as in TRL's CPOConfig.loss_type).
enum class LossType {
  sigmoid,       // DPO; with label_smoothing > 0 the conservative cDPO
  robust,        // robust DPO (unbiased under label noise of rate label_smoothing)
  ipo,           // IPO on per-token mean log-ratios
  hinge,         // SLiC hinge
  exo_pair,      // EXO, pairwise
  nca_pair,      // NCA, pairwise
  sppo_hard,     // SPPO with hard (0/1) win probabilities
  bco_pair,      // BCO, pairwise, with a running reward mean (BcoState)
  apo_zero,      // APO-zero: chosen up, rejected down
  apo_down,      // APO-down: both down, rejected more
  discopop,      // DiscoPOP: log-ratio-modulated mix of logistic and exponential losses
  sigmoid_norm,  // DPO on per-token mean log-ratios
  simpo,         // SimPO: reference-free, per-token mean log-probs, margin gamma
  sft,           // negative log-likelihood of the chosen completion, per-token mean
};

const char* loss_type_name(LossType type);
// Throws ConfigError listing the known names.
LossType parse_loss_type(std::string_view name);
// All types, in declaration order.
const std::vector<LossType>& all_loss_types();
// True for losses that never read the reference log-probs (simpo, sft).
bool is_reference_free(LossType type);

struct LossConfig {
  // The total loss is sum_i weights[i] * loss_i; weights empty means 1 for each type.
  std::vector<LossType> types{LossType::sigmoid};
  std::vector<double> weights{};
  double beta = 0.1;             // inverse temperature of the implicit reward (IPO: tau)
  double label_smoothing = 0.0;  // sigmoid (cDPO), robust, exo_pair, simpo; in [0, 0.5)
  double simpo_gamma = 0.5;      // SimPO target reward margin (the margin is gamma / beta)
  double discopop_tau = 0.05;    // DiscoPOP temperature of the modulation
  // Ignore the reference model: reference log-probs are taken as 0 for every loss.
  bool reference_free = false;
};

// Range checks (beta > 0, label_smoothing in [0, 0.5), discopop_tau > 0, weights finite and as
// many as types, at least one type). Throws ConfigError naming `section`.key, e.g. "loss.beta".
void validate_loss_config(const LossConfig& config, const std::string& section = "loss");

// The weight of types[i] (1 when weights is empty).
double loss_weight(const LossConfig& config, size_t i);

}  // namespace dpo
