// dpo inspect FILE.h5 [--pair N] [--split train|val] [--model DIR | --tokenizer FILE]
#include <CLI/CLI.hpp>

#include <cstdio>
#include <memory>
#include <string>

#include "core/error.h"
#include "dataloader/prepared_inspect.h"
#include "tools/commands.h"

namespace dpo {

Command add_inspect_command(CLI::App& dpo) {
  auto options = std::make_shared<InspectOptions>();
  CLI::App* app = dpo.add_subcommand(
      "inspect",
      "Print and verify a prepared file: attributes, split sizes, token lengths; decode a pair.");
  app->add_option("file", options->path, "A file written by dpo prepare")->required();
  app->add_option("--pair", options->pair, "Decode this pair (0-based)");
  app->add_option("--split", options->split, "train or val")->capture_default_str();
  app->add_option("--model", options->model_dir, "Decode with this model folder's tokenizer");
  app->add_option("--tokenizer", options->tokenizer_path, "Or with this tokenizer.model");
  return Command{app, [options]() {
                   // fwrite, not fputs: a decoded message may hold a NUL character, and the
                   // text after it (the rest of the pair) must still be printed.
                   const std::string text = inspect_prepared(*options);
                   std::fwrite(text.data(), 1, text.size(), stdout);
                   return kExitOk;
                 }};
}

}  // namespace dpo
