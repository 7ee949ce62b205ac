#include "pipeline/model_factory.h"

#include <ATen/ATen.h>

#include <filesystem>

#include "core/error.h"
#include "core/log.h"
#include "model/checkpoint.h"
#include "model/llama.h"
#include "templates/chat_template.h"
#include "tokenizer/sentencepiece_model.h"
#include "tokenizer/tokenizer_folder.h"

namespace dpo {

InitModelResult init_model_folder(const InitModelOptions& options) {
  if (options.preset.empty() == options.config_path.empty()) {
    throw UsageError("give exactly one of --preset and --config");
  }
  if (options.out_dir.empty())
    throw UsageError("--out is required");
  SentencePieceModel tokenizer(options.tokenizer_path);

  InitModelResult result;
  result.config = options.preset.empty()
                      ? read_model_config(options.config_path)
                      : model_config_preset(options.preset, tokenizer.vocab_size());
  check_tokenizer_fits(result.config, tokenizer.vocab_size(), options.tokenizer_path);
  if (tokenizer.bos_id() >= 0)
    result.config.bos_token_id = tokenizer.bos_id();
  if (tokenizer.eos_id() >= 0)
    result.config.eos_token_ids = {tokenizer.eos_id()};
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
  TokenizerFolderOptions tokenizer_options;
  if (!options.template_spec.empty())
    tokenizer_options.chat_template = ChatTemplate::load(options.template_spec).text();
  tokenizer_options.added_special_tokens = options.added_special_tokens;
  tokenizer_options.eos_token = options.eos_token;
  tokenizer_options.model_max_length = result.config.max_position_embeddings;
  write_tokenizer_folder(staging, options.tokenizer_path, tokenizer_options);

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
