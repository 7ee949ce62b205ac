// PEFT adapter folders: adapter_config.json (peft's LoraConfig fields) and
// adapter_model.safetensors, written atomically and read back strictly.
#include "model/peft_adapter.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/file_io.h"
#include "core/json_file.h"
#include "core/log.h"
#include "model/llama.h"
#include "model/lora.h"
#include "model/safetensors.h"

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace dpo {
namespace {

const char* kConfigName = "adapter_config.json";
const char* kWeightsName = "adapter_model.safetensors";

// The PEFT version whose adapter_config.json fields are written (tools/oracle/requirements.txt).
const char* kPeftVersion = "0.21.2";

std::string short_name(const std::string& path) {
  const size_t dot = path.rfind('.');
  return dot == std::string::npos ? path : path.substr(dot + 1);
}

// adapter_config.json as peft 0.21 writes it for a plain LoRA of a causal LM (every field, in
// its order), so that a diff against peft's file shows only values.
json adapter_config_json(
    LlamaForCausalLMImpl& model, const LoraConfig& config, const PeftSaveOptions& options) {
  // target_modules: the adapted layers' names (q_proj, ...) when every layer of that name is
  // adapted, else their module paths (an adapter on some layers only), first seen first.
  const std::vector<std::string> adapted = lora_adapted_paths(model);
  const std::set<std::string> adapted_set(adapted.begin(), adapted.end());
  std::set<std::string> partial;  // names some layer of which has no adapter
  for (const std::string& path : lora_target_paths(model, {"all-linear"})) {
    if (!adapted_set.count(path))
      partial.insert(short_name(path));
  }
  std::vector<std::string> targets;
  for (const std::string& path : adapted) {
    const std::string name = partial.count(short_name(path)) ? path : short_name(path);
    if (std::find(targets.begin(), targets.end(), name) == targets.end())
      targets.push_back(name);
  }
  const std::vector<std::string> saved = lora_saved_modules(model);
  json j = json::object();
  j["alora_invocation_tokens"] = nullptr;
  j["alpha_pattern"] = json::object();
  j["arrow_config"] = nullptr;
  j["auto_mapping"] = nullptr;
  j["base_model_name_or_path"] = options.base_model_name_or_path.empty()
                                     ? json(nullptr)
                                     : json(options.base_model_name_or_path);
  j["bias"] = "none";
  j["corda_config"] = nullptr;
  j["ensure_weight_tying"] = false;
  j["eva_config"] = nullptr;
  j["exclude_modules"] = nullptr;
  j["fan_in_fan_out"] = false;
  j["inference_mode"] = true;
  j["init_lora_weights"] = config.init == LoraInit::gaussian ? json("gaussian") : json(true);
  j["kasa_config"] = nullptr;
  j["layer_replication"] = nullptr;
  j["layers_pattern"] = nullptr;
  j["layers_to_transform"] = nullptr;
  j["loftq_config"] = json::object();
  // peft writes lora_alpha as the number given (an int when integral).
  if (config.alpha == static_cast<double>(static_cast<int64_t>(config.alpha)))
    j["lora_alpha"] = static_cast<int64_t>(config.alpha);
  else
    j["lora_alpha"] = config.alpha;
  j["lora_bias"] = false;
  j["lora_dropout"] = config.dropout;
  j["lora_ga_config"] = nullptr;
  j["megatron_config"] = nullptr;
  j["megatron_core"] = "megatron.core";
  j["modules_to_save"] = saved.empty() ? json(nullptr) : json(saved);
  j["monteclora_config"] = nullptr;
  j["peft_type"] = "LORA";
  j["peft_version"] = kPeftVersion;
  j["qalora_group_size"] = 16;
  j["r"] = config.rank;
  j["rank_pattern"] = json::object();
  j["revision"] = nullptr;
  j["target_modules"] = targets;
  j["target_parameters"] = nullptr;
  j["task_type"] = "CAUSAL_LM";
  j["trainable_token_indices"] = nullptr;
  j["use_bdlora"] = nullptr;
  j["use_dora"] = false;
  j["use_qalora"] = false;
  j["use_rslora"] = config.use_rslora;
  j["velora_config"] = nullptr;
  return j;
}

[[noreturn]] void refuse(
    const std::string& file,
    const std::string& key,
    const std::string& what,
    const std::string& hint) {
  throw ConfigError("'" + file + "': key '" + key + "' " + what, hint);
}

bool is_empty_or_null(const json& value) {
  return value.is_null() || (value.is_object() && value.empty()) ||
         (value.is_array() && value.empty()) || (value.is_boolean() && !value.get<bool>());
}

}  // namespace

PeftAdapterConfig read_peft_adapter_config(const std::string& folder) {
  const std::string file = folder + "/" + kConfigName;
  const json root = parse_json_file_text(read_file(file, "adapter config"), file);
  if (!root.is_object())
    throw ConfigError("'" + file + "' is not a JSON object", "pass a PEFT adapter folder");
  const char* plain_lora = "dpo reads plain LoRA adapters only (docs/lora.md)";
  auto get = [&](const char* key) -> const json& {
    static const json kNull = nullptr;
    auto it = root.find(key);
    return it == root.end() ? kNull : *it;
  };
  const json& type = get("peft_type");
  if (!type.is_string())
    refuse(file, "peft_type", "is missing", "a PEFT adapter_config.json names its peft_type");
  if (type.get<std::string>() != "LORA") {
    refuse(
        file,
        "peft_type",
        "is '" + type.get<std::string>() + "': only LORA adapters are supported",
        plain_lora);
  }
  if (get("use_dora").is_boolean() && get("use_dora").get<bool>())
    refuse(file, "use_dora", "is true: DoRA adapters are not supported", plain_lora);
  for (const char* key :
       {"rank_pattern",
        "alpha_pattern",
        "layers_to_transform",
        "exclude_modules",
        "layer_replication",
        "trainable_token_indices",
        "target_parameters",
        "lora_bias",
        "use_qalora",
        "alora_invocation_tokens",
        "use_bdlora"}) {
    if (!is_empty_or_null(get(key)))
      refuse(file, key, "is set, which dpo does not support", plain_lora);
  }
  if (get("bias").is_string() && get("bias").get<std::string>() != "none")
    refuse(file, "bias", "is not \"none\": trained biases are not supported", plain_lora);
  if (get("fan_in_fan_out").is_boolean() && get("fan_in_fan_out").get<bool>())
    refuse(
        file, "fan_in_fan_out", "is true (Conv1D layers): not a Llama-family adapter", plain_lora);
  const json& task = get("task_type");
  if (!task.is_null() && task != "CAUSAL_LM")
    refuse(file, "task_type", "is " + task.dump() + ", not CAUSAL_LM", plain_lora);

  PeftAdapterConfig out;
  LoraConfig& lora = out.lora;
  lora.enabled = true;
  if (!get("r").is_number_integer())
    refuse(file, "r", "is missing or not an integer", "the adapter's rank");
  lora.rank = get("r").get<int64_t>();
  if (!get("lora_alpha").is_number())
    refuse(file, "lora_alpha", "is missing or not a number", "the adapter's alpha");
  lora.alpha = get("lora_alpha").get<double>();
  lora.dropout = get("lora_dropout").is_number() ? get("lora_dropout").get<double>() : 0.0;
  lora.use_rslora = get("use_rslora").is_boolean() && get("use_rslora").get<bool>();
  const json& init = get("init_lora_weights");
  if (init.is_string() && init.get<std::string>() == "gaussian") {
    lora.init = LoraInit::gaussian;
  } else if (!init.is_null() && !init.is_boolean()) {
    refuse(
        file,
        "init_lora_weights",
        "is " + init.dump() + ": initialisations that change the base weights are not supported",
        plain_lora);
  }
  const json& targets = get("target_modules");
  if (targets.is_string()) {
    out.target_modules = {targets.get<std::string>()};
    out.regex = targets.get<std::string>() != "all-linear";
  } else if (targets.is_array() && !targets.empty()) {
    for (const json& t : targets) {
      if (!t.is_string())
        refuse(file, "target_modules", "holds a non-string entry", "names of linear layers");
      out.target_modules.push_back(t.get<std::string>());
    }
  } else {
    refuse(file, "target_modules", "is missing or empty", "names of linear layers");
  }
  lora.target_modules = out.target_modules;
  const json& saved = get("modules_to_save");
  if (saved.is_array()) {
    for (const json& m : saved) {
      const std::string name = m.is_string() ? m.get<std::string>() : "";
      if (name == "embed_tokens" || name == "model.embed_tokens")
        lora.train_embeddings = true;
      else if (name == "lm_head")
        lora.train_lm_head = true;
      else
        refuse(
            file,
            "modules_to_save",
            "holds " + m.dump() +
                ": only embed_tokens and lm_head "
                "are supported",
            plain_lora);
    }
  } else if (!saved.is_null()) {
    refuse(file, "modules_to_save", "is not a list", plain_lora);
  }
  if (get("base_model_name_or_path").is_string())
    out.base_model_name_or_path = get("base_model_name_or_path").get<std::string>();
  try {
    validate_lora_config(lora, "adapter", /*check_names=*/false);
  } catch (const ConfigError& e) {
    throw ConfigError("'" + file + "': " + e.what());
  }
  return out;
}

void save_peft_adapter(
    LlamaForCausalLMImpl& model,
    const LoraConfig& config,
    const std::string& folder,
    const PeftSaveOptions& options) {
  if (!has_lora(model))
    throw ConfigError("cannot save a PEFT adapter: the model has no LoRA adapters");
  write_folder_atomically(folder, options.overwrite, "the adapter", [&](const std::string& temp) {
    write_file_atomically(
        temp + "/" + kConfigName, adapter_config_json(model, config, options).dump(2) + "\n");
    NamedTensors tensors;
    for (const auto& [name, tensor] : lora_parameters(model))
      tensors.emplace_back(name, tensor.detach().to(at::kCPU).to(at::kFloat).contiguous());
    std::map<std::string, std::string> metadata{{"format", "pt"}};
    if (!options.base_model_hash.empty())
      metadata[kPeftBaseHashKey] = options.base_model_hash;
    write_safetensors(temp + "/" + kWeightsName, tensors, metadata);
  });
}

PeftAdapterConfig load_peft_adapter(
    LlamaForCausalLMImpl& model, const std::string& folder, const std::string& base_hash) {
  PeftAdapterConfig adapter = read_peft_adapter_config(folder);
  const std::string weights = folder + "/" + kWeightsName;
  SafeTensorsFile file(weights);
  auto recorded = file.header().metadata.find(kPeftBaseHashKey);
  if (!base_hash.empty() && recorded != file.header().metadata.end() &&
      recorded->second != base_hash) {
    throw CheckpointError(
        "adapter '" + folder + "' was trained on another base model: its base hash is " +
            recorded->second.substr(0, 16) + "..., this base model's is " +
            base_hash.substr(0, 16) + "...",
        "load it on the model it was trained on (adapter_config.json: base_model_name_or_path '" +
            adapter.base_model_name_or_path + "')");
  }
  // The layers the adapter targets, as peft selects them.
  LoraConfig lora = adapter.lora;
  if (adapter.regex) {
    const std::regex pattern(adapter.target_modules[0]);
    std::vector<std::string> paths;
    for (const std::string& path : lora_target_paths(model, {"all-linear"})) {
      if (std::regex_match(path, pattern))
        paths.push_back(path);
    }
    if (paths.empty()) {
      throw ConfigError(
          "'" + folder + "/" + kConfigName + "': target_modules '" + adapter.target_modules[0] +
              "' matches no linear layer of the model",
          "the adapter was made for another architecture");
    }
    lora.target_modules = paths;
  }
  try {
    attach_lora(model, lora, /*seed=*/0);  // the tensors are overwritten below
  } catch (const ConfigError& e) {
    throw ConfigError("adapter '" + folder + "': " + e.what());
  }
  LoraTensors tensors;
  for (const std::string& name : file.names())
    tensors.emplace_back(name, file.tensor(name));
  load_lora_tensors(model, tensors, weights);
  DPO_LOG_INFO(
      "model",
      "adapter %s: rank %lld, alpha %g, %zu layers",
      folder.c_str(),
      static_cast<long long>(lora.rank),
      lora.alpha,
      lora_adapted_paths(model).size());
  return adapter;
}

}  // namespace dpo
