// config.json reading (strict), writing (Hugging Face keys) and the presets.
#include "model/model_config.h"

#include <nlohmann/json.hpp>

#include <climits>
#include <cmath>
#include <utility>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/file_io.h"
#include "core/json_file.h"

namespace dpo {

namespace {

using json = nlohmann::json;

struct Reader {
  const json& root;
  const std::string& name;

  [[noreturn]] void fail(
      const std::string& key, const std::string& what, const std::string& hint = "") const {
    throw ConfigError("config '" + name + "': key '" + key + "' " + what, hint);
  }
  const json* find(const std::string& key) const {
    auto it = root.find(key);
    if (it == root.end() || it->is_null())
      return nullptr;
    return &*it;
  }
  const json& need(const std::string& key) const {
    const json* v = find(key);
    if (v == nullptr) {
      fail(key, "is missing", "a Hugging Face config.json of this architecture always has it");
    }
    return *v;
  }
  int64_t integer(const json& v, const std::string& key) const {
    if (!v.is_number_integer())
      fail(key, "must be an integer, got " + v.dump());
    // Above INT64_MAX, get<int64_t>() would wrap to a negative number.
    if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))
      fail(key, "= " + v.dump() + " is too large");
    return v.get<int64_t>();
  }
  int64_t positive(const std::string& key) const {
    int64_t value = integer(need(key), key);
    if (value <= 0)
      fail(key, "must be positive, got " + std::to_string(value));
    return value;
  }
  int64_t positive_or(const std::string& key, int64_t fallback) const {
    return find(key) ? positive(key) : fallback;
  }
  double number(const json& v, const std::string& key) const {
    if (!v.is_number())
      fail(key, "must be a number, got " + v.dump());
    return v.get<double>();
  }
  double positive_number_or(const std::string& key, double fallback) const {
    const json* v = find(key);
    if (v == nullptr)
      return fallback;
    double value = number(*v, key);
    if (!(value > 0) || !std::isfinite(value))
      fail(key, "must be a positive number");
    return value;
  }
  bool boolean_or(const std::string& key, bool fallback) const {
    const json* v = find(key);
    if (v == nullptr)
      return fallback;
    if (!v->is_boolean())
      fail(key, "must be true or false, got " + v->dump());
    return v->get<bool>();
  }
  std::optional<int64_t> optional_id(const std::string& key) const {
    const json* v = find(key);
    if (v == nullptr)
      return std::nullopt;
    int64_t id = integer(*v, key);
    if (id < 0)
      fail(key, "must be a token id (>= 0)");
    return id;
  }
};

