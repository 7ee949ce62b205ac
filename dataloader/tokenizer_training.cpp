#include "dataloader/tokenizer_training.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/log.h"
#include "tokenizer/sentencepiece_model.h"

namespace dpo {
namespace {

// sentencepiece's flag parser splits on spaces and commas; these cannot be escaped.
void check_symbol(const std::string& symbol) {
  if (symbol.empty() || symbol.find_first_of(" ,\t\n") != std::string::npos) {
    throw UsageError(
        "user symbol '" + symbol + "' is empty or contains a space or comma",
        "sentencepiece cannot take such symbols");
  }
}

void append_text(std::ofstream& corpus, const std::string& text, uint64_t& bytes) {
  // One line per line of text: sentencepiece treats each input line as a sentence.
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos)
      end = text.size();
    if (end > start) {
      corpus.write(text.data() + start, static_cast<std::streamsize>(end - start));
      corpus.put('\n');
      bytes += end - start + 1;
    }
    start = end + 1;
  }
}

}  // namespace

TokenizerTrainingResult train_tokenizer_on_pairs(
    const std::vector<std::string>& files,
    const std::string& out_dir,
    const TokenizerTrainingOptions& options) {
  if (options.vocab_size < 16)
    throw UsageError("--vocab-size must be at least 16");
  if (options.model_type != "bpe" && options.model_type != "unigram") {
    throw UsageError("--model-type must be bpe or unigram, got '" + options.model_type + "'");
  }
  for (const std::string& symbol : options.user_symbols)
    check_symbol(symbol);

  std::error_code error;
  std::filesystem::create_directories(out_dir, error);
  if (error)
    throw IoError("cannot create '" + out_dir + "': " + error.message());

  TokenizerTrainingResult result;
  std::string corpus_path = out_dir + "/.tokenizer-corpus.txt";
  {
    std::ofstream corpus(corpus_path, std::ios::binary | std::ios::trunc);
    if (!corpus)
      throw IoError(errno_message("cannot write '" + corpus_path + "'", errno));
    validate_files(
        files, options.validate, [&](const PreferenceRow& row, const RowLocation&, Split) {
          for (const Message& m : row.prompt)
            append_text(corpus, m.content, result.corpus_bytes);
          for (const Message& m : row.chosen)
            append_text(corpus, m.content, result.corpus_bytes);
          for (const Message& m : row.rejected)
            append_text(corpus, m.content, result.corpus_bytes);
          ++result.pairs;
        });
    if (!corpus.flush())
      throw IoError(errno_message("cannot write '" + corpus_path + "'", errno));
  }
  if (result.pairs == 0) {
    std::remove(corpus_path.c_str());
    throw DataError(
        "no accepted pair in the data: nothing to train a tokenizer on",
        "run dpo validate on the files to see why");
  }

  std::string symbols;
  for (const std::string& symbol : options.user_symbols)
    symbols += (symbols.empty() ? "" : ",") + symbol;
  std::string prefix = out_dir + "/.tokenizer-training";
  std::string flags = "--input=" + corpus_path + " --model_prefix=" + prefix +
                      " --vocab_size=" + std::to_string(options.vocab_size) +
                      " --model_type=" + options.model_type +
                      " --character_coverage=1.0 --max_sentence_length=65536"
                      // Llama-style: text kept byte for byte (no NFKC, whitespace and newlines
                      // kept; a newline becomes the byte piece <0x0A>), digits split.
                      " --normalization_rule_name=identity --remove_extra_whitespaces=false"
                      " --allow_whitespace_only_pieces=true --split_digits=true"
                      " --unk_id=0 --bos_id=1 --eos_id=2 --pad_id=-1"
                      " --num_threads=" +
                      std::to_string(options.threads) +
                      " --byte_fallback=" + (options.byte_fallback ? "true" : "false") +
                      " --minloglevel=2";
  if (!symbols.empty())
    flags += " --user_defined_symbols=" + symbols;
  DPO_LOG_INFO(
      "tokenizer",
      "training a %s tokenizer of %d pieces on %llu bytes of text",
      options.model_type.c_str(),
      options.vocab_size,
      static_cast<unsigned long long>(result.corpus_bytes));
  try {
    train_sentencepiece(flags);
  } catch (...) {
    std::remove(corpus_path.c_str());
    throw;
  }
  std::remove(corpus_path.c_str());
  std::remove((prefix + ".vocab").c_str());

  // Publish atomically under its final name.
  result.model_path = out_dir + "/tokenizer.model";
  fsync_path(prefix + ".model");
  if (std::rename((prefix + ".model").c_str(), result.model_path.c_str()) != 0) {
    throw IoError(errno_message("cannot move the tokenizer to '" + result.model_path + "'", errno));
  }
  fsync_path(out_dir);
  result.vocab_size = SentencePieceModel(result.model_path).vocab_size();
  return result;
}

}  // namespace dpo
