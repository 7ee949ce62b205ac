// Hugging Face model folders in and out: loading config.json + safetensors (single file or
// shards) into a LlamaForCausalLM, saving a complete folder atomically, random initialisation
// for init-model, and a content hash of a model for cache keys.
//
// Loading checks every tensor against the config: a tensor the config needs and the checkpoint
// lacks, a tensor the checkpoint has and the config does not know, and a tensor of the wrong
// shape are CheckpointErrors naming them. (Tolerated, as transformers does: lm_head.weight in a
// tied checkpoint when it equals the embeddings, and the rotary_emb.inv_freq buffers of old
// Llama checkpoints.) Weights are converted to the dtype asked for while copying.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "model/llama.h"
#include "model/model_config.h"

namespace dpo {

struct LoadedModel {
  ModelConfig config;
  LlamaForCausalLM model{nullptr};
};

class SafeTensorsCheckpoint;

// Loads `folder` (config.json + model.safetensors or model.safetensors.index.json). Nothing is
// allocated before config.json is within the size limits (model_config.h) and every tensor the
// config implies is in the safetensors headers with its shape (check_checkpoint_matches).
LoadedModel load_pretrained(const std::string& folder, at::ScalarType dtype, at::Device device);

// Copies the checkpoint's tensors into `model`'s parameters (see the checks above).
// `folder` names the checkpoint in messages.
void load_weights(LlamaForCausalLMImpl& model, const std::string& folder);

// Checks the tensors of `checkpoint` (read from its headers only; nothing is allocated) against
// those `config` implies (model_tensor_specs). A mismatch that one config key explains (layer
// count, vocabulary, hidden or intermediate size, heads, tied head) is a CheckpointError naming
// the key, its value and what the checkpoint holds, e.g. "config 'm/config.json': key
// 'num_hidden_layers' = 8, but 'm/model.safetensors' holds 4 layers"; otherwise the missing,
// unexpected and misshapen tensors are listed. `config_name` and `folder` are for messages.
void check_checkpoint_matches(
    const ModelConfig& config,
    const std::string& config_name,
    const SafeTensorsCheckpoint& checkpoint,
    const std::string& folder);

// Builds the model's (uninitialised) parameters. On the CPU, a model larger than the machine's
// memory (RAM + swap) is refused before allocating; an allocation that fails anyway (LibTorch's
// c10::Error, std::bad_alloc, CUDA out of memory) is a ConfigError naming `name`, the parameter
// count and the bytes asked for.
LlamaForCausalLM allocate_model(
    const ModelConfig& config, const at::TensorOptions& options, const std::string& name);

// The tokenizer files copied from a source folder when saving, when present there.
const std::vector<std::string>& tokenizer_file_names();

struct SaveOptions {
  // Shard when the tensors' bytes exceed this (transformers' default is 5 GB).
  uint64_t max_shard_bytes = 5ull * 1000 * 1000 * 1000;
  // A folder whose tokenizer files (tokenizer_file_names()) are copied; empty for none.
  std::string tokenizer_source;
  // Replace an existing non-empty `folder` (the old one is removed after the new one is in
  // place); otherwise an existing non-empty folder is an error.
  bool overwrite = false;
  // More files for the folder: name inside it -> source path to copy, and name -> contents.
  std::map<std::string, std::string> copy_files;
  std::map<std::string, std::string> write_files;
};

// Writes a complete Hugging Face folder: config.json (torch_dtype = the model's dtype),
// safetensors (sharded with an index when larger than max_shard_bytes) and the tokenizer files.
// Atomic: everything goes into a temporary sibling folder, files and folder are fsynced, then
// the folder is renamed into place.
void save_pretrained(
    LlamaForCausalLMImpl& model, const std::string& folder, const SaveOptions& options = {});

// The model's tensors by Hugging Face name, in registration order (what save_pretrained writes).
std::vector<std::pair<std::string, at::Tensor>> model_state(LlamaForCausalLMImpl& model);

// Normal(0, initializer_range) for linear and embedding weights, zero biases, ones for RMSNorm
// weights, the pad token's embedding row zeroed (as transformers' _init_weights). Drawn on the
// CPU from a generator seeded with `seed`, so a seed gives the same weights on every device.
void init_random_weights(LlamaForCausalLMImpl& model, uint64_t seed);

// Hex XXH3-128 of the config (as written to config.json) and every tensor's name, dtype, shape
// and bytes: equal hashes mean the same model. Used as a cache key for reference log-probs.
std::string model_content_hash(LlamaForCausalLMImpl& model);

// "float32" | "fp32", "bfloat16" | "bf16", "float16" | "fp16" -> scalar type; UsageError otherwise.
at::ScalarType parse_model_dtype(const std::string& name);
// at::kBFloat16 -> "bfloat16" (config.json's torch_dtype spelling)
std::string model_dtype_name(at::ScalarType type);

}  // namespace dpo
