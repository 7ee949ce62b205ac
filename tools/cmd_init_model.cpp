// dpo init-model (--preset NAME | --config config.json) --tokenizer (tokenizer.model | DIR)
// --out DIR:
// a randomly initialised model as a Hugging Face folder (tests, demos, benchmarks).
#include <CLI/CLI.hpp>

#include <cstdio>
#include <memory>

#include "core/error.h"
#include "model/model_config.h"
#include "pipeline/model_factory.h"
#include "tools/commands.h"

namespace dpo {

Command add_init_model_command(CLI::App& dpo) {
  auto options = std::make_shared<InitModelOptions>();
  std::string presets;
  for (const std::string& name : model_config_preset_names())
    presets += (presets.empty() ? "" : ", ") + name;
  CLI::App* app = dpo.add_subcommand(
      "init-model", "Write a randomly initialised Llama-family model as a Hugging Face folder.");
  app->add_option("--preset", options->preset, "Model shape: " + presets);
  app->add_option("--config", options->config_path, "Or a config.json giving the shape");
  app->add_option(
         "--tokenizer",
         options->tokenizer_path,
         "The tokenizer to ship with it: a tokenizer.model, or a Hugging Face tokenizer folder "
         "(tokenizer.json, tokenizer_config.json)")
      ->required();
  app->add_option(
      "--template",
      options->template_spec,
      "Chat template: a built-in name (chatml, llama3, ...), a .jinja file or a model folder");
  app->add_option(
      "--special-token",
      options->added_special_tokens,
      "A chat marker that is one piece of the tokenizer, e.g. <|im_start|> (repeatable)");
  app->add_option(
      "--eos-token", options->eos_token, "The eos token (default: the tokenizer's </s>)");
  app->add_option("--out", options->out_dir, "Folder to create")->required();
  app->add_option("--seed", options->seed, "Seed of the random weights")->capture_default_str();
  return Command{app, [options]() {
                   InitModelResult result = init_model_folder(*options);
                   std::printf(
                       "wrote %s: %s, %lld parameters, %lld layers, hidden %lld, vocab %lld\n"
                       "content hash %s\n",
                       options->out_dir.c_str(),
                       result.config.architecture.c_str(),
                       static_cast<long long>(result.parameters),
                       static_cast<long long>(result.config.num_hidden_layers),
                       static_cast<long long>(result.config.hidden_size),
                       static_cast<long long>(result.config.vocab_size),
                       result.content_hash.c_str());
                   return kExitOk;
                 }};
}

}  // namespace dpo
