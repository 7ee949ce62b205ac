// config.json: reading Llama, Mistral, Qwen2 and Qwen3 configs (transformers 4 and 5 keys),
// sliding windows, strict errors, round trips, presets.
#include "model/model_config.h"

#include <gtest/gtest.h>

#include <string>

#include "core/error.h"
#include "tests/support/test_support.h"

namespace dpo {
namespace {

// TinyLlama-1.1B-Chat-v1.0's config.json (as published on the Hugging Face hub).
const char* kTinyLlama = R"({
  "architectures": ["LlamaForCausalLM"], "attention_bias": false, "bos_token_id": 1,
  "eos_token_id": 2, "hidden_act": "silu", "hidden_size": 2048, "initializer_range": 0.02,
  "intermediate_size": 5632, "max_position_embeddings": 2048, "model_type": "llama",
  "num_attention_heads": 32, "num_hidden_layers": 22, "num_key_value_heads": 4,
  "pretraining_tp": 1, "rms_norm_eps": 1e-05, "rope_scaling": null, "rope_theta": 10000.0,
  "tie_word_embeddings": false, "torch_dtype": "bfloat16", "transformers_version": "4.35.0",
  "vocab_size": 32000, "use_cache": true})";

// Qwen3-0.6B's config.json (as published on the Hugging Face hub).
const char* kQwen3 = R"({
  "architectures": ["Qwen3ForCausalLM"], "attention_bias": false, "attention_dropout": 0.0,
  "bos_token_id": 151643, "eos_token_id": 151645, "head_dim": 128, "hidden_act": "silu",
  "hidden_size": 1024, "initializer_range": 0.02, "intermediate_size": 3072,
  "max_position_embeddings": 40960, "max_window_layers": 28, "model_type": "qwen3",
  "num_attention_heads": 16, "num_hidden_layers": 28, "num_key_value_heads": 8,
  "rms_norm_eps": 1e-06, "rope_scaling": null, "rope_theta": 1000000, "sliding_window": null,
  "tie_word_embeddings": true, "torch_dtype": "bfloat16", "transformers_version": "4.51.0",
  "use_cache": true, "use_sliding_window": false, "vocab_size": 151936})";

// A small config of `architecture` with `extra` keys (JSON members, no braces) added.
std::string small_config(const std::string& architecture, const std::string& extra = "") {
  return R"({"architectures":[")" + architecture +
         R"("],"hidden_size":64,"intermediate_size":128,"num_hidden_layers":3,
         "num_attention_heads":4,"num_key_value_heads":2,"vocab_size":100,"rms_norm_eps":1e-6)" +
         (extra.empty() ? "" : "," + extra) + "}";
}

