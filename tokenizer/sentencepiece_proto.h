// A small reader and editor of sentencepiece's ModelProto in protobuf wire format, so that
// dpo can inspect a tokenizer.model and switch its dummy prefix off without protobuf headers
// (sentencepiece's own protobuf lives inside the shim; see sentencepiece_shim_api.h).
//
// Field numbers (sentencepiece_model.proto):
//   ModelProto:     1 pieces (repeated), 2 trainer_spec, 3 normalizer_spec, 5 denormalizer_spec
//   SentencePiece:  1 piece, 2 score, 3 type
//   TrainerSpec:    3 model_type (1 unigram, 2 bpe, 3 word, 4 char), 4 vocab_size,
//                   35 byte_fallback
//   NormalizerSpec: 1 name, 3 add_dummy_prefix (default true), 4 remove_extra_whitespaces
//                   (default true), 5 escape_whitespaces (default true)
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace dpo {

// What `dpo inspect` and the tokenizer want to know about a model file.
struct SentencePieceModelInfo {
  int64_t piece_count = 0;             // number of `pieces` entries
  std::string model_type = "unigram";  // "unigram" | "bpe" | "word" | "char" | "type N"
  int64_t trainer_vocab_size = 0;      // trainer_spec.vocab_size (0 when absent)
  bool byte_fallback = false;
  std::string normalizer_name;  // e.g. "identity", "nmt_nfkc"; empty when absent
  bool add_dummy_prefix = true;
  bool remove_extra_whitespaces = true;
  bool escape_whitespaces = true;
};

// Parses the fields above; throws DataError naming `name` when the bytes are not a valid
// protobuf message (truncated varint, length past the end, unknown wire type).
SentencePieceModelInfo read_sentencepiece_model_info(
    std::string_view serialized, const std::string& name);

// Returns a copy of the serialized model whose normalizer_spec.add_dummy_prefix is `value`.
// Every other byte keeps its meaning: the normalizer_spec message is rewritten with the field
// replaced (or added), the other top-level fields are copied unchanged.
std::string set_sentencepiece_add_dummy_prefix(
    std::string_view serialized, bool value, const std::string& name);

}  // namespace dpo
