// Trains a sentencepiece tokenizer on the text of a preference dataset (`dpo train-tokenizer`).
// Used for the demo and for tests of small models; real runs use the SFT model's tokenizer.
#pragma once

#include <string>
#include <vector>

#include "data/validator.h"

namespace dpo {

struct TokenizerTrainingOptions {
  int vocab_size = 2000;
  std::string model_type = "bpe";  // bpe | unigram
  // Strings that must each stay one piece: the chat template's markers (<|im_start|>, ...).
  std::vector<std::string> user_symbols;
  bool byte_fallback = true;  // unknown characters become byte pieces, never <unk>
  int threads = 2;
  ValidateOptions validate;  // how the data files are read (format, fields)
};

struct TokenizerTrainingResult {
  std::string model_path;     // <out_dir>/tokenizer.model
  uint64_t pairs = 0;         // accepted pairs whose text was used
  uint64_t corpus_bytes = 0;  // bytes of text given to sentencepiece
  int vocab_size = 0;
};

// Reads the files as `dpo validate` does, writes every message content of the accepted pairs
// (prompt turns, chosen, rejected; one line per text line) to a temporary corpus, trains, and
// moves tokenizer.model into `out_dir` atomically. The model is Llama-like: identity
// normalisation (newlines and runs of spaces survive a round trip), byte fallback, split digits.
// Piece ids: <unk> 0, <s> 1, </s> 2, then the user symbols in order, then the learned pieces.
// Throws DataError when no pair is accepted.
TokenizerTrainingResult train_tokenizer_on_pairs(
    const std::vector<std::string>& files,
    const std::string& out_dir,
    const TokenizerTrainingOptions& options);

}  // namespace dpo