// Expects parse_model_config(text) to throw a ConfigError mentioning `key` and the file name.
void expect_config_error(const std::string& text, const std::string& key) {
  try {
    parse_model_config(text, "cfg.json");
    ADD_FAILURE() << "accepted a config; expected an error about " << key;
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("'" + key + "'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("cfg.json"), std::string::npos) << e.what();
  }
}

// kTinyLlama with `key` replaced by `value` (a JSON text), or removed when value is empty.
std::string tinyllama_with(const std::string& key, const std::string& value) {
  std::string text = kTinyLlama;
  size_t at = text.find("\"" + key + "\":");
  if (at == std::string::npos)
    return text.insert(1, "\"" + key + "\": " + value + ",");
  size_t end = text.find_first_of(",}", text.find(':', at));
  if (text[text.find(':', at) + 2] == '[')
    end = text.find(']', at) + 1;
  if (value.empty())
    return text.erase(at, end - at + (text[end] == ',' ? 1 : 0));
  return text.replace(at, end - at, "\"" + key + "\": " + value);
}

TEST(ModelConfig, ReadsTinyLlama) {
  ModelConfig c = parse_model_config(kTinyLlama, "config.json");
  EXPECT_EQ(c.architecture, "LlamaForCausalLM");
  EXPECT_EQ(c.hidden_size, 2048);
  EXPECT_EQ(c.num_key_value_heads, 4);
  EXPECT_EQ(c.head_dim, 64);
  EXPECT_DOUBLE_EQ(c.rms_norm_eps, 1e-5);
  EXPECT_EQ(c.rope_scaling.type, "default");
  EXPECT_EQ(c.bos_token_id, 1);
  EXPECT_EQ(c.eos_token_ids, std::vector<int64_t>{2});
  EXPECT_FALSE(c.pad_token_id.has_value());
  EXPECT_EQ(c.torch_dtype, "bfloat16");
  EXPECT_FALSE(c.qkv_bias());
  // The published parameter count of TinyLlama-1.1B.
  EXPECT_EQ(c.num_parameters(), 1100048384);
}

TEST(ModelConfig, TinyLlamaPresetHasTinyLlamasShape) {
  ModelConfig preset = model_config_preset("tinyllama-1b", 32000);
  ModelConfig real = parse_model_config(kTinyLlama, "config.json");
  EXPECT_EQ(preset.num_parameters(), real.num_parameters());
  EXPECT_EQ(preset.num_hidden_layers, 22);
  EXPECT_EQ(preset.num_key_value_heads, 4);
}

TEST(ModelConfig, DefaultsForOptionalKeys) {
  ModelConfig c = parse_model_config(
      R"({"architectures":["LlamaForCausalLM"],"hidden_size":64,
      "intermediate_size":128,"num_hidden_layers":2,"num_attention_heads":8,"vocab_size":100,
      "rms_norm_eps":1e-6})",
      "c");
  EXPECT_EQ(c.num_key_value_heads, 8);
  EXPECT_EQ(c.head_dim, 8);
  EXPECT_DOUBLE_EQ(c.rope_theta, 10000.0);
  EXPECT_FALSE(c.tie_word_embeddings);
  EXPECT_TRUE(c.eos_token_ids.empty());
}

TEST(ModelConfig, Qwen2HasQkvBiasAndMistralASlidingWindow) {
  ModelConfig qwen = parse_model_config(
      R"({"architectures":["Qwen2ForCausalLM"],"model_type":"qwen2",
      "hidden_size":896,"intermediate_size":4864,"num_hidden_layers":24,"num_attention_heads":14,
      "num_key_value_heads":2,"vocab_size":151936,"rms_norm_eps":1e-6,"rope_theta":1000000.0,
      "tie_word_embeddings":true,"use_sliding_window":false,"sliding_window":32768,
      "max_window_layers":21,"bos_token_id":151643,"eos_token_id":151645,"torch_dtype":"bfloat16"})",
      "q");
  EXPECT_TRUE(qwen.qkv_bias());
  EXPECT_FALSE(qwen.o_proj_bias());
  EXPECT_EQ(qwen.head_dim, 64);
  EXPECT_TRUE(qwen.tie_word_embeddings);
  // Qwen2.5-0.5B's published parameter count.
  EXPECT_EQ(qwen.num_parameters(), 494032768);

  ModelConfig mistral = parse_model_config(
      R"({"architectures":["MistralForCausalLM"],"hidden_size":64,
      "intermediate_size":128,"num_hidden_layers":2,"num_attention_heads":8,"num_key_value_heads":2,
      "vocab_size":100,"rms_norm_eps":1e-5,"sliding_window":4096})",
      "m");
  EXPECT_EQ(mistral.sliding_window, 4096);
  EXPECT_FALSE(mistral.qkv_bias());
}

