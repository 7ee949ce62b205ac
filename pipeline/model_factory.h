// `dpo init-model`: a randomly initialised Llama-family model written as a complete Hugging Face
// folder, with the tokenizer and a tokenizer_config.json carrying the chat template, so the
// folder is a valid starting point for SFT and DPO (and loads in transformers).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/model_config.h"

namespace dpo {

struct InitModelOptions {
  std::string preset;  // tiny | small | tinyllama-1b | tiny-qwen3 (model_config_preset_names())
  std::string config_path;     // or a config.json
  std::string tokenizer_path;  // tokenizer.model, or a tokenizer folder (tokenizer.json)
  std::string template_spec;   // a built-in name, .jinja file or model folder; empty: none
  std::vector<std::string> added_special_tokens;  // chat markers that are pieces of the model
  std::string eos_token;                          // empty: the model's </s>
  std::string out_dir;
  uint64_t seed = 0;
};

struct InitModelResult {
  ModelConfig config;
  int64_t parameters = 0;
  std::string content_hash;
};

InitModelResult init_model_folder(const InitModelOptions& options);

}  // namespace dpo
