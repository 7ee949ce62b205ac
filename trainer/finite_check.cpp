#include "trainer/finite_check.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include "model/checkpoint.h"
#include "model/llama.h"

namespace dpo {

std::optional<std::string> first_non_finite(
    const std::vector<std::pair<std::string, at::Tensor>>& tensors) {
  at::NoGradGuard no_grad;
  for (const auto& [name, tensor] : tensors) {
    if (!tensor.defined() || !at::isFloatingType(tensor.scalar_type()))
      continue;
    if (at::isfinite(tensor).all().item<bool>())
      continue;
    const int64_t nan = tensor.isnan().sum().item<int64_t>();
    const int64_t inf = tensor.isinf().sum().item<int64_t>();
    return "'" + name + "' (" + std::to_string(nan) + " NaN, " + std::to_string(inf) + " Inf of " +
           std::to_string(tensor.numel()) + " values)";
  }
  return std::nullopt;
}

std::optional<std::string> first_non_finite_weight(LlamaForCausalLMImpl& model) {
  return first_non_finite(model_state(model));
}

}  // namespace dpo
