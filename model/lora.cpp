// LoRA adapters on the linear layers of a LlamaForCausalLM: attach, switch, name, load, merge.
#include "model/lora.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "core/error.h"
#include "core/hash.h"
#include "model/llama.h"

namespace dpo {
namespace {

const char* kPeftPrefix = "base_model.model.";

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items)
    out += (out.empty() ? "" : ", ") + item;
  return out;
}

// Every linear layer of the decoder with its path, in model order (lm_head excluded).
std::vector<std::pair<std::string, LinearImpl*>> decoder_linears(LlamaForCausalLMImpl& model) {
  std::vector<std::pair<std::string, LinearImpl*>> out;
  for (const auto& item : model.named_modules()) {
    if (auto* linear = item.value()->as<LinearImpl>()) {
      if (item.key() != "lm_head")
        out.emplace_back(item.key(), linear);
    }
  }
  return out;
}

std::vector<std::pair<std::string, LinearImpl*>> adapted(LlamaForCausalLMImpl& model) {
  std::vector<std::pair<std::string, LinearImpl*>> out;
  for (auto& [path, linear] : decoder_linears(model)) {
    if (linear->lora)
      out.emplace_back(path, linear);
  }
  return out;
}

// The trained copies with their PEFT module name and saved key, embeddings first.
struct CopySlot {
  const char* module;
  std::string key;
  std::shared_ptr<LoraWeightCopy>* copy;
  at::Tensor base;
};
std::vector<CopySlot> copy_slots(LlamaForCausalLMImpl& model) {
  std::vector<CopySlot> out;
  out.push_back(
      {"embed_tokens",
       std::string(kPeftPrefix) + "model.embed_tokens.weight",
       &model.model->embed_tokens->trained_copy,
       model.model->embed_tokens->weight});
  if (model.lm_head) {
    out.push_back(
        {"lm_head",
         std::string(kPeftPrefix) + "lm_head.weight",
         &model.lm_head->trained_copy,
         model.lm_head->weight});
  }
  return out;
}

const std::set<std::string>& known_targets() {
  static const std::set<std::string> kNames = {
      "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj", "all-linear"};
  return kNames;
}

}  // namespace

at::Tensor LoraWeightCopy::weight_in_use(const at::Tensor& base) const {
  if (mode == LoraMode::active)
    return weight.to(base.scalar_type());
  if (mode == LoraMode::initial && initial.defined())
    return initial.to(base.scalar_type());
  return base;
}

at::Tensor lora_add(
    const LoraAdapter& adapter, const at::Tensor& x, const at::Tensor& y, bool training) {
  const at::Tensor* a = &adapter.A;
  const at::Tensor* b = &adapter.B;
  if (adapter.mode == LoraMode::off)
    return y;
  if (adapter.mode == LoraMode::initial) {
    if (!adapter.initial_A.defined())
      return y;
    a = &adapter.initial_A;
    b = &adapter.initial_B;
  }
  // peft: result + lora_B(lora_A(dropout(x))) * scaling. The adapters' parameters are fp32 (and
  // so are their gradients and AdamW state); the products run in the input's dtype: fp32 on an
  // fp32 base, as peft computes them, and bf16 on a bf16 base, as peft's do under autocast
  // (TRL's bf16=True). Casting A and B ([r, in], [out, r]: small) rather than the input keeps
  // what autograd holds for A's gradient to the module's own bf16 input, which q/k/v (and
  // gate/up) share, instead of an fp32 copy of it per module (2x to 6x the bytes).
  const at::ScalarType compute = x.scalar_type();
  at::Tensor h = x;
  if (adapter.dropout > 0 && training && adapter.mode == LoraMode::active)
    h = at::dropout(h, adapter.dropout, /*train=*/true);
  at::Tensor ax = at::linear(h, a->to(compute));                        // [..., r]
  at::Tensor delta = at::linear(ax, b->to(compute)) * adapter.scaling;  // [..., out]
  return (y + delta).to(y.scalar_type());
}

double lora_scaling(const LoraConfig& config) {
  const double r = static_cast<double>(config.rank);
  return config.use_rslora ? config.alpha / std::sqrt(r) : config.alpha / r;
}

void validate_lora_config(const LoraConfig& config, const std::string& section, bool check_names) {
  if (config.rank <= 0) {
    throw ConfigError(
        section + ".rank is " + std::to_string(config.rank) + ": a LoRA rank must be at least 1",
        "set " + section + ".rank to e.g. 8 or 16");
  }
  if (!(config.alpha > 0)) {
    throw ConfigError(
        section + ".alpha must be positive", "PEFT's default is lora_alpha = 8 (or 2 x rank)");
  }
  if (!(config.dropout >= 0 && config.dropout < 1)) {
    throw ConfigError(section + ".dropout must be in [0, 1)", "0 (PEFT's default) or e.g. 0.05");
  }
  if (config.target_modules.empty()) {
    throw ConfigError(
        section + ".target_modules is empty",
        "name the layers, e.g. [\"q_proj\", \"v_proj\"], or [\"all-linear\"]");
  }
  for (const std::string& name : config.target_modules) {
    if (check_names && !known_targets().count(name)) {
      throw ConfigError(
          section + ".target_modules: '" + name + "' is not a linear layer of a Llama-family model",
          "use q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj or all-linear");
    }
  }
  if (config.target_modules.size() > 1 &&
      std::find(config.target_modules.begin(), config.target_modules.end(), "all-linear") !=
          config.target_modules.end()) {
    throw ConfigError(
        section + ".target_modules: 'all-linear' must be the only entry",
        "write [\"all-linear\"] alone, or list the layers");
  }
}