// The rotary embedding: rope_theta and the scaling. transformers < 5 writes "rope_theta" and
// "rope_scaling"; transformers 5 writes both inside "rope_parameters" and reads either form: a
// non-empty rope_scaling wins over rope_parameters, and a rope_theta inside the dict over the
// top-level key (RotaryEmbeddingConfigMixin.convert_rope_params_to_dict).
void parse_rope(const Reader& r, ModelConfig& c) {
  const json* scaling = r.find("rope_scaling");
  if (scaling != nullptr && scaling->is_object() && scaling->empty())
    scaling = nullptr;  // {} is "no scaling" in Python's `rope_scaling or rope_parameters`
  const char* dict_key = scaling != nullptr ? "rope_scaling" : "rope_parameters";
  const json* v = scaling != nullptr ? scaling : r.find("rope_parameters");
  const std::string key = dict_key;
  if (v != nullptr && !v->is_object())
    r.fail(key, "must be null or an object");
  const json empty = json::object();
  const json& d = v != nullptr ? *v : empty;
  for (const char* layer_type : {"full_attention", "sliding_attention"}) {
    if (d.contains(layer_type)) {
      r.fail(
          key,
          "holds separate RoPE parameters per layer type, which dpo does not implement",
          "supported: one set of RoPE parameters for every layer");
    }
  }

  c.rope_theta = r.positive_number_or("rope_theta", 10000.0);
  if (d.contains("rope_theta") && !d["rope_theta"].is_null()) {
    c.rope_theta = r.number(d["rope_theta"], key + ".rope_theta");
    if (!(c.rope_theta > 0) || !std::isfinite(c.rope_theta))
      r.fail(key + ".rope_theta", "must be a positive number");
  }
  // A rotary embedding over part of each head only (Phi, GPT-NeoX style) is not implemented.
  for (const auto& [where, name] :
       {std::make_pair(&d, key + ".partial_rotary_factor"),
        std::make_pair(&r.root, std::string("partial_rotary_factor"))}) {
    auto it = where->find("partial_rotary_factor");
    if (it != where->end() && !it->is_null() && !(it->is_number() && it->get<double>() == 1.0)) {
      r.fail(
          name,
          "is " + it->dump() + "; dpo applies RoPE to the whole head only",
          "supported: 1.0 or absent");
    }
  }

  RopeScaling& s = c.rope_scaling;
  s = RopeScaling();
  if (v == nullptr)
    return;
  // transformers >= 4.43 writes "rope_type"; older files "type".
  std::string type;
  if (d.contains("rope_type") && d["rope_type"].is_string()) {
    type = d["rope_type"].get<std::string>();
  } else if (d.contains("type") && d["type"].is_string()) {
    type = d["type"].get<std::string>();
  } else if (scaling == nullptr) {
    type = "default";  // transformers 5 fills in rope_type "default" for rope_parameters
  } else {
    r.fail(key, "has no rope_type");
  }
  auto field = [&](const char* name) -> double {
    const std::string full = key + "." + name;
    if (!d.contains(name) || d[name].is_null())
      r.fail(full, "is missing");
    double value = r.number(d[name], full);
    if (!(value > 0) || !std::isfinite(value))
      r.fail(full, "must be positive");
    return value;
  };
  s.type = type;
  if (type == "default")
    return;
  if (type == "linear") {
    s.factor = field("factor");
  } else if (type == "llama3") {
    s.factor = field("factor");
    s.low_freq_factor = field("low_freq_factor");
    s.high_freq_factor = field("high_freq_factor");
    if (!(s.high_freq_factor > s.low_freq_factor))
      r.fail(key + ".high_freq_factor", "must be larger than low_freq_factor");
    // Absent: max_position_embeddings, as transformers 5's standardize_rope_params.
    const std::string omp = "original_max_position_embeddings";
    if (d.contains(omp) && !d[omp].is_null()) {
      s.original_max_position_embeddings = r.integer(d[omp], key + "." + omp);
      if (s.original_max_position_embeddings <= 0)
        r.fail(key + "." + omp, "must be positive");
    } else {
      s.original_max_position_embeddings = c.max_position_embeddings;
    }
  } else {
    r.fail(
        key,
        "has rope_type '" + type + "', which dpo does not implement",
        "supported: default, linear and llama3");
  }
}

