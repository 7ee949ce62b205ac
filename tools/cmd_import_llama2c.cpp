// dpo import-llama2c --checkpoint model.bin --tokenizer tokenizer.model --out DIR : converts a
// llama2.c checkpoint (karpathy's tinyllamas) into a Hugging Face Llama folder
// (pipeline/llama2c_import.h describes the format and the weight permutation).
#include <CLI/CLI.hpp>

#include <cstdio>
#include <memory>

#include "core/error.h"
#include "pipeline/llama2c_import.h"
#include "tools/commands.h"

namespace dpo {

Command add_import_llama2c_command(CLI::App& dpo) {
  auto options = std::make_shared<Llama2cImportOptions>();
  CLI::App* app = dpo.add_subcommand(
      "import-llama2c",
      "Convert a llama2.c checkpoint (export version 0, e.g. stories15M.bin) and its "
      "sentencepiece tokenizer into a Hugging Face Llama folder (config.json, model.safetensors, "
      "tokenizer files).");
  app->add_option("--checkpoint", options->checkpoint, "llama2.c model .bin file")->required();
  app->add_option(
         "--tokenizer", options->tokenizer, "sentencepiece tokenizer.model of the checkpoint")
      ->required();
  app->add_option("--out", options->out, "Folder to write (must not exist or be empty)")
      ->required();
  app->add_flag("--overwrite", options->overwrite, "Replace --out if it exists and is not empty");
  Command command;
  command.app = app;
  command.run = [options]() {
    ModelConfig config = import_llama2c(*options);
    std::printf(
        "wrote %s: LlamaForCausalLM, %lld layers, hidden %lld, vocab %lld, %lld parameters\n",
        options->out.c_str(),
        static_cast<long long>(config.num_hidden_layers),
        static_cast<long long>(config.hidden_size),
        static_cast<long long>(config.vocab_size),
        static_cast<long long>(config.num_parameters()));
    return kExitOk;
  };
  return command;
}

}  // namespace dpo
