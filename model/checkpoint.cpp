// Loading and saving Hugging Face model folders, random initialisation, content hashing.
#include "model/checkpoint.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <set>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/hash.h"
#include "core/log.h"
#include "model/safetensors.h"

namespace dpo {

namespace fs = std::filesystem;

namespace {

std::atomic<unsigned> g_save_counter{0};

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

std::string strip_trailing_slashes(std::string path) {
  while (path.size() > 1 && path.back() == '/')
    path.pop_back();
  return path;
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

void load_weights(LlamaForCausalLMImpl& model, const std::string& folder) {
  SafeTensorsCheckpoint checkpoint(folder);
  auto params = model.named_parameters(/*recurse=*/true);
  std::vector<std::string> missing, unexpected, wrong;
  std::vector<std::string> tied_extra;
  for (const std::string& name : checkpoint.names()) {
    const at::Tensor* param = params.find(name);
    if (param == nullptr) {
      if (ends_with(name, "rotary_emb.inv_freq"))
        continue;  // a buffer old transformers saved
      if (name == "lm_head.weight" && model.config().tie_word_embeddings) {
        tied_extra.push_back(name);
        continue;
      }
      unexpected.push_back(name);
      continue;
    }
    const SafeTensorInfo& info = checkpoint.info(name);
    if (info.shape != param->sizes().vec()) {
      wrong.push_back(
          name + " " + shape_text(info.shape) + " (config needs " + shape_text(param->sizes()) +
          ")");
    } else if (info.dtype == SafeDType::I64 || info.dtype == SafeDType::I32) {
      wrong.push_back(name + " of integer type " + safe_dtype_name(info.dtype));
    }
  }
  for (const auto& item : params) {
    if (!checkpoint.contains(item.key()))
      missing.push_back(item.key());
  }
  const std::string hint =
      "the checkpoint and its config.json do not belong together (or the architecture is not "
      "the one config.json names); re-export the model";
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
  at::NoGradGuard no_grad;
  for (auto& item : params)
    item.value().copy_(checkpoint.tensor(item.key()));
  for (const std::string& name : tied_extra) {
    // transformers ignores lm_head.weight when the embeddings are tied; dpo does too, but only
    // when it is the same matrix (otherwise the config's tie_word_embeddings is wrong).
    at::Tensor head = checkpoint.tensor(name).to(at::kFloat);
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

LoadedModel load_pretrained(const std::string& folder, at::ScalarType dtype, at::Device device) {
  LoadedModel out;
  out.config = read_model_config(folder + "/config.json");
  out.model = LlamaForCausalLM(out.config, at::TensorOptions().dtype(dtype).device(device));
  load_weights(*out.model, folder);
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
    LlamaForCausalLMImpl& model, const std::string& folder_arg, const SaveOptions& options) {
  const std::string folder = strip_trailing_slashes(folder_arg);
  std::error_code ec;
  const bool exists = fs::exists(folder, ec);
  if (exists && !fs::is_directory(folder, ec)) {
    throw CheckpointError("cannot save the model to '" + folder + "': it is a file");
  }
  const bool non_empty = exists && !fs::is_empty(folder, ec);
  if (non_empty && !options.overwrite) {
    throw CheckpointError(
        "cannot save the model to '" + folder + "': the folder exists and is not empty",
        "choose a new folder or remove the old one");
  }

  const std::string suffix = std::to_string(::getpid()) + "." + std::to_string(g_save_counter++);
  const std::string temp = folder + ".tmp." + suffix;
  struct RemoveOnFailure {
    std::string path;
    bool armed = true;
    ~RemoveOnFailure() {
      std::error_code ignored;
      if (armed)
        fs::remove_all(path, ignored);
    }
  } cleanup{temp};
  if (!fs::create_directories(temp, ec) || ec) {
    throw IoError("cannot create the folder '" + temp + "': " + ec.message());
  }

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
  fsync_path(temp);

  std::string old;
  if (exists) {
    if (non_empty) {
      old = folder + ".old." + suffix;
      fs::rename(folder, old, ec);
    } else {
      fs::remove(folder, ec);
    }
    if (ec)
      throw IoError("cannot move '" + folder + "' out of the way: " + ec.message());
  }
  fs::rename(temp, folder, ec);
  if (ec)
    throw IoError("cannot rename '" + temp + "' to '" + folder + "': " + ec.message());
  cleanup.armed = false;
  fsync_path(parent_directory(folder));
  if (!old.empty())
    fs::remove_all(old, ec);
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