// The attention pattern: which layers use sliding-window attention, and the window. transformers
// computes it per architecture (MistralConfig, Qwen2Config, Qwen3Config .__post_init__); every key
// that changes it is read here, and what dpo cannot reproduce is refused by name.
void parse_attention_pattern(const Reader& r, ModelConfig& c) {
  const int64_t layers = c.num_hidden_layers;
  std::vector<std::string> types;
  if (const json* list = r.find("layer_types")) {
    if (!list->is_array() || static_cast<int64_t>(list->size()) != layers) {
      r.fail(
          "layer_types",
          "must be a list with one entry per layer (" + std::to_string(layers) + ")");
    }
    for (size_t i = 0; i < list->size(); ++i) {
      const json& t = (*list)[i];
      if (!t.is_string() || (t.get<std::string>() != "full_attention" &&
                             t.get<std::string>() != "sliding_attention")) {
        r.fail(
            "layer_types",
            "names " + t.dump() + " for layer " + std::to_string(i) +
                ", which dpo does not implement",
            "supported: full_attention and sliding_attention");
      }
      types.push_back(t.get<std::string>());
    }
  }
  auto any_sliding = [](const std::vector<std::string>& list) {
    for (const std::string& t : list) {
      if (t == "sliding_attention")
        return true;
    }
    return false;
  };
  // sliding_window: an absent key takes the architecture's default, null means none.
  auto window = [&](std::optional<int64_t> absent) -> std::optional<int64_t> {
    if (!r.root.contains("sliding_window"))
      return absent;
    const json* w = r.find("sliding_window");
    if (w == nullptr)
      return std::nullopt;
    int64_t value = r.integer(*w, "sliding_window");
    if (value <= 0)
      r.fail("sliding_window", "must be positive or null");
    return value;
  };

  if (c.architecture == "MistralForCausalLM") {
    c.sliding_window = window(4096);  // MistralConfig's default
    // Mistral slides in every layer when sliding_window is set; transformers' Mistral ignores
    // layer_types, so a list that says otherwise is a config meant for another model.
    for (const std::string& t : types) {
      if ((t == "sliding_attention") != c.sliding_window.has_value()) {
        r.fail(
            "layer_types",
            "does not match MistralForCausalLM's attention, which slides in every layer when "
            "sliding_window is set and in none when it is null (transformers ignores "
            "layer_types for Mistral)",
            "fix layer_types or sliding_window (per-layer patterns are Ministral's, which dpo "
            "does not implement)");
      }
    }
    return;
  }
  if (c.architecture == "Qwen2ForCausalLM" || c.architecture == "Qwen3ForCausalLM") {
    const std::optional<int64_t> w = window(4096);
    if (r.boolean_or("use_sliding_window", false))
      c.sliding_window = w;  // else transformers sets it to None
    if (r.find("layer_types") == nullptr && c.sliding_window) {
      int64_t first = 28;  // Qwen2Config's max_window_layers
      if (const json* m = r.find("max_window_layers")) {
        first = r.integer(*m, "max_window_layers");
        if (first < 0)
          r.fail("max_window_layers", "must be a layer count (>= 0)");
      }
      for (int64_t i = 0; i < layers; ++i)
        types.push_back(i >= first ? "sliding_attention" : "full_attention");
    }
    if (any_sliding(types) && !c.sliding_window) {
      r.fail(
          "layer_types",
          "names sliding_attention layers, but use_sliding_window is false or sliding_window is "
          "null, so they have no window",
          "transformers refuses this config too; set use_sliding_window and sliding_window");
    }
    if (any_sliding(types))
      c.layer_types = types;
    return;
  }
  // LlamaForCausalLM has no sliding-window attention (transformers ignores these keys): a file
  // that asks for it was made for another model.
  const char* hint =
      "LlamaForCausalLM has no sliding-window attention; remove the key or use "
      "the architecture the model was trained as";
  if (r.find("sliding_window") != nullptr)
    r.fail("sliding_window", "is set", hint);
  if (r.boolean_or("use_sliding_window", false))
    r.fail("use_sliding_window", "is true", hint);
  if (any_sliding(types))
    r.fail("layer_types", "names sliding_attention layers", hint);
}

}  // namespace

bool RopeScaling::operator==(const RopeScaling& o) const {
  return type == o.type && factor == o.factor && low_freq_factor == o.low_freq_factor &&
         high_freq_factor == o.high_freq_factor &&
         original_max_position_embeddings == o.original_max_position_embeddings;
}

std::string ModelConfig::model_type() const {
  if (architecture == "MistralForCausalLM")
    return "mistral";
  if (architecture == "Qwen2ForCausalLM")
    return "qwen2";
  if (architecture == "Qwen3ForCausalLM")
    return "qwen3";
  return "llama";
}

bool ModelConfig::qkv_bias() const {
  return attention_bias || architecture == "Qwen2ForCausalLM";
}

bool ModelConfig::o_proj_bias() const {
  return attention_bias &&
         (architecture == "LlamaForCausalLM" || architecture == "Qwen3ForCausalLM");
}

bool ModelConfig::qk_norm() const {
  return architecture == "Qwen3ForCausalLM";
}

int64_t ModelConfig::attention_window(int64_t layer) const {
  if (!sliding_window)
    return 0;
  if (architecture == "MistralForCausalLM")
    return *sliding_window;
  const bool slides = layer >= 0 && layer < static_cast<int64_t>(layer_types.size()) &&
                      layer_types[static_cast<size_t>(layer)] == "sliding_attention";
  return slides ? *sliding_window : 0;
}

int64_t ModelConfig::num_parameters() const {
  const int64_t q = num_attention_heads * head_dim;
  const int64_t kv = num_key_value_heads * head_dim;
  int64_t attention = hidden_size * q + 2 * hidden_size * kv + q * hidden_size;
  if (qkv_bias())
    attention += q + 2 * kv;
  if (o_proj_bias())
    attention += hidden_size;
  if (qk_norm())
    attention += 2 * head_dim;
  const int64_t mlp = 3 * hidden_size * intermediate_size;
  const int64_t layer = attention + mlp + 2 * hidden_size;
  return vocab_size * hidden_size * (tie_word_embeddings ? 1 : 2) + num_hidden_layers * layer +
         hidden_size;
}

