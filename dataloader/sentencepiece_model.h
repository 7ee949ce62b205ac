// A sentencepiece model (tokenizer.model) behind a small interface, so that only
// sentencepiece_model.cpp includes the sentencepiece headers. Chat-template special tokens and
// added tokens are handled above this layer (see tokenizer.h).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace dpo {

class SentencePieceModel {
 public:
  // Loads a serialized model from a file; throws IoError or DataError naming the file.
  explicit SentencePieceModel(const std::string& path);
  ~SentencePieceModel();
  SentencePieceModel(const SentencePieceModel&) = delete;
  SentencePieceModel& operator=(const SentencePieceModel&) = delete;

  // Plain sentencepiece encoding of `text` (with the model's own normalisation and dummy
  // prefix). Thread-safe: sentencepiece's encoder is const.
  std::vector<int> encode(std::string_view text) const;
  void encode(std::string_view text, std::vector<int>& ids) const;
  std::string decode(const std::vector<int>& ids) const;

  int vocab_size() const;
  // -1 when the piece is not in the vocabulary.
  int piece_to_id(std::string_view piece) const;
  std::string id_to_piece(int id) const;
  int bos_id() const;  // -1 when the model has none
  int eos_id() const;
  int unk_id() const;
  int pad_id() const;
  bool is_control(int id) const;

  const std::string& path() const {
    return path_;
  }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string path_;
};

}  // namespace dpo
