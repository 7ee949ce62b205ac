#include "dataloader/sentencepiece_model.h"

#include <sentencepiece_processor.h>

#include <fstream>

#include "core/error.h"

namespace dpo {

struct SentencePieceModel::Impl {
  sentencepiece::SentencePieceProcessor processor;
};

SentencePieceModel::SentencePieceModel(const std::string& path)
    : impl_(std::make_unique<Impl>()), path_(path) {
  std::ifstream probe(path, std::ios::binary);
  if (!probe) throw IoError("cannot open tokenizer model '" + path + "'");
  auto status = impl_->processor.Load(path);
  if (!status.ok()) {
    throw DataError(
        "'" + path + "' is not a sentencepiece model: " + status.ToString(),
        "pass the tokenizer.model file of a Hugging Face model folder");
  }
}

SentencePieceModel::~SentencePieceModel() = default;

std::vector<int> SentencePieceModel::encode(std::string_view text) const {
  std::vector<int> ids;
  encode(text, ids);
  return ids;
}

void SentencePieceModel::encode(std::string_view text, std::vector<int>& ids) const {
  ids.clear();
  auto status = impl_->processor.Encode(absl::string_view(text.data(), text.size()), &ids);
  if (!status.ok()) throw DataError("sentencepiece could not encode text: " + status.ToString());
}

std::string SentencePieceModel::decode(const std::vector<int>& ids) const {
  std::string text;
  auto status = impl_->processor.Decode(ids, &text);
  if (!status.ok()) throw DataError("sentencepiece could not decode ids: " + status.ToString());
  return text;
}

int SentencePieceModel::vocab_size() const {
  return impl_->processor.GetPieceSize();
}

int SentencePieceModel::piece_to_id(std::string_view piece) const {
  int id = impl_->processor.PieceToId(absl::string_view(piece.data(), piece.size()));
  // sentencepiece answers unk_id for unknown pieces; tell them apart by the piece text.
  if (id == impl_->processor.unk_id() && impl_->processor.IdToPiece(id) != piece) return -1;
  return id;
}

std::string SentencePieceModel::id_to_piece(int id) const {
  return impl_->processor.IdToPiece(id);
}

int SentencePieceModel::bos_id() const {
  return impl_->processor.bos_id();
}

int SentencePieceModel::eos_id() const {
  return impl_->processor.eos_id();
}

int SentencePieceModel::unk_id() const {
  return impl_->processor.unk_id();
}

int SentencePieceModel::pad_id() const {
  return impl_->processor.pad_id();
}

bool SentencePieceModel::is_control(int id) const {
  return impl_->processor.IsControl(id);
}

}  // namespace dpo