bool ModelConfig::operator==(const ModelConfig& o) const {
  return architecture == o.architecture && hidden_size == o.hidden_size &&
         intermediate_size == o.intermediate_size && num_hidden_layers == o.num_hidden_layers &&
         num_attention_heads == o.num_attention_heads &&
         num_key_value_heads == o.num_key_value_heads && head_dim == o.head_dim &&
         vocab_size == o.vocab_size && rms_norm_eps == o.rms_norm_eps &&
         rope_theta == o.rope_theta && rope_scaling == o.rope_scaling &&
         max_position_embeddings == o.max_position_embeddings &&
         tie_word_embeddings == o.tie_word_embeddings && attention_bias == o.attention_bias &&
         sliding_window == o.sliding_window && layer_types == o.layer_types &&
         initializer_range == o.initializer_range && bos_token_id == o.bos_token_id &&
         eos_token_ids == o.eos_token_ids && pad_token_id == o.pad_token_id &&
         torch_dtype == o.torch_dtype;
}

ModelConfig parse_model_config(const std::string& json_text, const std::string& name) {
  json root = parse_json_file_text(json_text, name);  // syntax errors: line, column, reason
  if (root.is_discarded() || !root.is_object()) {
    throw ConfigError(
        "config '" + name + "' is not a JSON object",
        "pass the config.json of a Hugging Face model folder");
  }
  Reader r{root, name};
  ModelConfig c;

  const json& archs = r.need("architectures");
  if (!archs.is_array() || archs.size() != 1 || !archs[0].is_string()) {
    r.fail("architectures", "must be a list with one name");
  }
  c.architecture = archs[0].get<std::string>();
  if (c.architecture != "LlamaForCausalLM" && c.architecture != "MistralForCausalLM" &&
      c.architecture != "Qwen2ForCausalLM" && c.architecture != "Qwen3ForCausalLM") {
    r.fail(
        "architectures",
        "names '" + c.architecture + "', which dpo does not implement",
        "supported: LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM");
  }
  const bool qwen = c.architecture == "Qwen2ForCausalLM" || c.architecture == "Qwen3ForCausalLM";
  if (const json* type = r.find("model_type")) {
    if (!type->is_string() || type->get<std::string>() != c.model_type()) {
      r.fail(
          "model_type",
          "is " + type->dump() + " but the architecture " + c.architecture + " needs '" +
              c.model_type() + "'");
    }
  }

  c.hidden_size = r.positive("hidden_size");
  c.intermediate_size = r.positive("intermediate_size");
  c.num_hidden_layers = r.positive("num_hidden_layers");
  c.num_attention_heads = r.positive("num_attention_heads");
  // Qwen2Config and Qwen3Config default to 32 key/value heads; Llama and Mistral to the heads.
  c.num_key_value_heads = r.positive_or("num_key_value_heads", qwen ? 32 : c.num_attention_heads);
  c.vocab_size = r.positive("vocab_size");
  c.rms_norm_eps = r.number(r.need("rms_norm_eps"), "rms_norm_eps");
  if (!(c.rms_norm_eps > 0))
    r.fail("rms_norm_eps", "must be positive");
  c.max_position_embeddings = r.positive_or("max_position_embeddings", 2048);
  parse_rope(r, c);
  c.tie_word_embeddings = r.boolean_or("tie_word_embeddings", false);
  c.initializer_range = r.positive_number_or("initializer_range", 0.02);
  if (c.architecture == "Qwen2ForCausalLM") {
    c.attention_bias = true;  // Qwen2 always has q/k/v bias; the file has no key for it
  } else {
    c.attention_bias = r.boolean_or("attention_bias", false);
    if (c.architecture == "MistralForCausalLM" && c.attention_bias) {
      r.fail("attention_bias", "is true, but Mistral has no attention bias");
    }
  }
  if (r.find("head_dim")) {
    c.head_dim = r.positive("head_dim");
  } else if (c.architecture == "Qwen3ForCausalLM") {
    c.head_dim = 128;  // Qwen3Config's default, whatever hidden_size / heads is
  } else {
    if (c.hidden_size % c.num_attention_heads != 0) {
      r.fail(
          "num_attention_heads",
          "(" + std::to_string(c.num_attention_heads) + ") does not divide hidden_size (" +
              std::to_string(c.hidden_size) + ")");
    }
    c.head_dim = c.hidden_size / c.num_attention_heads;
  }

  // Keys whose values dpo does not implement.
  if (const json* act = r.find("hidden_act")) {
    if (!act->is_string() || act->get<std::string>() != "silu") {
      r.fail("hidden_act", "is " + act->dump() + "; dpo implements silu (SwiGLU) only");
    }
  }
  if (r.boolean_or("mlp_bias", false))
    r.fail("mlp_bias", "is true; dpo has no MLP bias");
  if (r.find("quantization_config")) {
    r.fail(
        "quantization_config",
        "is present; dpo loads unquantized checkpoints only",
        "dequantize the model first");
  }
  parse_attention_pattern(r, c);

  c.bos_token_id = r.optional_id("bos_token_id");
  c.pad_token_id = r.optional_id("pad_token_id");
  if (const json* eos = r.find("eos_token_id")) {
    if (eos->is_array()) {
      for (const json& id : *eos) {
        int64_t value = r.integer(id, "eos_token_id");
        if (value < 0)
          r.fail("eos_token_id", "must hold token ids (>= 0)");
        c.eos_token_ids.push_back(value);
      }
    } else {
      c.eos_token_ids.push_back(*r.optional_id("eos_token_id"));
    }
  }
  // transformers >= 4.56 writes "dtype"; older versions "torch_dtype".
  const char* dtype_key = r.find("torch_dtype") ? "torch_dtype" : "dtype";
  if (const json* dtype = r.find(dtype_key)) {
    if (!dtype->is_string())
      r.fail(dtype_key, "must be a string");
    c.torch_dtype = dtype->get<std::string>();
    if (c.torch_dtype != "float32" && c.torch_dtype != "bfloat16" && c.torch_dtype != "float16") {
      r.fail(dtype_key, "is '" + c.torch_dtype + "'; expected float32, bfloat16 or float16");
    }
  }
  validate_model_config(c, name);
  return c;
}