TEST(ModelConfig, ReadsQwen3) {
  ModelConfig c = parse_model_config(kQwen3, "config.json");
  EXPECT_EQ(c.architecture, "Qwen3ForCausalLM");
  EXPECT_EQ(c.model_type(), "qwen3");
  EXPECT_EQ(c.head_dim, 128);  // not hidden_size / heads = 64
  EXPECT_TRUE(c.qk_norm());
  EXPECT_FALSE(c.qkv_bias());
  EXPECT_FALSE(c.o_proj_bias());
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_DOUBLE_EQ(c.rope_theta, 1e6);
  EXPECT_FALSE(c.sliding_window.has_value());  // "use_sliding_window": false
  EXPECT_TRUE(c.layer_types.empty());
  for (int64_t i = 0; i < c.num_hidden_layers; ++i)
    EXPECT_EQ(c.attention_window(i), 0);
  // Qwen3-0.6B's parameter count, as transformers counts it (q_norm and k_norm included).
  EXPECT_EQ(c.num_parameters(), 596049920);
  std::vector<TensorSpec> specs = model_tensor_specs(c);
  EXPECT_EQ(specs[5].name, "model.layers.0.self_attn.q_norm.weight");
  EXPECT_EQ(specs[5].shape, (std::vector<int64_t>{128}));
  EXPECT_EQ(specs[6].name, "model.layers.0.self_attn.k_norm.weight");

  // Defaults of Qwen3Config: head_dim 128 and 32 key/value heads (Qwen2: the same heads).
  const std::string bare = R"({"architectures":["ARCH"],"hidden_size":128,
      "intermediate_size":128,"num_hidden_layers":2,"num_attention_heads":32,"vocab_size":100,
      "rms_norm_eps":1e-6})";
  auto with_arch = [&](const std::string& arch) {
    return std::string(bare).replace(bare.find("ARCH"), 4, arch);
  };
  ModelConfig qwen3 = parse_model_config(with_arch("Qwen3ForCausalLM"), "c");
  EXPECT_EQ(qwen3.head_dim, 128);
  EXPECT_EQ(qwen3.num_key_value_heads, 32);
  ModelConfig qwen2 = parse_model_config(with_arch("Qwen2ForCausalLM"), "c");
  EXPECT_EQ(qwen2.head_dim, 4);
  EXPECT_EQ(qwen2.num_key_value_heads, 32);
  // attention_bias: q, k, v and o, as Llama.
  ModelConfig biased =
      parse_model_config(small_config("Qwen3ForCausalLM", R"("attention_bias":true)"), "c");
  EXPECT_TRUE(biased.qkv_bias());
  EXPECT_TRUE(biased.o_proj_bias());
  expect_config_error(small_config("Qwen3ForCausalLM", R"("model_type":"qwen2")"), "model_type");
}

// Llama-3.1-8B-Instruct's and Mistral-7B-Instruct-v0.3's config.json (as published); the
// parameter counts are transformers' for the same configs.
TEST(ModelConfig, ReadsLlama31AndMistralV03) {
  ModelConfig llama = parse_model_config(
      R"({"architectures":["LlamaForCausalLM"],"attention_bias":false,"attention_dropout":0.0,
      "bos_token_id":128000,"eos_token_id":[128001,128008,128009],"hidden_act":"silu",
      "hidden_size":4096,"initializer_range":0.02,"intermediate_size":14336,
      "max_position_embeddings":131072,"mlp_bias":false,"model_type":"llama",
      "num_attention_heads":32,"num_hidden_layers":32,"num_key_value_heads":8,"pretraining_tp":1,
      "rms_norm_eps":1e-05,"rope_scaling":{"factor":8.0,"low_freq_factor":1.0,
      "high_freq_factor":4.0,"original_max_position_embeddings":8192,"rope_type":"llama3"},
      "rope_theta":500000.0,"tie_word_embeddings":false,"torch_dtype":"bfloat16",
      "transformers_version":"4.42.3","use_cache":true,"vocab_size":128256})",
      "llama");
  EXPECT_EQ(llama.rope_scaling.type, "llama3");
  EXPECT_EQ(llama.rope_scaling.original_max_position_embeddings, 8192);
  EXPECT_EQ(llama.eos_token_ids, (std::vector<int64_t>{128001, 128008, 128009}));
  EXPECT_EQ(llama.num_parameters(), 8030261248);
  ModelConfig mistral = parse_model_config(
      R"({"architectures":["MistralForCausalLM"],"attention_dropout":0.0,"bos_token_id":1,
      "eos_token_id":2,"hidden_act":"silu","hidden_size":4096,"initializer_range":0.02,
      "intermediate_size":14336,"max_position_embeddings":32768,"model_type":"mistral",
      "num_attention_heads":32,"num_hidden_layers":32,"num_key_value_heads":8,"rms_norm_eps":1e-05,
      "rope_theta":1000000.0,"sliding_window":null,"tie_word_embeddings":false,
      "torch_dtype":"bfloat16","transformers_version":"4.42.0.dev0","use_cache":true,
      "vocab_size":32768})",
      "mistral");
  EXPECT_FALSE(mistral.sliding_window.has_value());
  EXPECT_EQ(mistral.attention_window(0), 0);
  EXPECT_EQ(mistral.num_parameters(), 7248023552);
}