std::vector<std::string> lora_target_paths(
    LlamaForCausalLMImpl& model, const std::vector<std::string>& targets) {
  if (targets.empty())
    throw ConfigError("LoRA target_modules is empty", "name the layers, e.g. q_proj, v_proj");
  const auto linears = decoder_linears(model);
  const bool all = targets.size() == 1 && targets[0] == "all-linear";
  std::vector<std::string> out;
  std::set<std::string> matched_targets;
  for (const auto& [path, linear] : linears) {
    bool match = all;
    for (const std::string& target : targets) {
      if (path == target || ends_with(path, "." + target)) {
        match = true;
        matched_targets.insert(target);
      }
    }
    if (match)
      out.push_back(path);
  }
  if (!all) {
    for (const std::string& target : targets) {
      if (target == "lm_head" || ends_with(target, ".lm_head")) {
        throw ConfigError(
            "LoRA target 'lm_head' is not supported",
            "train the head in full with lora.train_lm_head instead");
      }
      if (!matched_targets.count(target)) {
        throw ConfigError(
            "LoRA target '" + target + "' matches no linear layer of the model",
            "the model's linear layers end in q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj "
            "and down_proj");
      }
    }
  }
  return out;
}

void attach_lora(LlamaForCausalLMImpl& model, const LoraConfig& config, uint64_t seed) {
  validate_lora_config(config, "lora", /*check_names=*/false);  // matched against the model below
  if (has_lora(model))
    throw ConfigError("the model already has LoRA adapters attached");
  if ((config.train_lm_head || config.train_embeddings) && !model.lm_head) {
    throw ConfigError(
        "lora.train_embeddings and lora.train_lm_head are not supported on a model with tied "
        "embeddings (tie_word_embeddings)",
        "set both to false");
  }
  const std::vector<std::string> paths = lora_target_paths(model, config.target_modules);
  const std::set<std::string> wanted(paths.begin(), paths.end());
  for (auto& item : model.named_parameters(/*recurse=*/true))
    item.value().set_requires_grad(false);

  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  const at::Device device = model.options().device();
  const auto fp32 = at::TensorOptions().dtype(at::kFloat);
  const int64_t r = config.rank;
  for (auto& [path, linear] : decoder_linears(model)) {
    if (!wanted.count(path))
      continue;
    const int64_t out_features = linear->weight.size(0), in_features = linear->weight.size(1);
    at::Tensor a = at::empty({r, in_features}, fp32);
    if (config.init == LoraInit::kaiming) {
      // kaiming_uniform_(a=sqrt(5)): gain sqrt(2 / (1 + 5)), bound gain * sqrt(3 / fan_in).
      const double bound = 1.0 / std::sqrt(static_cast<double>(in_features));
      a.uniform_(-bound, bound, generator);
    } else {
      a.normal_(0.0, 1.0 / static_cast<double>(r), generator);
    }
    auto adapter = std::make_shared<LoraAdapter>();
    adapter->A = a.to(device).set_requires_grad(true);
    adapter->B = at::zeros({out_features, r}, fp32.device(device)).set_requires_grad(true);
    adapter->scaling = lora_scaling(config);
    adapter->dropout = config.dropout;
    linear->lora = adapter;
  }
  for (CopySlot& slot : copy_slots(model)) {
    const bool train =
        std::string(slot.module) == "embed_tokens" ? config.train_embeddings : config.train_lm_head;
    if (!train)
      continue;
    auto copy = std::make_shared<LoraWeightCopy>();
    copy->weight = slot.base.detach().to(at::kFloat).clone().set_requires_grad(true);
    *slot.copy = copy;
  }
}

bool has_lora(LlamaForCausalLMImpl& model) {
  if (!adapted(model).empty())
    return true;
  for (CopySlot& slot : copy_slots(model)) {
    if (*slot.copy)
      return true;
  }
  return false;
}

void set_lora_mode(LlamaForCausalLMImpl& model, LoraMode mode) {
  for (auto& [path, linear] : adapted(model))
    linear->lora->mode = mode;
  for (CopySlot& slot : copy_slots(model)) {
    if (*slot.copy)
      (*slot.copy)->mode = mode;
  }
}

