// dpo prepare --data DATA... (--model DIR | --tokenizer tokenizer.model --template SRC)
//             --max-length N --out FILE.h5 : validate, render, tokenize, split, cache.
// dpo prepare --out FILE.h5 --import-reference KEPT.h5 : cache reference log-probs kept aside.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <memory>

#include "core/error.h"
#include "dataloader/prepare.h"
#include "dataloader/prepared_dataset.h"
#include "tools/commands.h"

namespace dpo {
namespace {

struct PrepareFlags {
  PrepareOptions options;
  std::string format = "auto";
  std::string fields;
  std::string length_policy = "drop";
  std::string add_bos = "as_template";
  std::string import_reference;
  std::string tokenizer_format = "automatic";
};

int run_prepare(const PrepareFlags& flags) {
  PrepareOptions options = flags.options;
  options.tokenizer_format = parse_tokenizer_format(flags.tokenizer_format);
  if (!flags.import_reference.empty()) {
    // Only caches reference log-probs that a full disk kept elsewhere: no data is read.
    import_reference_logps(options.out_path, flags.import_reference);
    std::printf(
        "cached the reference log-probs of %s in %s\n",
        flags.import_reference.c_str(),
        options.out_path.c_str());
    return kExitOk;
  }
  if (options.files.empty())
    throw UsageError("--data is required", "name the data files to prepare");
  options.validate.format = parse_data_format(flags.format);
  if (!flags.fields.empty())
    options.validate.fields = FieldNames::parse(flags.fields);
  options.length_policy = parse_length_policy(flags.length_policy);
  options.bos_policy = parse_bos_policy(flags.add_bos);
  PrepareResult result = prepare_dataset(options);
  std::fputs(prepare_summary(result, options.out_path).c_str(), stdout);
  return kExitOk;
}

}  // namespace

Command add_prepare_command(CLI::App& dpo) {
  auto flags = std::make_shared<PrepareFlags>();
  CLI::App* app = dpo.add_subcommand(
      "prepare",
      "Validate, render with the model's chat template, tokenize, split train/held-out and write "
      "one HDF5 file (atomically). Re-running with the same inputs is a no-op.");
  app->add_option("--data", flags->options.files, "Data files (as for validate)");
  app->add_option(
      "--model",
      flags->options.model_dir,
      "A Hugging Face model folder (tokenizer.json or tokenizer.model, tokenizer_config.json with "
      "chat_template)");
  app->add_option("--tokenizer", flags->options.tokenizer_path, "Or a bare tokenizer.model ...");
  app->add_option(
         "--tokenizer-format",
         flags->tokenizer_format,
         "Which tokenizer file of --model: automatic (tokenizer.json when present, as "
         "transformers' AutoTokenizer), json or sentencepiece (tokenizer.model)")
      ->check(CLI::IsMember({"automatic", "json", "sentencepiece"}))
      ->capture_default_str();
  app->add_option(
      "--template",
      flags->options.template_spec,
      "... with a chat template: built-in name, .jinja file or model folder (also overrides "
      "--model's)");
  app->add_option(
         "--max-length", flags->options.max_length, "Tokens per sequence (prompt + completion)")
      ->capture_default_str();
  app->add_option(
         "--length-policy",
         flags->length_policy,
         "Over max length: drop, truncate_prompt_left, truncate_completion or error")
      ->capture_default_str();
  app->add_option(
         "--add-bos",
         flags->add_bos,
         "as_template: the ids as the chat template renders them (as TRL's DPOTrainer); "
         "if_missing: also add the tokenizer's BOS when add_bos_token is set and the template "
         "wrote none")
      ->check(CLI::IsMember({"as_template", "if_missing"}))
      ->capture_default_str();
  app->add_option("--out", flags->options.out_path, "The prepared file to write (.h5)")->required();
  app->add_option(
         "--val-fraction", flags->options.validate.val_fraction, "Held-out fraction of prompts")
      ->capture_default_str();
  app->add_option("--seed", flags->options.validate.seed, "Seed of the split")
      ->capture_default_str();
  app->add_option("--threads", flags->options.threads, "Tokenization threads (0: every core)")
      ->capture_default_str();
  app->add_option("--format", flags->format, "Data format (see validate)")->capture_default_str();
  app->add_option("--fields", flags->fields, "Column names (see validate)");
  app->add_flag("--force", flags->options.force, "Rewrite even when the file is up to date");
  app->add_flag(
      "--overwrite",
      flags->options.overwrite,
      "Replace an existing --out that is not a prepared file (refused otherwise; an --out that is "
      "one of the inputs is always refused)");
  app->add_option(
      "--import-reference",
      flags->import_reference,
      "Instead of preparing: cache into --out the reference log-probs kept in this file when "
      "caching them failed (a full disk)");
  return Command{app, [flags]() { return run_prepare(*flags); }};
}

}  // namespace dpo