TEST(ModelConfig, RopeScalingTypes) {
  ModelConfig linear =
      parse_model_config(tinyllama_with("rope_scaling", R"({"type":"linear","factor":2.0})"), "c");
  EXPECT_EQ(linear.rope_scaling.type, "linear");
  EXPECT_DOUBLE_EQ(linear.rope_scaling.factor, 2.0);
  ModelConfig llama3 = parse_model_config(
      tinyllama_with("rope_scaling", R"({"rope_type":"llama3","factor":32.0,"low_freq_factor":1.0,
          "high_freq_factor":4.0,"original_max_position_embeddings":8192})"),
      "c");
  EXPECT_EQ(llama3.rope_scaling.type, "llama3");
  EXPECT_EQ(llama3.rope_scaling.original_max_position_embeddings, 8192);
  expect_config_error(
      tinyllama_with("rope_scaling", R"({"type":"yarn","factor":4.0})"), "rope_scaling");
  expect_config_error(
      tinyllama_with("rope_scaling", R"({"rope_type":"llama3","factor":8.0})"),
      "rope_scaling.low_freq_factor");
}

// transformers 5 writes rope_theta and the scaling inside rope_parameters; both forms are read,
// and every rope type other than default, linear and llama3 is refused by name.
TEST(ModelConfig, RopeParametersOfTransformers5) {
  // What transformers 5.17 writes for Llama 3.1's scaling.
  ModelConfig v5 = parse_model_config(
      small_config("LlamaForCausalLM", R"("rope_parameters":{
      "factor":8.0,"high_freq_factor":4.0,"low_freq_factor":1.0,
      "original_max_position_embeddings":8192,"rope_theta":500000.0,"rope_type":"llama3"})"),
      "c");
  EXPECT_EQ(v5.rope_scaling.type, "llama3");
  EXPECT_DOUBLE_EQ(v5.rope_scaling.factor, 8.0);
  EXPECT_EQ(v5.rope_scaling.original_max_position_embeddings, 8192);
  EXPECT_DOUBLE_EQ(v5.rope_theta, 500000.0);
  ModelConfig v4 = parse_model_config(
      small_config("LlamaForCausalLM", R"("rope_theta":500000.0,
      "rope_scaling":{"factor":8.0,"high_freq_factor":4.0,"low_freq_factor":1.0,
      "original_max_position_embeddings":8192,"rope_type":"llama3"})"),
      "c");
  EXPECT_EQ(v4, v5);
  // Default rope with its theta only.
  ModelConfig plain = parse_model_config(
      small_config(
          "Qwen3ForCausalLM",
          R"("rope_parameters":{"rope_theta":1000000.0,"rope_type":"default"})"),
      "c");
  EXPECT_EQ(plain.rope_scaling.type, "default");
  EXPECT_DOUBLE_EQ(plain.rope_theta, 1e6);
  // The dict's rope_theta wins over the top-level key; a non-empty rope_scaling over
  // rope_parameters (transformers 5's order).
  EXPECT_DOUBLE_EQ(
      parse_model_config(
          small_config("LlamaForCausalLM", R"("rope_theta":10.0,
          "rope_parameters":{"rope_theta":20.0,"rope_type":"default"})"),
          "c")
          .rope_theta,
      20.0);
  ModelConfig both = parse_model_config(
      small_config("LlamaForCausalLM", R"(
      "rope_scaling":{"type":"linear","factor":2.0},
      "rope_parameters":{"rope_type":"default","rope_theta":10000.0})"),
      "c");
  EXPECT_EQ(both.rope_scaling.type, "linear");
  // llama3 without original_max_position_embeddings: max_position_embeddings (transformers 5).
  ModelConfig implicit = parse_model_config(
      small_config("LlamaForCausalLM", R"(
      "max_position_embeddings":4096,"rope_parameters":{"rope_type":"llama3","factor":8.0,
      "low_freq_factor":1.0,"high_freq_factor":4.0,"rope_theta":500000.0})"),
      "c");
  EXPECT_EQ(implicit.rope_scaling.original_max_position_embeddings, 4096);

  for (const char* type : {"yarn", "dynamic", "longrope", "proportional"}) {
    const std::string dict = std::string(R"({"rope_type":")") + type + R"(","factor":4.0})";
    expect_config_error(
        small_config("LlamaForCausalLM", R"("rope_parameters":)" + dict), "rope_parameters");
    expect_config_error(
        small_config("Qwen3ForCausalLM", R"("rope_scaling":)" + dict), "rope_scaling");
  }
  expect_config_error(
      small_config("LlamaForCausalLM", R"("rope_parameters":{"rope_type":"linear"})"),
      "rope_parameters.factor");
  // RoPE over part of the head, and RoPE per layer type, are not implemented.
  expect_config_error(
      small_config("LlamaForCausalLM", R"("partial_rotary_factor":0.5)"), "partial_rotary_factor");
  expect_config_error(
      small_config(
          "LlamaForCausalLM",
          R"("rope_parameters":{"rope_type":"default","rope_theta":1e4,"partial_rotary_factor":0.25})"),
      "rope_parameters.partial_rotary_factor");
  EXPECT_NO_THROW(
      parse_model_config(small_config("LlamaForCausalLM", R"("partial_rotary_factor":1.0)"), "c"));
  expect_config_error(
      small_config("Qwen3ForCausalLM", R"("rope_parameters":{
      "full_attention":{"rope_type":"default","rope_theta":1e6},
      "sliding_attention":{"rope_type":"default","rope_theta":1e4}})"),
      "rope_parameters");
}

