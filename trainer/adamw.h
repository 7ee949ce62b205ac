// AdamW with decoupled weight decay (Loshchilov & Hutter; the update of torch.optim.AdamW),
// written out so that its state is plain named tensors (saved in checkpoints as safetensors)
// and so that low-precision models can keep fp32 master weights:
//   master   fp32 copy of each parameter when the model is bf16/fp16 (train.dtype = bf16);
//            the update runs on the master and is rounded into the model parameter;
//   none     the update runs in fp32 on a copy of the parameter and is written back
//            (fp32 models, and train.dtype = bf16_pure).
// Per parameter p with gradient g at step t (1-based), learning rate lr:
//   p  <- p - lr * weight_decay * p           (only parameters in the decay group)
//   m  <- beta1 m + (1 - beta1) g
//   v  <- beta2 v + (1 - beta2) g^2
//   p  <- p - lr * (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps)
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace dpo {

struct AdamWOptions {
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
  bool master_weights = false;  // keep fp32 masters for non-fp32 parameters
};

struct NamedParameter {
  std::string name;
  at::Tensor tensor;  // the model's parameter (requires grad)
  bool decay = true;  // false for biases and norm weights, as Hugging Face's Trainer
};

class AdamW {
 public:
  AdamW(std::vector<NamedParameter> parameters, AdamWOptions options);

  // One update with learning rate `lr` from the gradients in the parameters' .grad().
  void step(double lr);
  void zero_grad();
  int64_t steps() const {
    return step_;
  }

  // State as named fp32 tensors on the CPU ("<param>.exp_avg", "<param>.exp_avg_sq",
  // "<param>.master") plus the step count, and back. load_state checks names and shapes.
  std::map<std::string, at::Tensor> state_tensors() const;
  void load_state(const std::map<std::string, at::Tensor>& tensors, int64_t step);
  // The same tensors where they live (the parameters' device), without a copy: for checks.
  std::vector<std::pair<std::string, at::Tensor>> state_views() const;

  const std::vector<NamedParameter>& parameters() const {
    return parameters_;
  }

 private:
  struct Slot {
    at::Tensor exp_avg, exp_avg_sq, master;  // fp32, on the parameter's device
  };
  std::vector<NamedParameter> parameters_;
  std::vector<Slot> slots_;
  AdamWOptions options_;
  int64_t step_ = 0;
};

// Splits a model's named parameters into decay (matrices) and no-decay (biases, norm weights:
// anything with fewer than 2 dimensions) groups.
std::vector<NamedParameter> adamw_parameter_groups(
    const std::vector<std::pair<std::string, at::Tensor>>& named_parameters);

}  // namespace dpo
