// The architecture of a Llama-family decoder, read from and written to a Hugging Face
// config.json (LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM), and
// the presets that `dpo init-model` starts from.
//
// Reading is strict about everything that changes the computation: an unknown architecture,
// a missing required key, a wrong type, sizes that do not divide, an unsupported rope type
// (rope_scaling, or transformers 5's rope_parameters), partial_rotary_factor, hidden_act other
// than silu, mlp_bias, an attention pattern dpo cannot reproduce (layer_types it does not know,
// sliding layers without a window, a sliding window on Llama) or a quantization_config are
// ConfigErrors naming the file and the key. Sliding-window attention (Mistral's sliding_window,
// Qwen2/Qwen3's use_sliding_window + sliding_window + max_window_layers or layer_types) is
// implemented. Keys that do not change the math (use_cache, transformers_version,
// attention_dropout, pretraining_tp, ...) are ignored.
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
  // also MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM
  std::string architecture = "LlamaForCausalLM";
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0;  // = num_attention_heads when absent from the file
  // When absent: hidden_size / num_attention_heads (Qwen3: 128, transformers' default).
  int64_t head_dim = 0;
  int64_t vocab_size = 0;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  int64_t max_position_embeddings = 2048;
  bool tie_word_embeddings = false;
  // Llama and Qwen3: bias on q, k, v and o projections. Qwen2 always has q/k/v bias (and no
  // o bias), so this is true for Qwen2 (see qkv_bias()).
  bool attention_bias = false;
  // The key window of sliding-window attention: query i sees keys j with i - j < window
  // (transformers' sliding_window_overlay). Mistral: every layer slides when set. Qwen2/Qwen3:
  // set only when use_sliding_window is true, and applies to the layers layer_types names.
  std::optional<int64_t> sliding_window;
  // Qwen2/Qwen3: "full_attention" or "sliding_attention" per layer (transformers' layer_types,
  // or derived from max_window_layers). Empty when no layer slides (the normal form: parsing
  // empties a list without sliding layers).
  std::vector<std::string> layer_types;
  double initializer_range = 0.02;
  std::optional<int64_t> bos_token_id;
  std::vector<int64_t> eos_token_ids;  // config.json holds a number or a list
  std::optional<int64_t> pad_token_id;
  std::string torch_dtype = "float32";  // "float32", "bfloat16" or "float16"

  // "llama", "mistral", "qwen2" or "qwen3"
  std::string model_type() const;
  bool qkv_bias() const;
  bool o_proj_bias() const;
  // Qwen3: RMSNorm over head_dim on each query and key head (q_norm, k_norm), before RoPE.
  bool qk_norm() const;
  // The sliding window of layer `layer`'s attention, or 0 for full causal attention.
  int64_t attention_window(int64_t layer) const;
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

// One parameter of the model: its Hugging Face name and shape.
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
// "tinyllama-1b" (the shape of TinyLlama-1.1B), "tiny-qwen3" (tiny's size as Qwen3: q/k norms,
// head_dim 32 != hidden / heads, tied embeddings). `vocab_size` comes from the tokenizer
// (0 = 32000). Throws UsageError for an unknown name.
ModelConfig model_config_preset(const std::string& name, int64_t vocab_size);
std::vector<std::string> model_config_preset_names();

}  // namespace dpo
