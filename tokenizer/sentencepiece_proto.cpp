// Protobuf wire-format walking for sentencepiece's ModelProto (see sentencepiece_proto.h).
#include "tokenizer/sentencepiece_proto.h"

#include <vector>

#include "core/error.h"

namespace dpo {
namespace {

enum WireType { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };

// One field of a message: its number, wire type, and the bytes of the whole field (tag
// included) plus the payload (varint value or length-delimited bytes).
struct Field {
  uint32_t number = 0;
  int wire_type = 0;
  std::string_view raw;      // tag + payload, as in the input
  uint64_t varint = 0;       // kVarint
  std::string_view payload;  // kLengthDelimited
};

class WireReader {
 public:
  WireReader(std::string_view data, const std::string& name, const char* what)
      : data_(data), name_(name), what_(what) {}

  bool done() const {
    return pos_ >= data_.size();
  }

  Field next() {
    Field field;
    size_t start = pos_;
    uint64_t tag = read_varint();
    field.number = static_cast<uint32_t>(tag >> 3);
    field.wire_type = static_cast<int>(tag & 7);
    if (field.number == 0)
      fail("field number 0");
    switch (field.wire_type) {
      case kVarint:
        field.varint = read_varint();
        break;
      case kFixed64:
        skip(8);
        break;
      case kFixed32:
        skip(4);
        break;
      case kLengthDelimited: {
        uint64_t size = read_varint();
        if (size > data_.size() - pos_)
          fail("a length runs past the end");
        field.payload = data_.substr(pos_, static_cast<size_t>(size));
        pos_ += static_cast<size_t>(size);
        break;
      }
      default:
        fail("unsupported wire type " + std::to_string(field.wire_type));
    }
    field.raw = data_.substr(start, pos_ - start);
    return field;
  }

 private:
  uint64_t read_varint() {
    uint64_t value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= data_.size())
        fail("a varint runs past the end");
      unsigned char byte = static_cast<unsigned char>(data_[pos_++]);
      value |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0)
        return value;
    }
    fail("a varint is longer than 10 bytes");
    return 0;
  }

  void skip(size_t size) {
    if (size > data_.size() - pos_)
      fail("a fixed-size field runs past the end");
    pos_ += size;
  }

  [[noreturn]] void fail(const std::string& why) const {
    throw DataError(
        "'" + name_ + "' is not a valid sentencepiece model: " + why + " in " + what_ +
            " at byte " + std::to_string(pos_),
        "the file is truncated or not a tokenizer.model; download it again");
  }

  std::string_view data_;
  size_t pos_ = 0;
  const std::string& name_;
  const char* what_;
};

void append_varint(std::string& out, uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

std::string model_type_name(uint64_t value) {
  switch (value) {
    case 1:
      return "unigram";
    case 2:
      return "bpe";
    case 3:
      return "word";
    case 4:
      return "char";
    default:
      return "type " + std::to_string(value);
  }
}

}  // namespace

SentencePieceModelInfo read_sentencepiece_model_info(
    std::string_view serialized, const std::string& name) {
  SentencePieceModelInfo info;
  WireReader model(serialized, name, "ModelProto");
  while (!model.done()) {
    Field field = model.next();
    if (field.number == 1 && field.wire_type == kLengthDelimited) {
      ++info.piece_count;
    } else if (field.number == 2 && field.wire_type == kLengthDelimited) {
      WireReader trainer(field.payload, name, "TrainerSpec");
      while (!trainer.done()) {
        Field f = trainer.next();
        if (f.wire_type != kVarint)
          continue;
        if (f.number == 3)
          info.model_type = model_type_name(f.varint);
        if (f.number == 4)
          info.trainer_vocab_size = static_cast<int64_t>(f.varint);
        if (f.number == 35)
          info.byte_fallback = f.varint != 0;
      }
    } else if (field.number == 3 && field.wire_type == kLengthDelimited) {
      // Repeated occurrences of a message field merge; later scalars win, as in protobuf.
      WireReader normalizer(field.payload, name, "NormalizerSpec");
      while (!normalizer.done()) {
        Field f = normalizer.next();
        if (f.number == 1 && f.wire_type == kLengthDelimited) {
          info.normalizer_name = std::string(f.payload);
        } else if (f.wire_type == kVarint) {
          if (f.number == 3)
            info.add_dummy_prefix = f.varint != 0;
          if (f.number == 4)
            info.remove_extra_whitespaces = f.varint != 0;
          if (f.number == 5)
            info.escape_whitespaces = f.varint != 0;
        }
      }
    }
  }
  if (info.piece_count == 0) {
    throw DataError(
        "'" + name + "' is not a valid sentencepiece model: it has no pieces",
        "pass the tokenizer.model file of a Hugging Face model folder");
  }
  return info;
}

std::string set_sentencepiece_add_dummy_prefix(
    std::string_view serialized, bool value, const std::string& name) {
  // Gather the normalizer_spec occurrences (normally one) into one message without field 3,
  // then write it back once, where the first occurrence was.
  std::string normalizer;
  bool seen_normalizer = false;
  std::vector<Field> fields;
  WireReader model(serialized, name, "ModelProto");
  while (!model.done())
    fields.push_back(model.next());
  for (const Field& field : fields) {
    if (field.number != 3 || field.wire_type != kLengthDelimited)
      continue;
    seen_normalizer = true;
    WireReader reader(field.payload, name, "NormalizerSpec");
    while (!reader.done()) {
      Field f = reader.next();
      if (f.number == 3)
        continue;
      normalizer.append(f.raw.data(), f.raw.size());
    }
  }
  append_varint(normalizer, (3u << 3) | kVarint);
  append_varint(normalizer, value ? 1 : 0);

  std::string out;
  out.reserve(serialized.size() + 16);
  bool written = false;
  auto write_normalizer = [&] {
    append_varint(out, (3u << 3) | kLengthDelimited);
    append_varint(out, normalizer.size());
    out += normalizer;
    written = true;
  };
  for (const Field& field : fields) {
    if (field.number == 3 && field.wire_type == kLengthDelimited) {
      if (!written)
        write_normalizer();
      continue;
    }
    out.append(field.raw.data(), field.raw.size());
  }
  if (!seen_normalizer)
    write_normalizer();
  return out;
}

}  // namespace dpo
