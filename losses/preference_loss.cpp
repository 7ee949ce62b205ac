// The per-pair formulas of the DPO loss family (see docs/losses.md for each one and its source),
// their weighted sum, and the batch metrics.
#include "losses/preference_loss.h"

#include <ATen/ATen.h>

#include <cmath>
#include <string>

namespace dpo {
namespace {

// The inputs cast to one floating dtype, with the quantities every formula shares.
struct Terms {
  at::Tensor pc, pr;          // [B] policy sums
  at::Tensor rc, rr;          // [B] reference sums (zeros when reference-free)
  at::Tensor lc, lr;          // [B] token counts, at least 1
  at::Tensor chosen_ratio;    // [B] pc - rc
  at::Tensor rejected_ratio;  // [B] pr - rr
  at::Tensor delta;           // [B] chosen_ratio - rejected_ratio (TRL: delta_score / logits)
};

bool needs_reference(const LossConfig& config) {
  if (config.reference_free)
    return false;
  for (LossType type : config.types) {
    if (!is_reference_free(type))
      return true;
  }
  return false;
}

Terms make_terms(const PairLogps& in, const LossConfig& config, bool need_reference) {
  TORCH_CHECK(
      in.policy_chosen.defined() && in.policy_rejected.defined(),
      "compute_loss: policy log-probs are required");
  TORCH_CHECK(
      in.chosen_tokens.defined() && in.rejected_tokens.defined(),
      "compute_loss: token counts are required");
  TORCH_CHECK(
      in.policy_chosen.dim() == 1,
      "compute_loss: policy_chosen must be [B], got ",
      in.policy_chosen.sizes());
  const int64_t b = in.policy_chosen.size(0);
  const auto dtype = in.policy_chosen.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
  auto cast = [&](const at::Tensor& t, const char* name) {
    TORCH_CHECK(
        t.dim() == 1 && t.size(0) == b,
        "compute_loss: ",
        name,
        " must be [",
        b,
        "], got ",
        t.sizes());
    return t.to(in.policy_chosen.device(), dtype);
  };
  Terms t;
  t.pc = cast(in.policy_chosen, "policy_chosen");
  t.pr = cast(in.policy_rejected, "policy_rejected");
  const bool have_reference = in.reference_chosen.defined() && in.reference_rejected.defined();
  if (!config.reference_free && have_reference) {
    t.rc = cast(in.reference_chosen, "reference_chosen").detach();
    t.rr = cast(in.reference_rejected, "reference_rejected").detach();
  } else {
    TORCH_CHECK(
        !need_reference,
        "compute_loss: reference log-probs are missing; the loss types ",
        "need them unless loss.reference_free is set");
    t.rc = at::zeros_like(t.pc);
    t.rr = at::zeros_like(t.pr);
  }
  t.lc = cast(in.chosen_tokens, "chosen_tokens").clamp_min(1.0);
  t.lr = cast(in.rejected_tokens, "rejected_tokens").clamp_min(1.0);
  t.chosen_ratio = t.pc - t.rc;
  t.rejected_ratio = t.pr - t.rr;
  t.delta = t.chosen_ratio - t.rejected_ratio;
  return t;
}

// -(1 - eps) log sigmoid(z) - eps log sigmoid(-z)
at::Tensor smoothed_logistic(const at::Tensor& z, double eps) {
  return -(1.0 - eps) * at::log_sigmoid(z) - eps * at::log_sigmoid(-z);
}

// `bco_delta`: [] the reward shift of bco_pair (undefined for the other types).
at::Tensor loss_from_terms(
    LossType type, const Terms& t, const LossConfig& c, const at::Tensor& bco_delta) {
  const double beta = c.beta;
  const double eps = c.label_smoothing;
  switch (type) {
    case LossType::sigmoid:
      return smoothed_logistic(beta * t.delta, eps);
    case LossType::robust: {
      const at::Tensor z = beta * t.delta;
      return (-(1.0 - eps) * at::log_sigmoid(z) + eps * at::log_sigmoid(-z)) / (1.0 - 2.0 * eps);
    }
    case LossType::ipo: {
      const at::Tensor d = t.chosen_ratio / t.lc - t.rejected_ratio / t.lr;
      return (d - 1.0 / (2.0 * beta)).square();
    }
    case LossType::hinge:
      return at::relu(1.0 - beta * t.delta);
    case LossType::exo_pair: {
      // log(0) is -inf: like TRL <= 0.24, eps = 0 stands for 1e-3.
      const double e = eps > 0 ? eps : 1e-3;
      const at::Tensor z = beta * t.delta;
      return at::sigmoid(z) * (at::log_sigmoid(z) - std::log1p(-e)) +
             at::sigmoid(-z) * (at::log_sigmoid(-z) - std::log(e));
    }
    case LossType::nca_pair: {
      const at::Tensor rc = beta * t.chosen_ratio;
      const at::Tensor rr = beta * t.rejected_ratio;
      return -at::log_sigmoid(rc) - 0.5 * at::log_sigmoid(-rc) - 0.5 * at::log_sigmoid(-rr);
    }
    case LossType::sppo_hard:
      return (t.chosen_ratio - 0.5 / beta).square() + (t.rejected_ratio + 0.5 / beta).square();
    case LossType::bco_pair: {
      const at::Tensor rc = beta * t.chosen_ratio;
      const at::Tensor rr = beta * t.rejected_ratio;
      return -at::log_sigmoid(rc - bco_delta) - at::log_sigmoid(-(rr - bco_delta));
    }
    case LossType::apo_zero:
      return (1.0 - at::sigmoid(beta * t.chosen_ratio)) + at::sigmoid(beta * t.rejected_ratio);
    case LossType::apo_down:
      return at::sigmoid(beta * t.chosen_ratio) + (1.0 - at::sigmoid(beta * t.delta));
    case LossType::discopop: {
      const at::Tensor z = beta * t.delta;
      const at::Tensor m = at::sigmoid(z / c.discopop_tau);
      return -at::log_sigmoid(z) * (1.0 - m) + at::exp(-z) * m;
    }
    case LossType::sigmoid_norm: {
      const at::Tensor d = t.chosen_ratio / t.lc - t.rejected_ratio / t.lr;
      return -at::log_sigmoid(beta * d);
    }
    case LossType::simpo: {
      // Reference-free: the policy's per-token mean log-probs, margin gamma / beta.
      const at::Tensor u = t.pc / t.lc - t.pr / t.lr - c.simpo_gamma / beta;
      return smoothed_logistic(beta * u, eps);
    }
    case LossType::sft:
      return -t.pc / t.lc;
  }
  TORCH_CHECK(false, "compute_loss: unhandled loss type ", static_cast<int>(type));
}

}  // namespace

double BcoState::mean_value() const {
  return mean.defined() ? mean.item<double>() : 0.0;
}

BcoState BcoState::from_value(double mean, int64_t count, at::Device device) {
  BcoState state;
  state.mean = at::scalar_tensor(mean, at::TensorOptions().dtype(at::kDouble).device(device));
  state.count = count;
  return state;
}

void LossSums::add(const LossSums& o) {
  pairs += o.pairs;
  loss += o.loss;
  rewards_chosen += o.rewards_chosen;
  rewards_rejected += o.rewards_rejected;
  rewards_margins += o.rewards_margins;
  rewards_accuracies += o.rewards_accuracies;
  logps_chosen += o.logps_chosen;
  logps_rejected += o.logps_rejected;
  logps_chosen_per_token += o.logps_chosen_per_token;
  logps_rejected_per_token += o.logps_rejected_per_token;
}

LossMeans LossSums::mean() const {
  LossMeans m;
  static_cast<LossFigures&>(m) = *this;
  m.pairs = pairs;
  const double n = pairs > 0 ? static_cast<double>(pairs) : 1.0;
  m.loss /= n;
  m.rewards_chosen /= n;
  m.rewards_rejected /= n;
  m.rewards_margins /= n;
  m.rewards_accuracies /= n;
  m.logps_chosen /= n;
  m.logps_rejected /= n;
  m.logps_chosen_per_token /= n;
  m.logps_rejected_per_token /= n;
  return m;
}

at::Tensor per_pair_loss(
    LossType type, const PairLogps& logps, const LossConfig& config, double bco_delta) {
  LossConfig single = config;
  single.types = {type};
  const Terms t = make_terms(logps, single, needs_reference(single));
  const at::Tensor delta = at::scalar_tensor(bco_delta, t.pc.options().requires_grad(false));
  return loss_from_terms(type, t, config, delta);
}

LossOutput compute_loss(const PairLogps& logps, const LossConfig& config, const BcoState& bco) {
  TORCH_CHECK(!config.types.empty(), "compute_loss: config.types is empty");
  TORCH_CHECK(
      config.weights.empty() || config.weights.size() == config.types.size(),
      "compute_loss: config.weights must be empty or one per type");
  const Terms t = make_terms(logps, config, needs_reference(config));

  LossOutput out;
  out.rewards_chosen = (config.beta * t.chosen_ratio).detach();      // [B]
  out.rewards_rejected = (config.beta * t.rejected_ratio).detach();  // [B]

  out.bco = bco;

  at::Tensor total;
  for (size_t i = 0; i < config.types.size(); ++i) {
    const LossType type = config.types[i];
    at::Tensor bco_delta;  // []
    if (type == LossType::bco_pair) {
      // The batch's mean reward over chosen and rejected folds into the running mean first, on
      // the device and in float64 (no host sync per micro-batch).
      const at::Tensor batch_mean =
          at::cat({out.rewards_chosen, out.rewards_rejected}).mean().to(at::kDouble);  // []
      const at::Tensor previous = bco.mean.defined() ? bco.mean.to(batch_mean.device(), at::kDouble)
                                                     : at::zeros_like(batch_mean);
      out.bco.count = bco.count + 1;
      out.bco.mean = previous + (batch_mean - previous) / static_cast<double>(out.bco.count);
      bco_delta = out.bco.mean.to(t.pc.scalar_type());
    }
    const at::Tensor term = loss_weight(config, i) * loss_from_terms(type, t, config, bco_delta);
    total = total.defined() ? total + term : term;
  }
  out.per_pair = total;     // [B]
  out.loss = total.mean();  // []

  // Metrics: every per-pair figure summed over pairs in one tensor, read back once.
  const at::Tensor margins = out.rewards_chosen - out.rewards_rejected;
  const at::Tensor accuracies =
      (margins > 0).to(margins.scalar_type()) + 0.5 * (margins == 0).to(margins.scalar_type());
  const at::Tensor sums = at::stack({
                                        total.detach().sum(),
                                        out.rewards_chosen.sum(),
                                        out.rewards_rejected.sum(),
                                        margins.sum(),
                                        accuracies.sum(),
                                        t.pc.detach().sum(),
                                        t.pr.detach().sum(),
                                        (t.pc.detach() / t.lc).sum(),
                                        (t.pr.detach() / t.lr).sum(),
                                    })
                              .to(at::kCPU, at::kDouble)
                              .contiguous();
  const double* s = sums.data_ptr<double>();
  LossSums& m = out.metrics;
  m.pairs = t.pc.size(0);
  m.loss = s[0];
  m.rewards_chosen = s[1];
  m.rewards_rejected = s[2];
  m.rewards_margins = s[3];
  m.rewards_accuracies = s[4];
  m.logps_chosen = s[5];
  m.logps_rejected = s[6];
  m.logps_chosen_per_token = s[7];
  m.logps_rejected_per_token = s[8];
  return out;
}

}  // namespace dpo
