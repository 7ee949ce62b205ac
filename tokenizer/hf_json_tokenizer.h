// A Hugging Face tokenizer.json (the `tokenizers` library's format) read and run in C++: the
// same ids as the Rust library's Tokenizer.encode(text, add_special_tokens) for every input.
// Supported, each with the options the file gives (anything else is refused by name, never
// approximated; docs/tokenization.md has the list and examples):
//   model           BPE (byte_fallback, ignore_merges, fuse_unk, unk_token,
//                   continuing_subword_prefix, end_of_word_suffix; dropout null or 0)
//   normalizer      NFC, NFD, NFKC, NFKD, Prepend, Replace, Sequence
//   pre_tokenizer   ByteLevel, Split, Digits, Metaspace, WhitespaceSplit, CharDelimiterSplit,
//                   Sequence
//   post_processor  TemplateProcessing, ByteLevel, RobertaProcessing, BertProcessing, Sequence
//   decoder         ByteLevel, ByteFallback, Metaspace, Fuse, Strip, Replace, Sequence
//   added_tokens    split off before normalisation and pre-tokenisation as AddedVocabulary does
// "truncation" and "padding" are not applied (transformers switches them off as well).
// The pipeline, the order of the Rust library's encode_single_sequence:
//   1. added tokens with normalized=false are matched in the raw text (leftmost-longest);
//   2. every other piece is normalised, then tokens with normalized=true matched in it;
//   3. the pre-tokenizer splits the pieces into words; 4. BPE encodes each word;
//   5. with add_special_tokens the post-processor adds its tokens (Llama 3's BOS).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dpo {

// One entry of tokenizer.json's "added_tokens".
struct HfJsonAddedToken {
  int32_t id = -1;
  std::string content;
  bool special = false;
  bool lstrip = false;
  bool rstrip = false;
  bool single_word = false;
  bool normalized = true;
};

class HfJsonTokenizer {
 public:
  // Parses the text of a tokenizer.json; `name` (the file) is named in every error. Throws
  // ConfigError for malformed JSON (with line and column), a component or option dpo does not
  // implement, a merge naming a token absent from the vocabulary, a regex PCRE2 rejects,
  // duplicate or out-of-range ids.
  HfJsonTokenizer(std::string_view json_text, const std::string& name);
  // Reads and parses `path` (IoError when it cannot be read).
  static std::unique_ptr<HfJsonTokenizer> from_file(const std::string& path);
  ~HfJsonTokenizer();
  HfJsonTokenizer(const HfJsonTokenizer&) = delete;
  HfJsonTokenizer& operator=(const HfJsonTokenizer&) = delete;

  // transformers 5's LlamaTokenizer class (tokenizer_class "LlamaTokenizer" or
  // "LlamaTokenizerFast") keeps the file's vocabulary, merges, added tokens and post-processor
  // but replaces the rest with its own: no normalizer, pre-tokenizer Metaspace("▁",
  // prepend_scheme, split=false) with prepend_scheme "never" without add_prefix_space, "first"
  // when legacy is false, "always" otherwise; BPE with byte_fallback and fuse_unk and no
  // unk_token; decoder Replace("▁", " "), ByteFallback, Fuse, and Strip(" ", 1, 0) with
  // add_prefix_space. This switches this tokenizer to that pipeline (call it before sharing).
  void use_transformers_llama_pipeline(bool add_prefix_space, bool legacy);

  // Appends the ids of `text` (valid UTF-8, else DataError). Thread-safe.
  void encode(std::string_view text, bool add_special_tokens, std::vector<int32_t>& ids) const;
  std::vector<int32_t> encode(std::string_view text, bool add_special_tokens) const;

  // Steps 1-2 of the pipeline: the pieces the added vocabulary splits `text` into. A piece
  // with id >= 0 is an added token (its text includes what lstrip/rstrip took); the others
  // are normalised text, each pre-tokenised and encoded on its own. `at_start`: the piece
  // begins at offset 0 of the text (Metaspace's prepend_scheme "first" looks at it).
  struct Piece {
    std::string text;
    int32_t id = -1;
    bool at_start = false;
  };
  std::vector<Piece> split_added_tokens(std::string_view text) const;
  // Steps 3-4 for one piece of split_added_tokens() with id < 0.
  void encode_piece(const Piece& piece, std::vector<int32_t>& ids) const;
  // Steps 1-3 for the whole text: the words the model sees (added tokens as their content), as
  // the Python library's pre_tokenizer.pre_tokenize_str after normalisation (tests, inspect).
  std::vector<std::string> pre_tokenize(std::string_view text) const;
  // Step 5: the ids the post-processor puts before and after a single sequence.
  const std::vector<int32_t>& special_prefix() const;
  const std::vector<int32_t>& special_suffix() const;

  // The Rust library's Tokenizer.decode: ids turned into tokens (unknown ids dropped, special
  // added tokens dropped with skip_special_tokens) and run through the decoder.
  std::string decode(const std::vector<int32_t>& ids, bool skip_special_tokens) const;

  // Added tokens first, then the model's vocabulary; -1 when absent.
  int32_t token_to_id(std::string_view token) const;
  // The token of an id (an added token's content, or the model's token); nullopt when none.
  std::optional<std::string> id_to_token(int32_t id) const;
  // The largest id of the model and the added tokens, plus one.
  int32_t vocab_size() const;
  // Sorted by id.
  const std::vector<HfJsonAddedToken>& added_tokens() const;
  const std::string& name() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dpo