// Every key that changes which keys a query sees is honoured or refused by name.
TEST(ModelConfig, SlidingWindowSettings) {
  // Qwen2/Qwen3: use_sliding_window + sliding_window + max_window_layers: the layers from
  // max_window_layers on slide.
  for (const char* arch : {"Qwen2ForCausalLM", "Qwen3ForCausalLM"}) {
    ModelConfig c = parse_model_config(
        small_config(arch, R"("use_sliding_window":true,
        "sliding_window":16,"max_window_layers":1)"),
        "c");
    EXPECT_EQ(c.sliding_window, 16);
    EXPECT_EQ(
        c.layer_types,
        (std::vector<std::string>{"full_attention", "sliding_attention", "sliding_attention"}));
    EXPECT_EQ(c.attention_window(0), 0);
    EXPECT_EQ(c.attention_window(2), 16);
    // layer_types (transformers >= 4.53) wins over max_window_layers.
    ModelConfig listed = parse_model_config(
        small_config(arch, R"("use_sliding_window":true,
        "sliding_window":16,"max_window_layers":1,
        "layer_types":["sliding_attention","full_attention","full_attention"])"),
        "c");
    EXPECT_EQ(listed.attention_window(0), 16);
    EXPECT_EQ(listed.attention_window(1), 0);
    // use_sliding_window false: no window whatever the other keys say (Qwen2.5's config).
    ModelConfig off = parse_model_config(
        small_config(arch, R"("use_sliding_window":false,
        "sliding_window":32768,"max_window_layers":1,
        "layer_types":["full_attention","full_attention","full_attention"])"),
        "c");
    EXPECT_FALSE(off.sliding_window.has_value());
    EXPECT_TRUE(off.layer_types.empty());
    // Sliding layers without a window, and layer types dpo does not know, are refused.
    expect_config_error(
        small_config(arch, R"("use_sliding_window":false,
        "layer_types":["full_attention","sliding_attention","full_attention"])"),
        "layer_types");
    expect_config_error(
        small_config(arch, R"("use_sliding_window":true,"sliding_window":null,
        "layer_types":["full_attention","sliding_attention","full_attention"])"),
        "layer_types");
    expect_config_error(
        small_config(arch, R"("layer_types":["full_attention","chunked_attention",
        "full_attention"])"),
        "layer_types");
    expect_config_error(small_config(arch, R"("layer_types":["full_attention"])"), "layer_types");
    expect_config_error(
        small_config(arch, R"("use_sliding_window":true,"sliding_window":0)"), "sliding_window");
    expect_config_error(small_config(arch, R"("use_sliding_window":"yes")"), "use_sliding_window");
    expect_config_error(
        small_config(arch, R"("use_sliding_window":true,"sliding_window":8,
        "max_window_layers":-1)"),
        "max_window_layers");
  }
  // Mistral: every layer slides; an absent key is MistralConfig's default 4096, null is none.
  ModelConfig mistral = parse_model_config(small_config("MistralForCausalLM"), "m");
  EXPECT_EQ(mistral.sliding_window, 4096);
  EXPECT_EQ(mistral.attention_window(2), 4096);
  EXPECT_FALSE(
      parse_model_config(small_config("MistralForCausalLM", R"("sliding_window":null)"), "m")
          .sliding_window.has_value());
  expect_config_error(
      small_config("MistralForCausalLM", R"("sliding_window":8,
      "layer_types":["full_attention","sliding_attention","sliding_attention"])"),
      "layer_types");
  EXPECT_NO_THROW(parse_model_config(
      small_config("MistralForCausalLM", R"("sliding_window":8,
      "layer_types":["sliding_attention","sliding_attention","sliding_attention"])"),
      "m"));
  // Llama has no sliding-window attention: a config asking for it is refused.
  expect_config_error(small_config("LlamaForCausalLM", R"("sliding_window":8)"), "sliding_window");
  expect_config_error(
      small_config("LlamaForCausalLM", R"("use_sliding_window":true)"), "use_sliding_window");
  expect_config_error(
      small_config(
          "LlamaForCausalLM",
          R"("layer_types":["full_attention","sliding_attention","full_attention"])"),
      "layer_types");
  EXPECT_NO_THROW(parse_model_config(
      small_config(
          "LlamaForCausalLM",
          R"("sliding_window":null,"layer_types":["full_attention","full_attention","full_attention"])"),
      "c"));
}

