// NaN and Inf in named tensors (a model's weights, an optimizer's state): the first tensor that
// holds one, named, for the messages of the checks that refuse non-finite state (checkpoints,
// scoring, evaluation, the start of a run).
#pragma once

#include <ATen/core/Tensor.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace dpo {

class LlamaForCausalLMImpl;

// "'model.norm.weight' (1 NaN, 0 Inf of 32 values)" for the first tensor in `tensors` holding a
// NaN or an Inf; nullopt when every value is finite. Undefined tensors are skipped.
std::optional<std::string> first_non_finite(
    const std::vector<std::pair<std::string, at::Tensor>>& tensors);

// The same over a model's weights (model_state order: the names of model.safetensors).
std::optional<std::string> first_non_finite_weight(LlamaForCausalLMImpl& model);

}  // namespace dpo
