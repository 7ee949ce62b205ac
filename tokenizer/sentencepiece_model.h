// A sentencepiece model (tokenizer.model) behind a small interface. sentencepiece itself lives
// in libdpo_sentencepiece_shim.so, loaded on first use (see sentencepiece_shim_api.h for why).
// Chat-template special tokens and added tokens are handled above this layer.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace dpo {

class SentencePieceModel {
 public:
  // Loads a serialized model from a file; throws IoError or DataError naming the file.
  explicit SentencePieceModel(const std::string& path);
  // Loads a model from its serialized bytes; `name` is used in messages.
  SentencePieceModel(const std::string& name, std::string_view serialized);
  ~SentencePieceModel();
  SentencePieceModel(const SentencePieceModel&) = delete;
  SentencePieceModel& operator=(const SentencePieceModel&) = delete;

  // Plain sentencepiece encoding of `text` (with the model's own normalisation and dummy
  // prefix). Thread-safe: sentencepiece's encoder is const.
  std::vector<int> encode(std::string_view text) const;
  void encode(std::string_view text, std::vector<int>& ids) const;
  // Appends the ids of `text` to `ids` (the tokenizer encodes a text piece by piece).
  void encode_append(std::string_view text, std::vector<int>& ids) const;
  std::string decode(const std::vector<int>& ids) const;

  int vocab_size() const;
  // -1 when the piece is not in the vocabulary. Ids outside the vocabulary throw DataError.
  int piece_to_id(std::string_view piece) const;
  std::string id_to_piece(int id) const;
  int bos_id() const;  // -1 when the model has none
  int eos_id() const;
  int unk_id() const;
  int pad_id() const;
  bool is_control(int id) const;
  bool is_byte(int id) const;
  bool is_unknown(int id) const;
  float score(int id) const;

  const std::string& path() const {
    return path_;
  }

 private:
  void load(std::string_view serialized);
  // Throws DataError unless 0 <= id < vocab_size().
  void check_id(int id) const;

  struct Handle;
  std::unique_ptr<Handle> handle_;
  std::string path_;
};

// Trains a sentencepiece model with sentencepiece's flags ("--input=corpus.txt
// --model_prefix=out --vocab_size=200 ..."); throws DataError with sentencepiece's message.
void train_sentencepiece(const std::string& flags);

// Where libdpo_sentencepiece_shim.so was (or would be) loaded from; loads it if needed and
// throws IoError naming every place searched when it cannot be found.
std::string sentencepiece_shim_path();

// A function that counts the pieces of a text with the model at `path` (`dpo validate
// --tokenizer`: the data library takes token counts through such a callback).
std::function<size_t(const std::string& text)> make_token_counter(const std::string& path);

}  // namespace dpo