void keep_initial_lora(LlamaForCausalLMImpl& model) {
  for (auto& [path, linear] : adapted(model)) {
    linear->lora->initial_A = linear->lora->A.detach().clone();
    linear->lora->initial_B = linear->lora->B.detach().clone();
  }
  for (CopySlot& slot : copy_slots(model)) {
    if (*slot.copy)
      (*slot.copy)->initial = (*slot.copy)->weight.detach().clone();
  }
}

LoraTensors lora_parameters(LlamaForCausalLMImpl& model) {
  LoraTensors out;
  for (auto& [path, linear] : adapted(model)) {
    out.emplace_back(kPeftPrefix + path + ".lora_A.weight", linear->lora->A);
    out.emplace_back(kPeftPrefix + path + ".lora_B.weight", linear->lora->B);
  }
  for (CopySlot& slot : copy_slots(model)) {
    if (*slot.copy)
      out.emplace_back(slot.key, (*slot.copy)->weight);
  }
  return out;
}

std::vector<std::string> lora_adapted_paths(LlamaForCausalLMImpl& model) {
  std::vector<std::string> out;
  for (auto& [path, linear] : adapted(model))
    out.push_back(path);
  return out;
}

std::vector<std::string> lora_saved_modules(LlamaForCausalLMImpl& model) {
  std::vector<std::string> out;
  for (CopySlot& slot : copy_slots(model)) {
    if (*slot.copy)
      out.push_back(slot.module);
  }
  return out;
}

void load_lora_tensors(
    LlamaForCausalLMImpl& model, const LoraTensors& tensors, const std::string& origin) {
  std::map<std::string, at::Tensor> given(tensors.begin(), tensors.end());
  std::vector<std::string> missing;
  at::NoGradGuard no_grad;
  for (auto& [name, target] : lora_parameters(model)) {
    auto it = given.find(name);
    if (it == given.end()) {
      missing.push_back(name);
      continue;
    }
    if (it->second.sizes() != target.sizes()) {
      throw CheckpointError(
          "'" + origin + "': tensor '" + name + "' has shape " + c10::str(it->second.sizes()) +
              ", the model's adapter needs " + c10::str(target.sizes()),
          "the adapter was trained with another rank or on another base model");
    }
    target.copy_(it->second.to(target.device(), target.scalar_type()));
    given.erase(it);
  }
  if (!missing.empty()) {
    throw CheckpointError(
        "'" + origin + "' lacks " + std::to_string(missing.size()) +
            " adapter tensor(s): " + join(missing),
        "the adapter folder is incomplete or its adapter_config.json names other layers");
  }
  if (!given.empty()) {
    std::vector<std::string> extra;
    for (const auto& item : given)
      extra.push_back(item.first);
    throw CheckpointError(
        "'" + origin + "' holds tensors the model has no adapter for: " + join(extra),
        "the adapter was trained on another base model or with other target_modules");
  }
}

void merge_lora(LlamaForCausalLMImpl& model) {
  at::NoGradGuard no_grad;
  for (auto& [path, linear] : adapted(model)) {
    const LoraAdapter& adapter = *linear->lora;
    if (adapter.mode == LoraMode::active) {
      at::Tensor delta = at::matmul(adapter.B, adapter.A) * adapter.scaling;  // [out, in] fp32
      at::Tensor merged = linear->weight.to(at::kFloat) + delta.to(linear->weight.device());
      linear->weight.copy_(merged.to(linear->weight.scalar_type()));
    }
    linear->lora.reset();
  }
  for (CopySlot& slot : copy_slots(model)) {
    if (!*slot.copy)
      continue;
    if ((*slot.copy)->mode == LoraMode::active)
      slot.base.copy_((*slot.copy)->weight.to(slot.base.device(), slot.base.scalar_type()));
    slot.copy->reset();
  }
}

void share_lora(LlamaForCausalLMImpl& from, LlamaForCausalLMImpl& to) {
  std::map<std::string, LinearImpl*> targets;
  for (auto& [path, linear] : decoder_linears(to))
    targets[path] = linear;
  for (auto& [path, linear] : adapted(from)) {
    auto it = targets.find(path);
    TORCH_CHECK(it != targets.end(), "share_lora: the other model has no layer ", path);
    it->second->lora = linear->lora;
  }
  std::vector<CopySlot> from_slots = copy_slots(from), to_slots = copy_slots(to);
  TORCH_CHECK(from_slots.size() == to_slots.size(), "share_lora: the models differ in lm_head");
  for (size_t i = 0; i < from_slots.size(); ++i)
    *to_slots[i].copy = *from_slots[i].copy;
}

std::string lora_content_hash(LlamaForCausalLMImpl& model) {
  Hash128Stream hash;
  for (const auto& [name, tensor] : lora_parameters(model)) {
    at::Tensor cpu = tensor.detach().to(at::kCPU).contiguous();
    hash.update_field(name);
    hash.update_field(c10::toString(cpu.scalar_type()));
    hash.update_field(c10::str(cpu.sizes()));
    hash.update_field(std::string_view(static_cast<const char*>(cpu.data_ptr()), cpu.nbytes()));
  }
  return hash.digest().hex();
}

}  // namespace dpo
