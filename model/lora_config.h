// What a LoRA run trains (config section `lora`, docs/lora.md): low-rank adapters
// W x + (B A x) * scaling on the named linear layers of a frozen base model, the reference being
// the same network with the adapters switched off. Defaults and names are PEFT's LoraConfig's
// (r=8, lora_alpha=8, lora_dropout=0, q_proj/v_proj for Llama-family models), so an adapter
// dpo writes loads with PeftModel.from_pretrained. Torch-free: `dpo plan` reads it too.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace dpo {

enum class LoraInit {
  kaiming,   // PEFT's default (init_lora_weights=True): A Kaiming-uniform(a=sqrt(5)), B zero
  gaussian,  // init_lora_weights="gaussian": A normal(0, 1/rank), B zero
};

struct LoraConfig {
  bool enabled = false;
  int64_t rank = 8;    // r
  double alpha = 8.0;  // lora_alpha; scaling = alpha / rank (alpha / sqrt(rank) with rslora)
  double dropout = 0.0;
  // Module names as PEFT writes them (q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj,
  // down_proj), or the single entry "all-linear" (every linear layer but lm_head).
  std::vector<std::string> target_modules{"q_proj", "v_proj"};
  bool use_rslora = false;
  LoraInit init = LoraInit::kaiming;
  // Trained in full beside the adapters (PEFT's modules_to_save).
  bool train_embeddings = false;  // model.embed_tokens
  bool train_lm_head = false;     // lm_head (untied models)
  // Start from an existing PEFT adapter folder (an SFT LoRA) instead of fresh adapters; its
  // adapter_config.json then sets rank, alpha, targets and rslora. Empty: fresh adapters.
  std::string init_adapter;
  // With init_adapter: the reference is the base with that adapter merged (true, the initial
  // policy) or the base alone (false).
  bool merge_init_adapter_into_reference = true;
};

}  // namespace dpo