void validate_model_config(const ModelConfig& c, const std::string& name) {
  auto fail = [&](const std::string& key, const std::string& what, const std::string& hint = "") {
    throw ConfigError("config '" + name + "': key '" + key + "' " + what, hint);
  };
  // Every size is bounded before any product of sizes is formed or allocated.
  const std::pair<const char*, std::pair<int64_t, int64_t>> sizes[] = {
      {"vocab_size", {c.vocab_size, kMaxVocabSize}},
      {"hidden_size", {c.hidden_size, kMaxHiddenSize}},
      {"intermediate_size", {c.intermediate_size, kMaxIntermediateSize}},
      {"num_hidden_layers", {c.num_hidden_layers, kMaxHiddenLayers}},
      {"num_attention_heads", {c.num_attention_heads, kMaxAttentionHeads}},
      {"num_key_value_heads", {c.num_key_value_heads, kMaxAttentionHeads}},
      {"head_dim", {c.head_dim, kMaxHeadDim}},
      {"max_position_embeddings", {c.max_position_embeddings, kMaxPositionEmbeddings}}};
  for (const auto& [key, value_and_limit] : sizes) {
    const auto [value, limit] = value_and_limit;
    if (value <= 0)
      fail(key, "must be positive, got " + std::to_string(value));
    if (value > limit) {
      fail(
          key,
          "= " + std::to_string(value) + " is above dpo's limit of " + std::to_string(limit),
          "no released model comes near it: the file is corrupted or not a model's config.json "
          "(limits: docs/model.md)");
    }
  }
  if (c.num_attention_heads % c.num_key_value_heads != 0) {
    fail(
        "num_key_value_heads",
        "(" + std::to_string(c.num_key_value_heads) + ") does not divide num_attention_heads (" +
            std::to_string(c.num_attention_heads) + ")");
  }
  if (c.head_dim % 2 != 0)
    fail("head_dim", "must be even for rotary embeddings");
  if (c.sliding_window && *c.sliding_window <= 0)
    fail("sliding_window", "must be positive");
  if (!c.layer_types.empty()) {
    if (static_cast<int64_t>(c.layer_types.size()) != c.num_hidden_layers)
      fail("layer_types", "must have one entry per layer");
    for (const std::string& t : c.layer_types) {
      if (t != "full_attention" && t != "sliding_attention")
        fail("layer_types", "names '" + t + "', which dpo does not implement");
      if (t == "sliding_attention" && !c.sliding_window)
        fail("layer_types", "names sliding_attention layers without a sliding_window");
    }
  }
  if (c.bos_token_id && *c.bos_token_id >= c.vocab_size)
    fail("bos_token_id", "is not below vocab_size");
  if (c.pad_token_id && *c.pad_token_id >= c.vocab_size)
    fail("pad_token_id", "is not below vocab_size");
  for (int64_t id : c.eos_token_ids) {
    if (id >= c.vocab_size)
      fail("eos_token_id", "is not below vocab_size");
  }
}

