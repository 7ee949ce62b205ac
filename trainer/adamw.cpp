#include "trainer/adamw.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include <cmath>

#include "core/error.h"

namespace dpo {

AdamW::AdamW(std::vector<NamedParameter> parameters, AdamWOptions options)
    : parameters_(std::move(parameters)), options_(options) {
  at::NoGradGuard no_grad;
  for (const NamedParameter& p : parameters_) {
    Slot slot;
    auto fp32 = p.tensor.options().dtype(at::kFloat);
    slot.exp_avg = at::zeros(p.tensor.sizes(), fp32);
    slot.exp_avg_sq = at::zeros(p.tensor.sizes(), fp32);
    if (options_.master_weights && p.tensor.scalar_type() != at::kFloat) {
      slot.master = p.tensor.detach().to(at::kFloat).clone();
    }
    slots_.push_back(std::move(slot));
  }
}

void AdamW::step(double lr) {
  at::NoGradGuard no_grad;
  ++step_;
  const double bias1 = 1.0 - std::pow(options_.beta1, static_cast<double>(step_));
  const double bias2 = 1.0 - std::pow(options_.beta2, static_cast<double>(step_));
  for (size_t i = 0; i < parameters_.size(); ++i) {
    at::Tensor param = parameters_[i].tensor;
    at::Tensor grad = param.grad();
    if (!grad.defined())
      continue;
    Slot& slot = slots_[i];
    at::Tensor g = grad.to(at::kFloat);
    // The weights being updated, in fp32.
    at::Tensor w = slot.master.defined() ? slot.master : param.detach().to(at::kFloat);
    if (parameters_[i].decay && options_.weight_decay != 0)
      w.mul_(1.0 - lr * options_.weight_decay);
    slot.exp_avg.mul_(options_.beta1).add_(g, 1.0 - options_.beta1);
    slot.exp_avg_sq.mul_(options_.beta2).addcmul_(g, g, 1.0 - options_.beta2);
    at::Tensor denom = (slot.exp_avg_sq / bias2).sqrt_().add_(options_.eps);
    w.addcdiv_(slot.exp_avg, denom, -lr / bias1);
    // An fp32 parameter without master was updated in place (`w` shares its storage).
    if (slot.master.defined() || param.scalar_type() != at::kFloat)
      param.detach().copy_(w);
  }
}

void AdamW::zero_grad() {
  for (NamedParameter& p : parameters_) {
    if (p.tensor.grad().defined()) {
      p.tensor.mutable_grad().detach_();
      p.tensor.mutable_grad().zero_();
    }
  }
}

std::map<std::string, at::Tensor> AdamW::state_tensors() const {
  std::map<std::string, at::Tensor> out;
  for (size_t i = 0; i < parameters_.size(); ++i) {
    const std::string& name = parameters_[i].name;
    out[name + ".exp_avg"] = slots_[i].exp_avg.cpu().contiguous();
    out[name + ".exp_avg_sq"] = slots_[i].exp_avg_sq.cpu().contiguous();
    if (slots_[i].master.defined())
      out[name + ".master"] = slots_[i].master.cpu().contiguous();
  }
  return out;
}

std::vector<std::pair<std::string, at::Tensor>> AdamW::state_views() const {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (size_t i = 0; i < parameters_.size(); ++i) {
    const std::string& name = parameters_[i].name;
    out.emplace_back(name + ".exp_avg", slots_[i].exp_avg);
    out.emplace_back(name + ".exp_avg_sq", slots_[i].exp_avg_sq);
    if (slots_[i].master.defined())
      out.emplace_back(name + ".master", slots_[i].master);
  }
  return out;
}

void AdamW::load_state(const std::map<std::string, at::Tensor>& tensors, int64_t step) {
  at::NoGradGuard no_grad;
  auto take = [&](const std::string& key, at::Tensor& into) {
    auto it = tensors.find(key);
    if (it == tensors.end())
      throw CheckpointError("optimizer state lacks '" + key + "'");
    if (it->second.sizes() != into.sizes()) {
      throw CheckpointError("optimizer state '" + key + "' has the wrong shape");
    }
    into.copy_(it->second.to(into.options()));
  };
  for (size_t i = 0; i < parameters_.size(); ++i) {
    const std::string& name = parameters_[i].name;
    take(name + ".exp_avg", slots_[i].exp_avg);
    take(name + ".exp_avg_sq", slots_[i].exp_avg_sq);
    if (slots_[i].master.defined())
      take(name + ".master", slots_[i].master);
  }
  step_ = step;
}

std::vector<NamedParameter> adamw_parameter_groups(
    const std::vector<std::pair<std::string, at::Tensor>>& named_parameters) {
  std::vector<NamedParameter> out;
  for (const auto& [name, tensor] : named_parameters) {
    if (!tensor.requires_grad())
      continue;
    out.push_back({name, tensor, tensor.dim() >= 2});
  }
  return out;
}

}  // namespace dpo