TEST(ModelConfig, StrictErrorsNameTheKey) {
  expect_config_error(tinyllama_with("architectures", R"(["GPT2LMHeadModel"])"), "architectures");
  expect_config_error(tinyllama_with("hidden_size", ""), "hidden_size");
  expect_config_error(tinyllama_with("vocab_size", ""), "vocab_size");
  expect_config_error(tinyllama_with("rms_norm_eps", ""), "rms_norm_eps");
  expect_config_error(tinyllama_with("hidden_size", "2050"), "num_attention_heads");
  expect_config_error(tinyllama_with("num_key_value_heads", "5"), "num_key_value_heads");
  expect_config_error(tinyllama_with("hidden_size", "\"2048\""), "hidden_size");
  expect_config_error(tinyllama_with("num_hidden_layers", "0"), "num_hidden_layers");
  expect_config_error(tinyllama_with("hidden_act", "\"gelu\""), "hidden_act");
  expect_config_error(tinyllama_with("mlp_bias", "true"), "mlp_bias");
  expect_config_error(tinyllama_with("model_type", "\"mistral\""), "model_type");
  expect_config_error(tinyllama_with("torch_dtype", "\"int8\""), "torch_dtype");
  expect_config_error(tinyllama_with("bos_token_id", "32000"), "bos_token_id");
  expect_config_error(tinyllama_with("quantization_config", "{}"), "quantization_config");
  EXPECT_THROW(parse_model_config("[]", "c"), ConfigError);
  EXPECT_THROW(parse_model_config("{not json", "c"), ConfigError);
}

