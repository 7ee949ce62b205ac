// dpo train-tokenizer DATA... --out DIR : a sentencepiece tokenizer trained on preference data
// (for the demo and small experiments; real runs use the SFT model's own tokenizer).
#include <CLI/CLI.hpp>

#include <cstdio>
#include <memory>

#include "core/error.h"
#include "dataloader/tokenizer_training.h"
#include "tools/commands.h"

namespace dpo {
namespace {

struct TrainTokenizerFlags {
  std::vector<std::string> files;
  std::string out_dir;
  std::string format = "auto";
  std::string fields;
  TokenizerTrainingOptions options;
};

int run_train_tokenizer(const TrainTokenizerFlags& flags) {
  TokenizerTrainingOptions options = flags.options;
  options.validate.format = parse_data_format(flags.format);
  if (!flags.fields.empty())
    options.validate.fields = FieldNames::parse(flags.fields);
  TokenizerTrainingResult result = train_tokenizer_on_pairs(flags.files, flags.out_dir, options);
  std::printf(
      "wrote %s: %d pieces (%s), trained on %llu pairs, %.1f MB of text\n",
      result.model_path.c_str(),
      result.vocab_size,
      options.model_type.c_str(),
      static_cast<unsigned long long>(result.pairs),
      result.corpus_bytes / 1e6);
  return kExitOk;
}

}  // namespace

Command add_train_tokenizer_command(CLI::App& dpo) {
  auto flags = std::make_shared<TrainTokenizerFlags>();
  CLI::App* app = dpo.add_subcommand(
      "train-tokenizer",
      "Train a sentencepiece tokenizer (tokenizer.model) on the texts of the accepted pairs.");
  app->add_option("data", flags->files, "Data files (as for validate)")->required();
  app->add_option("--out", flags->out_dir, "Folder to write tokenizer.model into")->required();
  app->add_option("--vocab-size", flags->options.vocab_size, "Number of pieces")
      ->capture_default_str();
  app->add_option("--model-type", flags->options.model_type, "bpe or unigram")
      ->capture_default_str();
  app->add_option(
      "--user-symbol",
      flags->options.user_symbols,
      "A string that must stay one piece, e.g. <|im_start|> (repeatable)");
  app->add_option("--threads", flags->options.threads, "Training threads")->capture_default_str();
  app->add_option("--format", flags->format, "Data format (see validate)")->capture_default_str();
  app->add_option("--fields", flags->fields, "Column names (see validate)");
  return Command{app, [flags]() { return run_train_tokenizer(*flags); }};
}

}  // namespace dpo
