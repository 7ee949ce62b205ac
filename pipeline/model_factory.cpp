#include "pipeline/model_factory.h"

#include <ATen/ATen.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/file_io.h"
#include "core/json_file.h"
#include "core/log.h"
#include "model/checkpoint.h"
#include "model/llama.h"
#include "templates/chat_template.h"
#include "tokenizer/sentencepiece_model.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_folder.h"

namespace dpo {

namespace {

// What init-model needs of the tokenizer it ships: its size and role ids.
struct ShippedTokenizer {
  int32_t vocab_size = 0;
  int32_t bos_id = -1;
  int32_t eos_id = -1;
};

// A Hugging Face tokenizer folder (tokenizer.json or tokenizer.model with tokenizer_config.json):
// its files are shipped as they are, the chat template replaced when one is given.
void stage_tokenizer_folder(
    const InitModelOptions& options, const std::string& chat_template, const std::string& staging) {
  if (!options.added_special_tokens.empty() || !options.eos_token.empty()) {
    throw UsageError(
        "--special-token and --eos-token apply to a bare tokenizer.model; '" +
            options.tokenizer_path + "' is a tokenizer folder, whose files list its own tokens",
        "edit the folder's tokenizer_config.json instead");
  }
  std::error_code error;
  for (const std::string& name : tokenizer_file_names()) {
    const std::string source = options.tokenizer_path + "/" + name;
    if (!std::filesystem::exists(source, error))
      continue;
    if (name == "tokenizer_config.json" && !chat_template.empty()) {
      nlohmann::ordered_json config = parse_ordered_json(
          read_file(source, "tokenizer config"), JsonSource("'" + source + "' is not valid JSON"));
      if (!config.is_object())
        throw ConfigError("'" + source + "' is not a JSON object");
      config["chat_template"] = chat_template;
      write_file_atomically(staging + "/" + name, config.dump(2) + "\n");
      continue;
    }
    if (!std::filesystem::copy_file(source, staging + "/" + name, error) || error)
      throw IoError("cannot copy '" + source + "' into '" + staging + "': " + error.message());
  }
  if (!chat_template.empty() &&
      !std::filesystem::exists(options.tokenizer_path + "/tokenizer_config.json", error)) {
    nlohmann::ordered_json config = {{"chat_template", chat_template}};
    write_file_atomically(staging + "/tokenizer_config.json", config.dump(2) + "\n");
  }
}

}  // namespace

InitModelResult init_model_folder(const InitModelOptions& options) {
  if (options.preset.empty() == options.config_path.empty()) {
    throw UsageError("give exactly one of --preset and --config");
  }
  if (options.out_dir.empty())
    throw UsageError("--out is required");
  // --tokenizer: a tokenizer.model file, or a Hugging Face tokenizer folder (tokenizer.json).
  const bool tokenizer_folder = is_directory(options.tokenizer_path);
  ShippedTokenizer tokenizer;
  if (tokenizer_folder) {
    Tokenizer loaded = Tokenizer::from_model_folder(options.tokenizer_path);
    tokenizer = {loaded.vocab_size(), loaded.bos_id(), loaded.eos_id()};
  } else {
    SentencePieceModel loaded(options.tokenizer_path);
    tokenizer = {loaded.vocab_size(), loaded.bos_id(), loaded.eos_id()};
  }

  InitModelResult result;
  result.config = options.preset.empty()
                      ? read_model_config(options.config_path)
                      : model_config_preset(options.preset, tokenizer.vocab_size);
  check_tokenizer_fits(result.config, tokenizer.vocab_size, options.tokenizer_path);
  if (tokenizer.bos_id >= 0)
    result.config.bos_token_id = tokenizer.bos_id;
  if (tokenizer.eos_id >= 0)
    result.config.eos_token_ids = {tokenizer.eos_id};
  validate_model_config(
      result.config, options.preset.empty() ? options.config_path : options.preset);

  // The tokenizer files go into a staging folder that save_pretrained copies from; it is
  // removed on every path out (a bad --special-token must not leave it behind).
  std::string staging = options.out_dir + ".tokenizer-staging";
  std::error_code error;
  std::filesystem::remove_all(staging, error);
  std::filesystem::create_directories(staging, error);
  if (error)
    throw IoError("cannot create '" + staging + "': " + error.message());
  struct RemoveStaging {
    std::string path;
    ~RemoveStaging() {
      std::error_code ignored;
      std::filesystem::remove_all(path, ignored);
    }
  } remove_staging{staging};
  const std::string chat_template =
      options.template_spec.empty() ? "" : ChatTemplate::load(options.template_spec).text();
  if (tokenizer_folder) {
    stage_tokenizer_folder(options, chat_template, staging);
  } else {
    TokenizerFolderOptions tokenizer_options;
    tokenizer_options.chat_template = chat_template;
    tokenizer_options.added_special_tokens = options.added_special_tokens;
    tokenizer_options.eos_token = options.eos_token;
    tokenizer_options.model_max_length = result.config.max_position_embeddings;
    write_tokenizer_folder(staging, options.tokenizer_path, tokenizer_options);
  }

  LlamaForCausalLM model = allocate_model(
      result.config,
      at::TensorOptions().dtype(at::kFloat).device(at::kCPU),
      options.preset.empty() ? options.config_path : options.preset);
  init_random_weights(*model, options.seed);
  SaveOptions save;
  save.tokenizer_source = staging;
  save_pretrained(*model, options.out_dir, save);

  result.parameters = result.config.num_parameters();
  result.content_hash = model_content_hash(*model);
  return result;
}

}  // namespace dpo