std::vector<TensorSpec> model_tensor_specs(const ModelConfig& c) {
  // The order and names of LlamaForCausalLMImpl's register_parameter calls (model/llama.cpp).
  std::vector<TensorSpec> specs;
  const int64_t h = c.hidden_size, q = c.num_attention_heads * c.head_dim,
                kv = c.num_key_value_heads * c.head_dim, ff = c.intermediate_size;
  specs.push_back({"model.embed_tokens.weight", {c.vocab_size, h}});
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const std::string layer = "model.layers." + std::to_string(i) + ".";
    auto linear = [&](const std::string& name, int64_t in, int64_t out, bool bias) {
      specs.push_back({layer + name + ".weight", {out, in}});
      if (bias)
        specs.push_back({layer + name + ".bias", {out}});
    };
    linear("self_attn.q_proj", h, q, c.qkv_bias());
    linear("self_attn.k_proj", h, kv, c.qkv_bias());
    linear("self_attn.v_proj", h, kv, c.qkv_bias());
    linear("self_attn.o_proj", q, h, c.o_proj_bias());
    if (c.qk_norm()) {
      specs.push_back({layer + "self_attn.q_norm.weight", {c.head_dim}});
      specs.push_back({layer + "self_attn.k_norm.weight", {c.head_dim}});
    }
    linear("mlp.gate_proj", h, ff, false);
    linear("mlp.up_proj", h, ff, false);
    linear("mlp.down_proj", ff, h, false);
    specs.push_back({layer + "input_layernorm.weight", {h}});
    specs.push_back({layer + "post_attention_layernorm.weight", {h}});
  }
  specs.push_back({"model.norm.weight", {h}});
  if (!c.tie_word_embeddings)
    specs.push_back({"lm_head.weight", {c.vocab_size, h}});
  return specs;
}

void check_tokenizer_fits(const ModelConfig& c, int64_t tokenizer_vocab, const std::string& name) {
  if (tokenizer_vocab > c.vocab_size) {
    throw ConfigError(
        "config '" + name + "': key 'vocab_size' (" + std::to_string(c.vocab_size) +
            ") is smaller than the tokenizer's vocabulary (" + std::to_string(tokenizer_vocab) +
            ")",
        "the tokenizer does not belong to this model; pass the model's own tokenizer");
  }
}

ModelConfig read_model_config(const std::string& path) {
  return parse_model_config(read_file(path, "model config"), path);
}

