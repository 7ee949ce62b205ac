// The architecture of a Llama-family decoder, read from and written to a Hugging Face
// config.json (LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM), and the presets that
// `dpo init-model` starts from.
//
// Reading is strict about everything that changes the computation: an unknown architecture,
// a missing required key, a wrong type, sizes that do not divide, an unsupported rope_scaling
// type, hidden_act other than silu, mlp_bias, sliding-window attention that would apply, or
// a quantization_config are ConfigErrors naming the file and the key. Keys that do not change
// the math (use_cache, transformers_version, attention_dropout, pretraining_tp, ...) are
// ignored.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace dpo {

// Upper bounds on the sizes a config.json may declare, checked before anything is allocated
// (docs/model.md). Generous: the largest released Llama-family models stay far below each
// (Llama 3.1 405B: hidden 16384, intermediate 53248, 126 layers, 128 heads, vocab 128256), so
// a value above one is a corrupted or hostile file, not a model.
constexpr int64_t kMaxVocabSize = int64_t{1} << 22;           // 4,194,304 tokens
constexpr int64_t kMaxHiddenSize = int64_t{1} << 16;          // 65,536
constexpr int64_t kMaxIntermediateSize = int64_t{1} << 20;    // 1,048,576
constexpr int64_t kMaxHiddenLayers = 1024;                    //
constexpr int64_t kMaxAttentionHeads = 1024;                  // also key/value heads
constexpr int64_t kMaxHeadDim = 4096;                         //
constexpr int64_t kMaxPositionEmbeddings = int64_t{1} << 24;  // 16,777,216 positions

struct RopeScaling {
  std::string type = "default";  // "default" (none), "linear" or "llama3"
  double factor = 1.0;
  // llama3 only
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  int64_t original_max_position_embeddings = 8192;
  bool operator==(const RopeScaling& other) const;
};

struct ModelConfig {
  std::string architecture = "LlamaForCausalLM";  // also MistralForCausalLM, Qwen2ForCausalLM
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0;  // = num_attention_heads when absent from the file
  int64_t head_dim = 0;             // = hidden_size / num_attention_heads when absent
  int64_t vocab_size = 0;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  int64_t max_position_embeddings = 2048;
  bool tie_word_embeddings = false;
  // Llama: bias on q, k, v and o projections. Qwen2 always has q/k/v bias (and no o bias),
  // so this is true for Qwen2 (see qkv_bias()).
  bool attention_bias = false;
  // Mistral's sliding window; sequences longer than it are refused (no sliding attention).
  std::optional<int64_t> sliding_window;
  double initializer_range = 0.02;
  std::optional<int64_t> bos_token_id;
  std::vector<int64_t> eos_token_ids;  // config.json holds a number or a list
  std::optional<int64_t> pad_token_id;
  std::string torch_dtype = "float32";  // "float32", "bfloat16" or "float16"

  // "llama", "mistral" or "qwen2"
  std::string model_type() const;
  bool qkv_bias() const;
  bool o_proj_bias() const;
  int64_t num_parameters() const;
  bool operator==(const ModelConfig& other) const;
  bool operator!=(const ModelConfig& other) const {
    return !(*this == other);
  }
};

// Parses config.json text; `name` (the file) is used in messages. Throws ConfigError.
ModelConfig parse_model_config(const std::string& json_text, const std::string& name);
// Reads `path`; throws IoError or ConfigError.
ModelConfig read_model_config(const std::string& path);
// Throws ConfigError (naming `name` and the key) when sizes are not positive, above the limits
// above, or inconsistent.
void validate_model_config(const ModelConfig& config, const std::string& name);
// Throws ConfigError when the tokenizer has more tokens than the model's vocabulary.
void check_tokenizer_fits(
    const ModelConfig& config, int64_t tokenizer_vocab, const std::string& name);

// One parameter of LlamaForCausalLM: its Hugging Face name and shape.
struct TensorSpec {
  std::string name;
  std::vector<int64_t> shape;
};
// The parameters a LlamaForCausalLM built from `config` registers, in registration order, computed
// without allocating anything (what a checkpoint's headers are checked against).
std::vector<TensorSpec> model_tensor_specs(const ModelConfig& config);

// config.json text with Hugging Face's keys (transformers loads it).
std::string model_config_to_json(const ModelConfig& config);
// Writes config.json atomically.
void write_model_config(const std::string& path, const ModelConfig& config);

// Presets: "tiny" (a few hundred thousand parameters, for tests), "small" (a few million),
// "tinyllama-1b" (the shape of TinyLlama-1.1B). `vocab_size` comes from the tokenizer
// (0 = 32000). Throws UsageError for an unknown name.
ModelConfig model_config_preset(const std::string& name, int64_t vocab_size);
std::vector<std::string> model_config_preset_names();

}  // namespace dpo
