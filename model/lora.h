// LoRA on a LlamaForCausalLM (config: model/lora_config.h; docs/lora.md): low-rank adapters on
// the targeted linear layers, y = W x + B A dropout(x) * scaling, and trained copies of the
// embeddings / LM head (PEFT's modules_to_save). The adapter tensors are held by the layers
// through pointers, not registered as parameters, so the base model's checkpoint IO and content
// hash are untouched; lora_parameters() names them as PEFT does
// (base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight, ...).
//
// Numerics follow peft's lora.Linear: the adapter runs in fp32 on x cast to fp32, its output is
// added to the base output (promoting it to fp32) and the sum cast back to x's dtype, so a bf16
// base with fp32 adapters gives what peft gives.
//
// Each adapter (and copy) can be switched between three states (set_lora_mode): active (the
// trained tensors), off (the base alone: the reference of a LoRA run) and initial (a frozen copy
// of the tensors it started from, kept by keep_initial_lora: the reference when a run starts
// from an existing adapter that is merged into the reference).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "model/lora_config.h"

namespace dpo {

class LlamaForCausalLMImpl;

enum class LoraMode { active, off, initial };

struct LoraAdapter {
  at::Tensor A;  // [r, in] fp32, requires grad
  at::Tensor B;  // [out, r] fp32, requires grad
  double scaling = 1.0;
  double dropout = 0.0;
  LoraMode mode = LoraMode::active;
  at::Tensor initial_A, initial_B;  // frozen copies (keep_initial_lora), else undefined
};

// A trained copy of a whole weight (PEFT's ModulesToSaveWrapper).
struct LoraWeightCopy {
  at::Tensor weight;  // the base weight's shape, fp32, requires grad
  LoraMode mode = LoraMode::active;
  at::Tensor initial;  // frozen copy (keep_initial_lora), else undefined
  // The weight the layer uses now, in the base weight's dtype.
  at::Tensor weight_in_use(const at::Tensor& base) const;
};

// The base output `y` = x W^T (+ b) plus the adapter's term under its mode (y itself when off, or
// when initial without initial copies). Dropout only while `training` and active (the initial
// copies are a frozen reference).
at::Tensor lora_add(
    const LoraAdapter& adapter, const at::Tensor& x, const at::Tensor& y, bool training);

// alpha / rank, or alpha / sqrt(rank) with use_rslora (PEFT's scaling).
double lora_scaling(const LoraConfig& config);

// The linear layers a list of target names selects, as module paths ("model.layers.0.mlp.up_proj")
// in model order. A name matches a path equal to it or ending in "." + name (PEFT's rule);
// "all-linear" is every decoder linear layer (not lm_head). ConfigError naming a target that
// matches no linear layer, an empty list, and lm_head (dpo computes the head without a layer).
std::vector<std::string> lora_target_paths(
    LlamaForCausalLMImpl& model, const std::vector<std::string>& targets);

// Checks a config before any model exists: ConfigError naming `section`'s key for rank <= 0,
// alpha <= 0, dropout outside [0, 1), an empty target list and, with `check_names`, an unknown
// target name (known: q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj,
// all-linear; an adapter_config.json may also hold module paths, matched by lora_target_paths).
void validate_lora_config(
    const LoraConfig& config, const std::string& section = "lora", bool check_names = true);

// Attaches fresh adapters (and trained copies for train_embeddings / train_lm_head) to `model`,
// on its device: A by config.init (kaiming: uniform(-1/sqrt(in), 1/sqrt(in)), what
// kaiming_uniform_(a=sqrt(5)) draws; gaussian: normal(0, 1/rank)), B zero, drawn on the CPU
// from `seed` in model order (A of each layer in turn) so a seed gives the same adapters on every
// device. Freezes every base parameter. ConfigError for a bad config, adapters already attached,
// or train_lm_head / train_embeddings on a model with tied embeddings.
void attach_lora(LlamaForCausalLMImpl& model, const LoraConfig& config, uint64_t seed);

bool has_lora(LlamaForCausalLMImpl& model);
void set_lora_mode(LlamaForCausalLMImpl& model, LoraMode mode);
// Keeps a frozen copy of every adapter and trained copy as it is now (LoraMode::initial).
void keep_initial_lora(LlamaForCausalLMImpl& model);

using LoraTensors = std::vector<std::pair<std::string, at::Tensor>>;

// The trained tensors by PEFT's saved name, in model order: "base_model.model.<path>.lora_A.weight"
// and ".lora_B.weight" per layer, then "base_model.model.model.embed_tokens.weight" and
// "base_model.model.lm_head.weight" for the trained copies. The tensors themselves (they require
// grad): the parameters of the optimizer.
LoraTensors lora_parameters(LlamaForCausalLMImpl& model);
// The module paths that carry an adapter, in model order.
std::vector<std::string> lora_adapted_paths(LlamaForCausalLMImpl& model);
// The PEFT module names of the trained copies ("embed_tokens", "lm_head"), in that order.
std::vector<std::string> lora_saved_modules(LlamaForCausalLMImpl& model);

// Copies `tensors` (by PEFT name, any dtype) into the attached adapters: CheckpointError naming
// `origin` and the tensor for a missing or unexpected name or a wrong shape.
void load_lora_tensors(
    LlamaForCausalLMImpl& model, const LoraTensors& tensors, const std::string& origin);

// Folds the active adapters into the base weights (W += scaling * B A, computed in fp32 and
// rounded once into W's dtype), copies the trained copies over their weights and detaches all,
// leaving a plain model.
void merge_lora(LlamaForCausalLMImpl& model);

// Attaches `from`'s adapters and trained copies to the same layers of `to` (a model of the same
// config, e.g. an fp32 CPU copy to merge into): the tensors are shared, not copied.
void share_lora(LlamaForCausalLMImpl& from, LlamaForCausalLMImpl& to);

// Hex XXH3-128 of the adapters' names, shapes and values (active tensors), for run lineage.
std::string lora_content_hash(LlamaForCausalLMImpl& model);

}  // namespace dpo