// Sizes that would allocate terabytes (or wrap around) are refused while reading, naming the key
// and the limit; nothing is allocated from config.json before they pass.
TEST(ModelConfig, SizesAboveTheLimitsAreRefusedNamingTheKey) {
  const std::pair<const char*, const char*> cases[] = {
      {"vocab_size", "137438953472"},  // 2^37: "tried to allocate 549755813632 bytes" before
      {"intermediate_size", "137438953472"},
      {"num_hidden_layers", "1000000"},
      {"hidden_size", "131072"},
      {"num_attention_heads", "2048"},
      {"num_key_value_heads", "2048"},
      {"head_dim", "8192"},
      {"max_position_embeddings", "1099511627776"}};
  for (const auto& [key, value] : cases) {
    try {
      parse_model_config(tinyllama_with(key, value), "cfg.json");
      ADD_FAILURE() << "accepted " << key << " = " << value;
    } catch (const ConfigError& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("cfg.json"), std::string::npos) << what;
      EXPECT_NE(what.find(std::string("key '") + key + "' = " + value), std::string::npos) << what;
      EXPECT_NE(what.find("above dpo's limit"), std::string::npos) << what;
    }
  }
  // The limits themselves are accepted (a generous bound, not a tight one).
  EXPECT_EQ(
      parse_model_config(tinyllama_with("num_hidden_layers", "1024"), "c").num_hidden_layers,
      kMaxHiddenLayers);
  EXPECT_EQ(
      parse_model_config(tinyllama_with("vocab_size", "4194304"), "c").vocab_size, kMaxVocabSize);
}

TEST(ModelConfig, NegativeZeroAndOutOfRangeSizesAreRefused) {
  for (const char* key :
       {"vocab_size",
        "hidden_size",
        "intermediate_size",
        "num_hidden_layers",
        "num_attention_heads",
        "num_key_value_heads",
        "head_dim",
        "max_position_embeddings"}) {
    expect_config_error(tinyllama_with(key, "-1"), key);
    expect_config_error(tinyllama_with(key, "0"), key);
    expect_config_error(tinyllama_with(key, "-9223372036854775808"), key);
    // Above INT64_MAX: read as unsigned by the JSON parser, must not wrap to a negative size.
    expect_config_error(tinyllama_with(key, "18446744073709551615"), key);
    expect_config_error(tinyllama_with(key, "1e30"), key);
    expect_config_error(tinyllama_with(key, "64.5"), key);
  }
  // hidden_size not divisible by the heads (and no head_dim to say otherwise).
  expect_config_error(tinyllama_with("num_attention_heads", "3"), "num_attention_heads");
  // validate_model_config checks structs built in code too (presets, imports).
  ModelConfig c = model_config_preset("tiny", 1000);
  c.num_hidden_layers = 5000;
  try {
    validate_model_config(c, "preset");
    ADD_FAILURE() << "accepted 5000 layers";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("'num_hidden_layers' = 5000"), std::string::npos);
  }
}

// The tensor list is computed from the config alone (checked against the module in
// checkpoint_test.cpp) and costs nothing for the largest configs allowed.
TEST(ModelConfig, TensorSpecsOfTheLargestConfigAreCheapToList) {
  ModelConfig c = model_config_preset("tinyllama-1b", 32000);
  c.num_hidden_layers = kMaxHiddenLayers;
  c.vocab_size = kMaxVocabSize;
  std::vector<TensorSpec> specs = model_tensor_specs(c);
  EXPECT_EQ(specs.size(), 1 + 9 * 1024 + 2u);
  EXPECT_EQ(specs.front().name, "model.embed_tokens.weight");
  EXPECT_EQ(specs.front().shape, (std::vector<int64_t>{kMaxVocabSize, 2048}));
  EXPECT_EQ(specs.back().name, "lm_head.weight");
  EXPECT_GT(c.num_parameters(), 0);  // no overflow at the limits
}

