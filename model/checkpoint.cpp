// Loading and saving Hugging Face model folders, random initialisation, content hashing.
#include "model/checkpoint.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <sys/sysinfo.h>

#include <cctype>
#include <cstdio>
#include <filesystem>
#include <map>
#include <new>
#include <set>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/hash.h"
#include "core/log.h"
#include "model/safetensors.h"

namespace dpo {

namespace fs = std::filesystem;

namespace {

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string join_names(const std::vector<std::string>& names) {
  std::string out;
  const size_t shown = std::min<size_t>(names.size(), 8);
  for (size_t i = 0; i < shown; ++i)
    out += (i ? ", " : "") + names[i];
  if (names.size() > shown)
    out += " and " + std::to_string(names.size() - shown) + " more";
  return out;
}

std::string shape_text(at::IntArrayRef shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

}  // namespace

at::ScalarType parse_model_dtype(const std::string& name) {
  if (name == "float32" || name == "fp32")
    return at::kFloat;
  if (name == "bfloat16" || name == "bf16")
    return at::kBFloat16;
  if (name == "float16" || name == "fp16")
    return at::kHalf;
  throw UsageError("unknown dtype '" + name + "'", "use fp32, bf16 or fp16");
}

std::string model_dtype_name(at::ScalarType type) {
  switch (type) {
    case at::kFloat:
      return "float32";
    case at::kBFloat16:
      return "bfloat16";
    case at::kHalf:
      return "float16";
    default:
      throw UsageError(std::string("a model cannot hold ") + c10::toString(type) + " weights");
  }
}

namespace {

// "model.layers.12.mlp..." -> 12; -1 for other names (and absurd indices).
int64_t layer_index(const std::string& name) {
  static const std::string kPrefix = "model.layers.";
  if (name.compare(0, kPrefix.size(), kPrefix) != 0)
    return -1;
  size_t end = kPrefix.size();
  while (end < name.size() && std::isdigit(static_cast<unsigned char>(name[end])))
    ++end;
  if (end == kPrefix.size() || end - kPrefix.size() > 9 || end >= name.size() || name[end] != '.')
    return -1;
  return std::stoll(name.substr(kPrefix.size(), end - kPrefix.size()));
}

// Copies the checked tensors into the model's parameters.
void copy_weights(
    LlamaForCausalLMImpl& model,
    const SafeTensorsCheckpoint& checkpoint,
    const std::string& folder) {
  auto params = model.named_parameters(/*recurse=*/true);
  at::NoGradGuard no_grad;
  for (auto& item : params)
    item.value().copy_(checkpoint.tensor(item.key()));
  if (model.config().tie_word_embeddings && checkpoint.contains("lm_head.weight")) {
    // transformers ignores lm_head.weight when the embeddings are tied; dpo does too, but only
    // when it is the same matrix (otherwise the config's tie_word_embeddings is wrong).
    at::Tensor head = checkpoint.tensor("lm_head.weight").to(at::kFloat);
    at::Tensor embed = model.model->embed_tokens->weight.detach().to(at::kCPU, at::kFloat);
    if (head.sizes() != embed.sizes() || !at::equal(head, embed)) {
      throw CheckpointError(
          "'" + folder +
              "' has an lm_head.weight different from the embeddings, but config.json "
              "says tie_word_embeddings: true",
          "set tie_word_embeddings to false in config.json if the head is separate");
    }
  }
}

std::string gib_text(double bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f GiB", bytes / (1024.0 * 1024.0 * 1024.0));
  return text;
}

}  // namespace

void check_checkpoint_matches(
    const ModelConfig& config,
    const std::string& config_name,
    const SafeTensorsCheckpoint& checkpoint,
    const std::string& folder) {
  const std::string hint =
      "the checkpoint and its config.json do not belong together (or the architecture is not "
      "the one config.json names); re-export the model";
  const std::string held_in = checkpoint.sharded()
                                  ? "the shards of '" + folder + "/model.safetensors.index.json'"
                                  : "'" + folder + "/model.safetensors'";
  auto key_mismatch = [&](const std::string& key, int64_t value, const std::string& held) {
    throw CheckpointError(
        "config '" + config_name + "': key '" + key + "' = " + std::to_string(value) + ", but " +
            held_in + " " + held,
        hint);
  };
  auto held_shape = [&](const std::string& name, size_t dims) -> const std::vector<int64_t>* {
    if (!checkpoint.contains(name) || checkpoint.info(name).shape.size() != dims)
      return nullptr;
    return &checkpoint.info(name).shape;
  };

  // 1. Mismatches one config key explains, named by that key.
  std::set<int64_t> layers;
  for (const std::string& name : checkpoint.names()) {
    int64_t index = layer_index(name);
    if (index >= 0)
      layers.insert(index);
  }
  const int64_t held_layers = static_cast<int64_t>(layers.size());
  if (held_layers != config.num_hidden_layers &&
      (layers.empty() || *layers.rbegin() == held_layers - 1)) {
    key_mismatch(
        "num_hidden_layers",
        config.num_hidden_layers,
        layers.empty() ? "holds no decoder layer (model.layers.N.*)"
                       : "holds " + std::to_string(held_layers) + " layers (model.layers.0 to " +
                             "model.layers." + std::to_string(held_layers - 1) + ")");
  }
  const std::string embed = "model.embed_tokens.weight";
  if (const auto* shape = held_shape(embed, 2)) {
    const std::string held = "holds " + embed + " " + shape_text(*shape);
    if ((*shape)[0] != config.vocab_size)
      key_mismatch("vocab_size", config.vocab_size, held);
    if ((*shape)[1] != config.hidden_size)
      key_mismatch("hidden_size", config.hidden_size, held);
  }
  const std::string gate = "model.layers.0.mlp.gate_proj.weight";
  if (const auto* shape = held_shape(gate, 2)) {
    if ((*shape)[0] != config.intermediate_size) {
      key_mismatch(
          "intermediate_size",
          config.intermediate_size,
          "holds " + gate + " " + shape_text(*shape));
    }
  }
  const std::string q_proj = "model.layers.0.self_attn.q_proj.weight";
  if (const auto* shape = held_shape(q_proj, 2)) {
    if ((*shape)[0] != config.num_attention_heads * config.head_dim) {
      key_mismatch(
          "num_attention_heads",
          config.num_attention_heads,
          "holds " + q_proj + " " + shape_text(*shape) + " (the config needs " +
              std::to_string(config.num_attention_heads * config.head_dim) +
              " rows: heads x head_dim " + std::to_string(config.head_dim) + ")");
    }
  }
  const std::string k_proj = "model.layers.0.self_attn.k_proj.weight";
  if (const auto* shape = held_shape(k_proj, 2)) {
    if ((*shape)[0] != config.num_key_value_heads * config.head_dim) {
      key_mismatch(
          "num_key_value_heads",
          config.num_key_value_heads,
          "holds " + k_proj + " " + shape_text(*shape) + " (the config needs " +
              std::to_string(config.num_key_value_heads * config.head_dim) +
              " rows: key/value heads x head_dim " + std::to_string(config.head_dim) + ")");
    }
  }
  if (!config.tie_word_embeddings && !checkpoint.contains("lm_head.weight") &&
      checkpoint.contains(embed)) {
    throw CheckpointError(
        "config '" + config_name + "': key 'tie_word_embeddings' is false, but " + held_in +
            " holds no lm_head.weight",
        "set tie_word_embeddings to true in config.json if the head shares the embeddings");
  }

  // 2. Everything else, listed by tensor.
  std::map<std::string, std::vector<int64_t>> expected;
  for (TensorSpec& spec : model_tensor_specs(config))
    expected.emplace(std::move(spec.name), std::move(spec.shape));
  std::vector<std::string> missing, unexpected, wrong;
  for (const std::string& name : checkpoint.names()) {
    auto it = expected.find(name);
    if (it == expected.end()) {
      if (ends_with(name, "rotary_emb.inv_freq"))
        continue;  // a buffer old transformers saved
      if (name == "lm_head.weight" && config.tie_word_embeddings) {
        const SafeTensorInfo& info = checkpoint.info(name);
        if (info.shape == std::vector<int64_t>{config.vocab_size, config.hidden_size})
          continue;  // compared with the embeddings once loaded
        wrong.push_back(
            name + " " + shape_text(info.shape) + " (config needs " +
            shape_text(std::vector<int64_t>{config.vocab_size, config.hidden_size}) + ")");
        continue;
      }
      unexpected.push_back(name);
      continue;
    }
    const SafeTensorInfo& info = checkpoint.info(name);
    if (info.shape != it->second) {
      wrong.push_back(
          name + " " + shape_text(info.shape) + " (config needs " + shape_text(it->second) + ")");
    } else if (info.dtype == SafeDType::I64 || info.dtype == SafeDType::I32) {
      wrong.push_back(name + " of integer type " + safe_dtype_name(info.dtype));
    }
  }
  for (const auto& item : expected) {
    if (!checkpoint.contains(item.first))
      missing.push_back(item.first);
  }
  if (!missing.empty()) {
    throw CheckpointError(
        "'" + folder + "' lacks tensors the config needs: " + join_names(missing), hint);
  }
  if (!unexpected.empty()) {
    throw CheckpointError(
        "'" + folder + "' has tensors the config does not know: " + join_names(unexpected), hint);
  }
  if (!wrong.empty()) {
    throw CheckpointError(
        "'" + folder + "' has tensors of the wrong shape or type: " + join_names(wrong), hint);
  }
}

void load_weights(LlamaForCausalLMImpl& model, const std::string& folder) {
  SafeTensorsCheckpoint checkpoint(folder);
  check_checkpoint_matches(model.config(), folder + "/config.json", checkpoint, folder);
  copy_weights(model, checkpoint, folder);
}

LlamaForCausalLM allocate_model(
    const ModelConfig& config, const at::TensorOptions& options, const std::string& name) {
  validate_model_config(config, name);
  const int64_t parameters = config.num_parameters();  // < 2^51 within the size limits
  const double bytes = static_cast<double>(parameters) *
                       static_cast<double>(c10::elementSize(options.dtype().toScalarType()));
  const std::string what = "the model of '" + name + "' (" + std::to_string(parameters) +
                           " parameters, " + gib_text(bytes) + " as " +
                           model_dtype_name(options.dtype().toScalarType()) + ")";
  const char* hint =
      "use a smaller model (or a smaller --dtype where the command has one) or a machine with more "
      "memory";
  struct sysinfo info {};
  if (options.device().is_cpu() && ::sysinfo(&info) == 0) {
    // Larger than RAM + swap: every page could never be touched; refused before the allocator
    // (which may overcommit) hands out memory the kernel then kills the process for.
    const double memory = (static_cast<double>(info.totalram) + info.totalswap) * info.mem_unit;
    if (bytes > memory) {
      throw ConfigError(
          what + " does not fit in this machine's memory (" + gib_text(memory) +
              " of RAM and swap)",
          hint);
    }
  }
  try {
    return LlamaForCausalLM(config, options);
  } catch (const c10::Error& e) {
    throw ConfigError(
        "cannot allocate " + what + " on " + options.device().str() + ": " +
            e.what_without_backtrace(),
        hint);
  } catch (const std::bad_alloc&) {
    throw ConfigError(
        "cannot allocate " + what + " on " + options.device().str() + ": out of memory", hint);
  }
}

LoadedModel load_pretrained(const std::string& folder, at::ScalarType dtype, at::Device device) {
  LoadedModel out;
  const std::string config_path = folder + "/config.json";
  out.config = read_model_config(config_path);
  // Headers only (the files are mapped, not read): the shapes are checked before allocating.
  SafeTensorsCheckpoint checkpoint(folder);
  check_checkpoint_matches(out.config, config_path, checkpoint, folder);
  out.model = allocate_model(out.config, at::TensorOptions().dtype(dtype).device(device), folder);
  copy_weights(*out.model, checkpoint, folder);
  DPO_LOG_INFO(
      "model",
      "loaded %s (%s, %lld parameters) as %s on %s",
      folder.c_str(),
      out.config.architecture.c_str(),
      static_cast<long long>(out.config.num_parameters()),
      model_dtype_name(dtype).c_str(),
      device.str().c_str());
  return out;
}

const std::vector<std::string>& tokenizer_file_names() {
  static const std::vector<std::string> kNames = {
      "tokenizer.model",
      "tokenizer_config.json",
      "special_tokens_map.json",
      "generation_config.json",
      "tokenizer.json",
      "added_tokens.json"};
  return kNames;
}

std::vector<std::pair<std::string, at::Tensor>> model_state(LlamaForCausalLMImpl& model) {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (const auto& item : model.named_parameters(/*recurse=*/true)) {
    out.emplace_back(item.key(), item.value().detach());
  }
  return out;
}

void save_pretrained(
    LlamaForCausalLMImpl& model, const std::string& folder, const SaveOptions& options) {
  write_folder_atomically(folder, options.overwrite, "the model", [&](const std::string& temp) {
    std::error_code ec;
    ModelConfig config = model.config();
    config.torch_dtype = model_dtype_name(model.options().dtype().toScalarType());
    write_model_config(temp + "/config.json", config);
    write_safetensors_checkpoint(temp, model_state(model), options.max_shard_bytes);
    if (!options.tokenizer_source.empty()) {
      for (const std::string& name : tokenizer_file_names()) {
        const std::string source = options.tokenizer_source + "/" + name;
        if (!fs::exists(source, ec))
          continue;
        if (!fs::copy_file(source, temp + "/" + name, ec) || ec) {
          throw IoError("cannot copy '" + source + "' into '" + temp + "': " + ec.message());
        }
        fsync_path(temp + "/" + name);
      }
    }
    for (const auto& [name, source] : options.copy_files) {
      if (!fs::copy_file(source, temp + "/" + name, ec) || ec) {
        throw IoError("cannot copy '" + source + "' into '" + temp + "': " + ec.message());
      }
      fsync_path(temp + "/" + name);
    }
    for (const auto& [name, contents] : options.write_files)
      write_file_atomically(temp + "/" + name, contents);
  });
}

void init_random_weights(LlamaForCausalLMImpl& model, uint64_t seed) {
  const ModelConfig& config = model.config();
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  std::set<const at::TensorImpl*> norm_weights;
  for (const auto& item : model.named_modules()) {
    if (auto* norm = item.value()->as<RMSNormImpl>())
      norm_weights.insert(norm->weight.unsafeGetTensorImpl());
  }
  at::NoGradGuard no_grad;
  for (auto& item : model.named_parameters(/*recurse=*/true)) {
    at::Tensor& param = item.value();
    if (norm_weights.count(param.unsafeGetTensorImpl())) {
      param.fill_(1.0);
    } else if (ends_with(item.key(), ".bias")) {
      param.zero_();
    } else {
      at::Tensor values = at::empty(param.sizes(), at::kFloat);
      values.normal_(0.0, config.initializer_range, generator);
      param.copy_(values);
    }
  }
  if (config.pad_token_id)
    model.model->embed_tokens->weight[*config.pad_token_id].zero_();
}

std::string model_content_hash(LlamaForCausalLMImpl& model) {
  Hash128Stream hash;
  ModelConfig config = model.config();
  config.torch_dtype = model_dtype_name(model.options().dtype().toScalarType());
  hash.update_field(model_config_to_json(config));
  for (const auto& [name, tensor] : model_state(model)) {
    at::Tensor cpu = tensor.to(at::kCPU).contiguous();
    hash.update_field(name);
    hash.update_field(c10::toString(cpu.scalar_type()));
    hash.update_field(shape_text(cpu.sizes()));
    hash.update_field(std::string_view(static_cast<const char*>(cpu.data_ptr()), cpu.nbytes()));
  }
  return hash.digest().hex();
}

}  // namespace dpo
