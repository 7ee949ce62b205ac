// PEFT adapter folders (what peft's save_pretrained writes and PeftModel.from_pretrained reads):
// adapter_config.json with peft's LoraConfig fields and adapter_model.safetensors with the
// adapter tensors under peft's saved names (model/lora.h). dpo also records the base model's
// content hash (model_content_hash) in the safetensors __metadata__ ("dpo.base_model_hash"),
// which peft ignores, so that dpo refuses an adapter put on another base.
//
// Supported on reading: peft_type LORA with plain LoRA (no DoRA, no rank/alpha patterns, no
// LoRA bias, no layers_to_transform, no exclude_modules, init_lora_weights true / false /
// "gaussian"); target_modules as names, module paths, "all-linear" or a regex (matched in full
// against the module paths, as peft does); modules_to_save embed_tokens and lm_head. Anything
// else is a ConfigError naming the key, so an adapter that dpo would apply differently from peft
// is never loaded.
#pragma once

#include <string>
#include <vector>

#include "model/lora_config.h"

namespace dpo {

class LlamaForCausalLMImpl;

struct PeftAdapterConfig {
  LoraConfig lora;  // rank, alpha, dropout, use_rslora, init, train_embeddings / lm_head
  // target_modules as the file says: names or module paths; a single regex when `regex`.
  std::vector<std::string> target_modules;
  bool regex = false;
  std::string base_model_name_or_path;  // may be empty
};

// Reads and checks FOLDER/adapter_config.json (see above for what is refused).
PeftAdapterConfig read_peft_adapter_config(const std::string& folder);

struct PeftSaveOptions {
  std::string base_model_name_or_path;  // written into adapter_config.json
  std::string base_model_hash;          // model_content_hash of the base; empty: not recorded
  bool overwrite = false;  // replace an existing non-empty folder (else CheckpointError)
};

// Writes the adapters attached to `model` (the active tensors, fp32) as a PEFT folder, with
// `config`'s rank, alpha, dropout, use_rslora and init, target_modules the adapted layers' names
// and modules_to_save the trained copies. Atomic: written into a temporary sibling folder,
// fsynced, renamed into place.
void save_peft_adapter(
    LlamaForCausalLMImpl& model,
    const LoraConfig& config,
    const std::string& folder,
    const PeftSaveOptions& options = {});

// Attaches the adapter of `folder` to `model` (which has none yet) and loads its tensors. When
// `base_hash` is not empty and the adapter records one, they must be equal (CheckpointError
// otherwise); missing, unexpected and misshapen tensors are CheckpointErrors naming them.
// Returns the adapter's config.
PeftAdapterConfig load_peft_adapter(
    LlamaForCausalLMImpl& model, const std::string& folder, const std::string& base_hash = "");

// The metadata key of the base model's content hash in adapter_model.safetensors.
inline constexpr const char* kPeftBaseHashKey = "dpo.base_model_hash";

}  // namespace dpo