std::string model_config_to_json(const ModelConfig& c) {
  json j = json::object();
  j["architectures"] = {c.architecture};
  j["model_type"] = c.model_type();
  j["hidden_size"] = c.hidden_size;
  j["intermediate_size"] = c.intermediate_size;
  j["num_hidden_layers"] = c.num_hidden_layers;
  j["num_attention_heads"] = c.num_attention_heads;
  j["num_key_value_heads"] = c.num_key_value_heads;
  j["head_dim"] = c.head_dim;
  j["vocab_size"] = c.vocab_size;
  j["hidden_act"] = "silu";
  j["rms_norm_eps"] = c.rms_norm_eps;
  j["rope_theta"] = c.rope_theta;
  if (c.rope_scaling.type == "default") {
    j["rope_scaling"] = nullptr;
  } else {
    json s = {
        {"rope_type", c.rope_scaling.type},
        {"type", c.rope_scaling.type},
        {"factor", c.rope_scaling.factor}};
    if (c.rope_scaling.type == "llama3") {
      s["low_freq_factor"] = c.rope_scaling.low_freq_factor;
      s["high_freq_factor"] = c.rope_scaling.high_freq_factor;
      s["original_max_position_embeddings"] = c.rope_scaling.original_max_position_embeddings;
    }
    j["rope_scaling"] = s;
  }
  j["max_position_embeddings"] = c.max_position_embeddings;
  j["tie_word_embeddings"] = c.tie_word_embeddings;
  if (c.architecture == "LlamaForCausalLM") {
    j["attention_bias"] = c.attention_bias;
    j["mlp_bias"] = false;
  }
  if (c.architecture == "Qwen3ForCausalLM")
    j["attention_bias"] = c.attention_bias;
  if (c.architecture == "MistralForCausalLM") {
    j["sliding_window"] = c.sliding_window ? json(*c.sliding_window) : json(nullptr);
  }
  if (c.architecture == "Qwen2ForCausalLM" || c.architecture == "Qwen3ForCausalLM") {
    j["use_sliding_window"] = c.sliding_window.has_value();
    if (c.sliding_window) {
      // layer_types for transformers >= 4.53, max_window_layers (the first sliding layer) for
      // earlier versions, which slide from there on. (Without a window only use_sliding_window
      // is written, as before Qwen3, so existing models keep their content hash.)
      json types = json::array();
      int64_t first_sliding = c.num_hidden_layers;
      for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
        const bool slides = c.attention_window(i) > 0;
        if (slides && first_sliding == c.num_hidden_layers)
          first_sliding = i;
        types.push_back(slides ? "sliding_attention" : "full_attention");
      }
      j["sliding_window"] = *c.sliding_window;
      j["max_window_layers"] = first_sliding;
      j["layer_types"] = types;
    }
  }
  j["initializer_range"] = c.initializer_range;
  j["bos_token_id"] = c.bos_token_id ? json(*c.bos_token_id) : json(nullptr);
  if (c.eos_token_ids.empty()) {
    j["eos_token_id"] = nullptr;
  } else if (c.eos_token_ids.size() == 1) {
    j["eos_token_id"] = c.eos_token_ids[0];
  } else {
    j["eos_token_id"] = c.eos_token_ids;
  }
  j["pad_token_id"] = c.pad_token_id ? json(*c.pad_token_id) : json(nullptr);
  j["torch_dtype"] = c.torch_dtype;
  j["use_cache"] = true;
  return j.dump(2) + "\n";
}

void write_model_config(const std::string& path, const ModelConfig& config) {
  write_file_atomically(path, model_config_to_json(config));
}

std::vector<std::string> model_config_preset_names() {
  return {"tiny", "small", "tinyllama-1b", "tiny-qwen3"};
}

ModelConfig model_config_preset(const std::string& name, int64_t vocab_size) {
  ModelConfig c;
  c.architecture = "LlamaForCausalLM";
  c.vocab_size = vocab_size > 0 ? vocab_size : 32000;
  c.rms_norm_eps = 1e-5;
  c.rope_theta = 10000.0;
  if (name == "tiny") {  // ~220k parameters besides the embeddings
    c.hidden_size = 64;
    c.intermediate_size = 176;
    c.num_hidden_layers = 4;
    c.num_attention_heads = 4;
    c.num_key_value_heads = 2;
    c.max_position_embeddings = 1024;
  } else if (name == "small") {  // ~4.4M parameters besides the embeddings
    c.hidden_size = 256;
    c.intermediate_size = 688;
    c.num_hidden_layers = 6;
    c.num_attention_heads = 8;
    c.num_key_value_heads = 4;
    c.max_position_embeddings = 2048;
  } else if (name == "tinyllama-1b") {  // TinyLlama-1.1B's shape
    c.hidden_size = 2048;
    c.intermediate_size = 5632;
    c.num_hidden_layers = 22;
    c.num_attention_heads = 32;
    c.num_key_value_heads = 4;
    c.max_position_embeddings = 2048;
    c.torch_dtype = "bfloat16";
  } else if (name == "tiny-qwen3") {  // tiny as Qwen3: q/k norms, wider heads, tied head
    c = model_config_preset("tiny", vocab_size);
    c.architecture = "Qwen3ForCausalLM";
    c.rms_norm_eps = 1e-6;
    c.rope_theta = 1000000.0;
    c.tie_word_embeddings = true;
    c.head_dim = 32;  // != hidden / heads, as in Qwen3-0.6B (1024 / 16 = 64, head_dim 128)
    return c;
  } else {
    throw UsageError(
        "unknown model preset '" + name + "'", "presets: tiny, small, tinyllama-1b, tiny-qwen3");
  }
  c.head_dim = c.hidden_size / c.num_attention_heads;
  return c;
}

}  // namespace dpo