TEST(ModelConfig, TokenizerMustFit) {
  ModelConfig c = parse_model_config(kTinyLlama, "config.json");
  EXPECT_NO_THROW(check_tokenizer_fits(c, 32000, "config.json"));
  EXPECT_THROW(check_tokenizer_fits(c, 32001, "config.json"), ConfigError);
}

TEST(ModelConfig, WrittenConfigReadsBackEqual) {
  std::vector<ModelConfig> configs = {
      parse_model_config(kTinyLlama, "c"),
      model_config_preset("tiny", 300),
      model_config_preset("small", 1000)};
  ModelConfig llama3 = configs[1];
  llama3.rope_scaling = {"llama3", 8.0, 1.0, 4.0, 8192};
  llama3.eos_token_ids = {2, 5};
  llama3.pad_token_id = 0;
  llama3.attention_bias = true;
  configs.push_back(llama3);
  ModelConfig qwen = configs[1];
  qwen.architecture = "Qwen2ForCausalLM";
  qwen.attention_bias = true;
  qwen.tie_word_embeddings = true;
  configs.push_back(qwen);
  // Without a window, Qwen2's config.json is written as before sliding windows were read, so the
  // content hash (a cache and resume key) of existing models does not change.
  EXPECT_EQ(model_config_to_json(qwen).find("layer_types"), std::string::npos);
  EXPECT_EQ(model_config_to_json(qwen).find("\"sliding_window\""), std::string::npos);
  ModelConfig mistral = configs[1];
  mistral.architecture = "MistralForCausalLM";
  mistral.sliding_window = 4096;
  configs.push_back(mistral);
  mistral.sliding_window.reset();  // written as null: an absent key would mean 4096
  configs.push_back(mistral);
  configs.push_back(parse_model_config(kQwen3, "q"));
  ModelConfig qwen3 = model_config_preset("tiny-qwen3", 300);
  configs.push_back(qwen3);
  qwen3.tie_word_embeddings = false;
  qwen3.attention_bias = true;
  qwen3.rope_scaling = {"linear", 2.0, 1.0, 4.0, 8192};
  configs.push_back(qwen3);
  qwen3.sliding_window = 64;  // a window, no sliding layer
  configs.push_back(qwen3);
  qwen3.layer_types = {
      "full_attention", "sliding_attention", "full_attention", "sliding_attention"};
  configs.push_back(qwen3);
  qwen.sliding_window = 8;
  qwen.layer_types = {"full_attention", "full_attention", "sliding_attention", "sliding_attention"};
  configs.push_back(qwen);
  for (const ModelConfig& c : configs) {
    EXPECT_EQ(parse_model_config(model_config_to_json(c), "round trip"), c)
        << model_config_to_json(c);
  }
  testing::TempDir dir;
  write_model_config(dir.file("config.json"), configs[3]);
  EXPECT_EQ(read_model_config(dir.file("config.json")), configs[3]);
  EXPECT_THROW(read_model_config(dir.file("missing.json")), IoError);
}

TEST(ModelConfig, Presets) {
  ModelConfig tiny = model_config_preset("tiny", 1000);
  EXPECT_EQ(tiny.vocab_size, 1000);
  EXPECT_GT(tiny.num_parameters(), 100000);
  EXPECT_LT(tiny.num_parameters(), 1000000);
  ModelConfig small = model_config_preset("small", 1000);
  EXPECT_GT(small.num_parameters(), 1000000);
  EXPECT_LT(small.num_parameters(), 10000000);
  EXPECT_EQ(model_config_preset("tiny", 0).vocab_size, 32000);
  for (const std::string& name : model_config_preset_names()) {
    EXPECT_NO_THROW(validate_model_config(model_config_preset(name, 500), name));
  }
  EXPECT_THROW(model_config_preset("huge", 100), UsageError);
}

}  // namespace
}  // namespace dpo
