// HfJsonTokenizer: tokenizer.json parsed into a pipeline of components that each do what the
// Rust `tokenizers` library's component of the same name does (see hf_json_tokenizer.h). The
// Rust source files are named where the behaviour is subtle.
#include "tokenizer/hf_json_tokenizer.h"

#include <algorithm>
#include <functional>
#include <nlohmann/json.hpp>
#include <unordered_map>
#include <unordered_set>

#include "core/error.h"
#include "core/file_io.h"
#include "core/json_file.h"
#include "core/text.h"
#include "core/utf8.h"
#include "tokenizer/bpe_model.h"
#include "tokenizer/hf_regex.h"
#include "tokenizer/hf_unicode.h"

namespace dpo {

using json = nlohmann::json;
using Piece = HfJsonTokenizer::Piece;
using Pieces = std::vector<Piece>;

namespace {

// ---------------------------------------------------------------------------------------------
// Reading the JSON: every accessor names the file and the key path in its error.

struct Reader {
  std::string file;

  [[noreturn]] void fail(const std::string& path, const std::string& what) const {
    throw ConfigError(
        "'" + file + "': " + path + " " + what,
        "fix the tokenizer.json (the tokenizers library writes it with Tokenizer.save)");
  }
  const json& member(const json& object, const std::string& path, const char* key) const {
    if (!object.is_object())
      fail(path, "must be an object");
    auto found = object.find(key);
    if (found == object.end())
      fail(path + "." + key, "is missing");
    return *found;
  }
  bool has(const json& object, const char* key) const {
    return object.is_object() && object.contains(key) && !object.at(key).is_null();
  }
  std::string string(const json& object, const std::string& path, const char* key) const {
    const json& value = member(object, path, key);
    if (!value.is_string())
      fail(path + "." + key, "must be a string");
    return value.get<std::string>();
  }
  std::string string_or(
      const json& object, const std::string& path, const char* key, std::string fallback) const {
    return has(object, key) ? string(object, path, key) : fallback;
  }
  std::optional<std::string> optional_string(
      const json& object, const std::string& path, const char* key) const {
    if (!has(object, key))
      return std::nullopt;
    return string(object, path, key);
  }
  bool boolean(const json& object, const std::string& path, const char* key, bool fallback) const {
    if (!has(object, key))
      return fallback;
    const json& value = object.at(key);
    if (!value.is_boolean())
      fail(path + "." + key, "must be true or false");
    return value.get<bool>();
  }
  int64_t integer(const json& object, const std::string& path, const char* key) const {
    const json& value = member(object, path, key);
    if (!value.is_number_integer())
      fail(path + "." + key, "must be an integer");
    return value.get<int64_t>();
  }
  const json& array(const json& object, const std::string& path, const char* key) const {
    const json& value = member(object, path, key);
    if (!value.is_array())
      fail(path + "." + key, "must be an array");
    return value;
  }
  std::string type(const json& object, const std::string& path) const {
    return string(object, path, "type");
  }
  [[noreturn]] void unsupported(const char* component, const std::string& name) const {
    throw ConfigError(
        "unsupported " + std::string(component) + " '" + name + "' in " + file,
        "dpo implements the components listed in docs/tokenization.md; use a model whose "
        "tokenizer.json needs only those, or its tokenizer.model");
  }
};

// A "pattern" of Split, Replace: {"String": "..."} or {"Regex": "..."}.
HfRegex read_pattern(const Reader& reader, const json& object, const std::string& path) {
  const json& pattern = reader.member(object, path, "pattern");
  const std::string where = "'" + reader.file + "' " + path + ".pattern";
  if (pattern.is_object() && pattern.size() == 1 && pattern.contains("String") &&
      pattern.at("String").is_string()) {
    return HfRegex::literal(pattern.at("String").get<std::string>(), where);
  }
  if (pattern.is_object() && pattern.size() == 1 && pattern.contains("Regex") &&
      pattern.at("Regex").is_string()) {
    return HfRegex(pattern.at("Regex").get<std::string>(), where);
  }
  reader.fail(path + ".pattern", "must be {\"String\": ...} or {\"Regex\": ...}");
}

// One character of a string option (Metaspace's replacement, Strip's content).
uint32_t read_char(
    const Reader& reader, const json& object, const std::string& path, const char* key) {
  const std::string text = reader.string(object, path, key);
  size_t length = 0;
  const uint32_t c = text.empty() ? kInvalidCodePoint : decode_utf8_at(text, 0, length);
  if (c == kInvalidCodePoint || length != text.size())
    reader.fail(path + "." + key, "must be a single character");
  return c;
}

std::string utf8(uint32_t c) {
  std::string out;
  append_utf8(c, out);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Splitting (tokenizer/pattern.rs, tokenizer/normalizer.rs NormalizedString::split).

struct Span {
  size_t start;
  size_t end;
  bool is_match;
};

// Pattern::find_matches of a regex: matches and the text between them.
void regex_spans(const HfRegex& regex, std::string_view text, std::vector<Span>& spans) {
  spans.clear();
  if (text.empty()) {
    spans.push_back({0, 0, false});
    return;
  }
  thread_local std::vector<std::pair<size_t, size_t>> matches;
  matches.clear();
  regex.find_all(text, matches);
  size_t prev = 0;
  for (const auto& [start, end] : matches) {
    if (prev != start)
      spans.push_back({prev, start, false});
    spans.push_back({start, end, true});
    prev = end;
  }
  if (prev != text.size())
    spans.push_back({prev, text.size(), false});
}

// Pattern::find_matches of a Fn(char) -> bool.
template <typename Predicate>
void char_spans(std::string_view text, Predicate is_match, std::vector<Span>& spans) {
  spans.clear();
  if (text.empty()) {
    spans.push_back({0, 0, false});
    return;
  }
  size_t last_offset = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t length = 1;
    const uint32_t c = decode_utf8_at(text, pos, length);
    if (is_match(c)) {
      if (last_offset < pos)
        spans.push_back({last_offset, pos, false});
      spans.push_back({pos, pos + length, true});
      last_offset = pos + length;
    }
    pos += length;
  }
  if (pos > last_offset)
    spans.push_back({last_offset, pos, false});
}

enum class Behavior { removed, isolated, merged_with_previous, merged_with_next, contiguous };

Behavior read_behavior(const Reader& reader, const json& object, const std::string& path) {
  const std::string name = reader.string(object, path, "behavior");
  if (name == "Removed")
    return Behavior::removed;
  if (name == "Isolated")
    return Behavior::isolated;
  if (name == "MergedWithPrevious")
    return Behavior::merged_with_previous;
  if (name == "MergedWithNext")
    return Behavior::merged_with_next;
  if (name == "Contiguous")
    return Behavior::contiguous;
  reader.unsupported("split behavior", name);
}

// NormalizedString::split: turns the spans into pieces of `piece`, appended to `out`.
void split_piece(const Piece& piece, std::vector<Span>& spans, Behavior behavior, Pieces& out) {
  struct Cut {
    size_t start, end;
    bool remove;
  };
  thread_local std::vector<Cut> cuts;
  cuts.clear();
  switch (behavior) {
    case Behavior::isolated:
      for (const Span& s : spans)
        cuts.push_back({s.start, s.end, false});
      break;
    case Behavior::removed:
      for (const Span& s : spans)
        cuts.push_back({s.start, s.end, s.is_match});
      break;
    case Behavior::contiguous: {
      bool previous = false;
      for (const Span& s : spans) {
        if (s.is_match == previous && !cuts.empty())
          cuts.back().end = s.end;
        else
          cuts.push_back({s.start, s.end, false});
        previous = s.is_match;
      }
      break;
    }
    case Behavior::merged_with_previous: {
      bool previous = false;
      for (const Span& s : spans) {
        if (s.is_match && !previous && !cuts.empty())
          cuts.back().end = s.end;
        else
          cuts.push_back({s.start, s.end, false});
        previous = s.is_match;
      }
      break;
    }
    case Behavior::merged_with_next: {
      bool previous = false;
      for (auto it = spans.rbegin(); it != spans.rend(); ++it) {
        if (it->is_match && !previous && !cuts.empty())
          cuts.back().start = it->start;
        else
          cuts.push_back({it->start, it->end, false});
        previous = it->is_match;
      }
      std::reverse(cuts.begin(), cuts.end());
      break;
    }
  }
  for (const Cut& cut : cuts) {
    // Empty pieces are dropped by PreTokenizedString::split.
    if (cut.remove || cut.end <= cut.start)
      continue;
    out.push_back(
        {piece.text.substr(cut.start, cut.end - cut.start), -1, piece.at_start && cut.start == 0});
  }
}

// ---------------------------------------------------------------------------------------------
// Normalizers (normalizers/*.rs).

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  virtual void normalize(std::string& text) const = 0;
};

class UnicodeNormalizer : public Normalizer {
 public:
  explicit UnicodeNormalizer(UnicodeForm form) : form_(form) {}
  void normalize(std::string& text) const override {
    text = unicode_normalize(text, form_);
  }

 private:
  UnicodeForm form_;
};

class PrependNormalizer : public Normalizer {
 public:
  explicit PrependNormalizer(std::string prepend) : prepend_(std::move(prepend)) {}
  void normalize(std::string& text) const override {
    if (!text.empty())
      text.insert(0, prepend_);
  }

 private:
  std::string prepend_;
};

class ReplaceNormalizer : public Normalizer {
 public:
  ReplaceNormalizer(HfRegex pattern, std::string content)
      : pattern_(std::move(pattern)), content_(std::move(content)) {}
  void normalize(std::string& text) const override {
    thread_local std::vector<Span> spans;
    regex_spans(pattern_, text, spans);
    std::string out;
    out.reserve(text.size());
    for (const Span& s : spans) {
      if (s.is_match)
        out += content_;
      else
        out.append(text, s.start, s.end - s.start);
    }
    text = std::move(out);
  }

 private:
  HfRegex pattern_;
  std::string content_;
};

class SequenceNormalizer : public Normalizer {
 public:
  explicit SequenceNormalizer(std::vector<std::unique_ptr<Normalizer>> parts)
      : parts_(std::move(parts)) {}
  void normalize(std::string& text) const override {
    for (const auto& part : parts_)
      part->normalize(text);
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> parts_;
};

std::unique_ptr<Normalizer> read_normalizer(
    const Reader& reader, const json& object, const std::string& path) {
  if (object.is_null())
    return nullptr;
  const std::string type = reader.type(object, path);
  if (type == "NFC")
    return std::make_unique<UnicodeNormalizer>(UnicodeForm::nfc);
  if (type == "NFD")
    return std::make_unique<UnicodeNormalizer>(UnicodeForm::nfd);
  if (type == "NFKC")
    return std::make_unique<UnicodeNormalizer>(UnicodeForm::nfkc);
  if (type == "NFKD")
    return std::make_unique<UnicodeNormalizer>(UnicodeForm::nfkd);
  if (type == "Prepend")
    return std::make_unique<PrependNormalizer>(reader.string(object, path, "prepend"));
  if (type == "Replace") {
    return std::make_unique<ReplaceNormalizer>(
        read_pattern(reader, object, path), reader.string(object, path, "content"));
  }
  if (type == "Sequence") {
    const json& list = reader.array(object, path, "normalizers");
    std::vector<std::unique_ptr<Normalizer>> parts;
    for (size_t i = 0; i < list.size(); ++i) {
      auto part =
          read_normalizer(reader, list[i], path + ".normalizers[" + std::to_string(i) + "]");
      if (part)
        parts.push_back(std::move(part));
    }
    return std::make_unique<SequenceNormalizer>(std::move(parts));
  }
  reader.unsupported("normalizer", type);
}

// ---------------------------------------------------------------------------------------------
// Pre-tokenizers (pre_tokenizers/*.rs). Each rewrites the list of pieces; added tokens
// (id >= 0) pass through untouched.

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  // Splits or rewrites every piece with id < 0, in place.
  virtual void apply(Pieces& pieces) const = 0;
};

// Replaces each free piece by the pieces `split` makes of it.
template <typename SplitFunction>
void split_each(Pieces& pieces, SplitFunction split) {
  Pieces result;
  result.reserve(pieces.size() * 2);
  for (Piece& piece : pieces) {
    if (piece.id >= 0) {
      result.push_back(std::move(piece));
      continue;
    }
    split(piece, result);
  }
  pieces = std::move(result);
}

// The GPT-2 table of bytes to printable characters (pre_tokenizers/byte_level.rs bytes_char).
struct ByteAlphabet {
  std::string encoded[256];  // UTF-8 of the character standing for each byte
  int16_t byte_of[0x200];    // character -> byte, -1 for other characters
  ByteAlphabet() {
    std::fill(std::begin(byte_of), std::end(byte_of), static_cast<int16_t>(-1));
    uint32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
      const uint32_t c = printable ? static_cast<uint32_t>(b) : next++;
      encoded[b] = utf8(c);
      byte_of[c] = static_cast<int16_t>(b);
    }
  }
};

const ByteAlphabet& byte_alphabet() {
  static const ByteAlphabet alphabet;
  return alphabet;
}

const char* kGpt2Pattern =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

class ByteLevelPreTokenizer : public PreTokenizer {
 public:
  ByteLevelPreTokenizer(bool add_prefix_space, bool use_regex, const std::string& where)
      : add_prefix_space_(add_prefix_space) {
    if (use_regex)
      regex_ = std::make_unique<HfRegex>(kGpt2Pattern, where);
  }
  void apply(Pieces& pieces) const override {
    split_each(pieces, [&](Piece& piece, Pieces& out) {
      if (add_prefix_space_ && !piece.text.empty() && piece.text[0] != ' ')
        piece.text.insert(0, " ");
      if (regex_) {
        thread_local std::vector<Span> spans;
        regex_spans(*regex_, piece.text, spans);
        split_piece(piece, spans, Behavior::isolated, out);
      } else if (!piece.text.empty()) {
        out.push_back(std::move(piece));
      }
    });
    // Then every byte becomes its printable character.
    const ByteAlphabet& alphabet = byte_alphabet();
    for (Piece& piece : pieces) {
      if (piece.id >= 0)
        continue;
      std::string mapped;
      mapped.reserve(piece.text.size() * 2);
      for (char c : piece.text)
        mapped += alphabet.encoded[static_cast<unsigned char>(c)];
      piece.text = std::move(mapped);
    }
  }

 private:
  bool add_prefix_space_;
  std::unique_ptr<HfRegex> regex_;
};

class SplitPreTokenizer : public PreTokenizer {
 public:
  SplitPreTokenizer(HfRegex pattern, Behavior behavior, bool invert)
      : pattern_(std::move(pattern)), behavior_(behavior), invert_(invert) {}
  void apply(Pieces& pieces) const override {
    split_each(pieces, [&](Piece& piece, Pieces& out) {
      thread_local std::vector<Span> spans;
      regex_spans(pattern_, piece.text, spans);
      if (invert_) {
        for (Span& s : spans)
          s.is_match = !s.is_match;
      }
      split_piece(piece, spans, behavior_, out);
    });
  }

 private:
  HfRegex pattern_;
  Behavior behavior_;
  bool invert_;
};

// Digits, WhitespaceSplit, CharDelimiterSplit: a split on a character predicate.
class CharSplitPreTokenizer : public PreTokenizer {
 public:
  CharSplitPreTokenizer(std::function<bool(uint32_t)> predicate, Behavior behavior)
      : predicate_(std::move(predicate)), behavior_(behavior) {}
  void apply(Pieces& pieces) const override {
    split_each(pieces, [&](Piece& piece, Pieces& out) {
      thread_local std::vector<Span> spans;
      char_spans(piece.text, predicate_, spans);
      split_piece(piece, spans, behavior_, out);
    });
  }

 private:
  std::function<bool(uint32_t)> predicate_;
  Behavior behavior_;
};

enum class PrependScheme { first, never, always };

class MetaspacePreTokenizer : public PreTokenizer {
 public:
  MetaspacePreTokenizer(uint32_t replacement, PrependScheme scheme, bool split)
      : replacement_(replacement), text_(utf8(replacement)), scheme_(scheme), split_(split) {}
  void apply(Pieces& pieces) const override {
    split_each(pieces, [&](Piece& piece, Pieces& out) {
      std::string replaced;
      replaced.reserve(piece.text.size() + 8);
      for (char c : piece.text) {
        if (c == ' ')
          replaced += text_;
        else
          replaced += c;
      }
      piece.text = std::move(replaced);
      const bool starts = piece.text.compare(0, text_.size(), text_) == 0;
      if (!starts && (scheme_ == PrependScheme::always ||
                      (scheme_ == PrependScheme::first && piece.at_start))) {
        // NormalizedString::prepend does nothing to an empty string.
        if (!piece.text.empty())
          piece.text.insert(0, text_);
      }
      if (!split_) {
        if (!piece.text.empty())
          out.push_back(std::move(piece));
        return;
      }
      thread_local std::vector<Span> spans;
      const uint32_t replacement = replacement_;
      char_spans(
          piece.text, [replacement](uint32_t c) { return c == replacement; }, spans);
      split_piece(piece, spans, Behavior::merged_with_next, out);
    });
  }

 private:
  uint32_t replacement_;
  std::string text_;
  PrependScheme scheme_;
  bool split_;
};

class SequencePreTokenizer : public PreTokenizer {
 public:
  explicit SequencePreTokenizer(std::vector<std::unique_ptr<PreTokenizer>> parts)
      : parts_(std::move(parts)) {}
  void apply(Pieces& pieces) const override {
    for (const auto& part : parts_)
      part->apply(pieces);
  }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> parts_;
};

PrependScheme read_prepend_scheme(
    const Reader& reader, const json& object, const std::string& path) {
  // pre_tokenizers/metaspace.rs: prepend_scheme defaults to "always"; the legacy
  // add_prefix_space=false means "never".
  PrependScheme scheme = PrependScheme::always;
  if (reader.has(object, "prepend_scheme")) {
    const std::string name = reader.string(object, path, "prepend_scheme");
    if (name == "first")
      scheme = PrependScheme::first;
    else if (name == "never")
      scheme = PrependScheme::never;
    else if (name == "always")
      scheme = PrependScheme::always;
    else
      reader.fail(path + ".prepend_scheme", "must be \"first\", \"never\" or \"always\"");
  }
  if (reader.has(object, "add_prefix_space") &&
      !reader.boolean(object, path, "add_prefix_space", true)) {
    if (scheme != PrependScheme::never && reader.has(object, "prepend_scheme"))
      reader.fail(path + ".add_prefix_space", "does not match prepend_scheme");
    scheme = PrependScheme::never;
  }
  return scheme;
}

std::unique_ptr<PreTokenizer> read_pre_tokenizer(
    const Reader& reader, const json& object, const std::string& path) {
  if (object.is_null())
    return nullptr;
  const std::string type = reader.type(object, path);
  if (type == "ByteLevel") {
    return std::make_unique<ByteLevelPreTokenizer>(
        reader.boolean(object, path, "add_prefix_space", true),
        reader.boolean(object, path, "use_regex", true),
        "'" + reader.file + "' " + path);
  }
  if (type == "Split") {
    return std::make_unique<SplitPreTokenizer>(
        read_pattern(reader, object, path),
        read_behavior(reader, object, path),
        reader.boolean(object, path, "invert", false));
  }
  if (type == "Digits") {
    const bool individual = reader.boolean(object, path, "individual_digits", false);
    return std::make_unique<CharSplitPreTokenizer>(
        unicode_is_numeric, individual ? Behavior::isolated : Behavior::contiguous);
  }
  if (type == "WhitespaceSplit")
    return std::make_unique<CharSplitPreTokenizer>(unicode_is_white_space, Behavior::removed);
  if (type == "CharDelimiterSplit") {
    const uint32_t delimiter = read_char(reader, object, path, "delimiter");
    return std::make_unique<CharSplitPreTokenizer>(
        [delimiter](uint32_t c) { return c == delimiter; }, Behavior::removed);
  }
  if (type == "Metaspace") {
    return std::make_unique<MetaspacePreTokenizer>(
        read_char(reader, object, path, "replacement"),
        read_prepend_scheme(reader, object, path),
        reader.boolean(object, path, "split", true));
  }
  if (type == "Sequence") {
    const json& list = reader.array(object, path, "pretokenizers");
    std::vector<std::unique_ptr<PreTokenizer>> parts;
    for (size_t i = 0; i < list.size(); ++i) {
      auto part =
          read_pre_tokenizer(reader, list[i], path + ".pretokenizers[" + std::to_string(i) + "]");
      if (part)
        parts.push_back(std::move(part));
    }
    return std::make_unique<SequencePreTokenizer>(std::move(parts));
  }
  reader.unsupported("pre_tokenizer", type);
}

// ---------------------------------------------------------------------------------------------
// Decoders (decoders/*.rs): a chain over the list of token strings.

class Decoder {
 public:
  virtual ~Decoder() = default;
  virtual void decode_chain(std::vector<std::string>& tokens) const = 0;
};

// String::from_utf8_lossy: each maximal invalid subpart becomes U+FFFD.
std::string utf8_lossy(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  size_t pos = 0;
  while (pos < bytes.size()) {
    size_t length = 1;
    if (decode_utf8_at(bytes, pos, length) != kInvalidCodePoint) {
      out.append(bytes.substr(pos, length));
      pos += length;
      continue;
    }
    // The maximal subpart: a lead byte followed by as many valid continuation bytes as fit.
    const auto lead = static_cast<unsigned char>(bytes[pos]);
    size_t skip = 1;
    auto cont = [&](size_t k, unsigned char lo, unsigned char hi) {
      if (pos + k >= bytes.size())
        return false;
      const auto b = static_cast<unsigned char>(bytes[pos + k]);
      return b >= lo && b <= hi;
    };
    if (lead >= 0xC2 && lead <= 0xDF) {
      skip = 1;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      const unsigned char lo = lead == 0xE0 ? 0xA0 : 0x80;
      const unsigned char hi = lead == 0xED ? 0x9F : 0xBF;
      if (cont(1, lo, hi))
        skip = 2;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      const unsigned char lo = lead == 0xF0 ? 0x90 : 0x80;
      const unsigned char hi = lead == 0xF4 ? 0x8F : 0xBF;
      if (cont(1, lo, hi))
        skip = cont(2, 0x80, 0xBF) ? 3 : 2;
    }
    out += "\xEF\xBF\xBD";
    pos += skip;
  }
  return out;
}

class ByteLevelDecoder : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    const ByteAlphabet& alphabet = byte_alphabet();
    std::string bytes;
    for (const std::string& token : tokens) {
      // A token with a character outside the alphabet is taken as its own bytes.
      std::string mapped;
      bool all = true;
      size_t pos = 0;
      while (pos < token.size()) {
        size_t length = 1;
        const uint32_t c = decode_utf8_at(token, pos, length);
        if (c >= 0x200 || alphabet.byte_of[c] < 0) {
          all = false;
          break;
        }
        mapped += static_cast<char>(alphabet.byte_of[c]);
        pos += length;
      }
      bytes += all ? mapped : token;
    }
    tokens.assign(1, utf8_lossy(bytes));
  }
};

class ByteFallbackDecoder : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::vector<std::string> out;
    std::string pending;
    auto flush = [&] {
      if (pending.empty())
        return;
      if (is_valid_utf8(pending)) {
        out.push_back(pending);
      } else {
        for (size_t i = 0; i < pending.size(); ++i)
          out.emplace_back("\xEF\xBF\xBD");
      }
      pending.clear();
    };
    for (std::string& token : tokens) {
      int byte = -1;
      if (token.size() == 6 && token.compare(0, 3, "<0x") == 0 && token[5] == '>')
        byte = parse_hex(token[3], token[4]);
      if (byte >= 0) {
        pending += static_cast<char>(byte);
        continue;
      }
      flush();
      out.push_back(std::move(token));
    }
    flush();
    tokens = std::move(out);
  }

 private:
  static int hex(char c) {
    if (c >= '0' && c <= '9')
      return c - '0';
    if (c >= 'a' && c <= 'f')
      return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
      return c - 'A' + 10;
    return -1;
  }
  static int parse_hex(char a, char b) {
    const int high = hex(a);
    const int low = hex(b);
    return high < 0 || low < 0 ? -1 : high * 16 + low;
  }
};

class MetaspaceDecoder : public Decoder {
 public:
  MetaspaceDecoder(uint32_t replacement, PrependScheme scheme)
      : replacement_(utf8(replacement)), scheme_(scheme) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i) {
      // Every replacement character of the first token is dropped (not only a leading one), as
      // the Rust decoder does.
      const bool drop = i == 0 && scheme_ != PrependScheme::never;
      std::string out;
      size_t pos = 0;
      const std::string& token = tokens[i];
      while (pos < token.size()) {
        if (token.compare(pos, replacement_.size(), replacement_) == 0) {
          if (!drop)
            out += ' ';
          pos += replacement_.size();
        } else {
          out += token[pos++];
        }
      }
      tokens[i] = std::move(out);
    }
  }

 private:
  std::string replacement_;
  PrependScheme scheme_;
};

class FuseDecoder : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::string joined;
    for (const std::string& token : tokens)
      joined += token;
    tokens.assign(1, std::move(joined));
  }
};

class StripDecoder : public Decoder {
 public:
  StripDecoder(uint32_t content, size_t start, size_t stop)
      : content_(content), start_(start), stop_(stop) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (std::string& token : tokens) {
      std::vector<std::pair<size_t, uint32_t>> chars;  // (byte offset, code point)
      size_t pos = 0;
      while (pos < token.size()) {
        size_t length = 1;
        chars.emplace_back(pos, decode_utf8_at(token, pos, length));
        pos += length;
      }
      size_t start_cut = 0;
      for (size_t i = 0; i < std::min(start_, chars.size()); ++i) {
        if (chars[i].second != content_)
          break;
        start_cut = i + 1;
      }
      size_t stop_cut = chars.size();
      for (size_t i = 0; i < stop_ && i < chars.size(); ++i) {
        const size_t index = chars.size() - i - 1;
        if (chars[index].second != content_)
          break;
        stop_cut = index;
      }
      if (stop_cut <= start_cut) {
        token.clear();
        continue;
      }
      const size_t begin = start_cut < chars.size() ? chars[start_cut].first : token.size();
      const size_t end = stop_cut < chars.size() ? chars[stop_cut].first : token.size();
      token = token.substr(begin, end - begin);
    }
  }

 private:
  uint32_t content_;
  size_t start_, stop_;
};

class ReplaceDecoder : public Decoder {
 public:
  ReplaceDecoder(HfRegex pattern, std::string content)
      : normalizer_(std::move(pattern), std::move(content)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (std::string& token : tokens)
      normalizer_.normalize(token);
  }

 private:
  ReplaceNormalizer normalizer_;
};

class SequenceDecoder : public Decoder {
 public:
  explicit SequenceDecoder(std::vector<std::unique_ptr<Decoder>> parts)
      : parts_(std::move(parts)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (const auto& part : parts_)
      part->decode_chain(tokens);
  }

 private:
  std::vector<std::unique_ptr<Decoder>> parts_;
};

std::unique_ptr<Decoder> read_decoder(
    const Reader& reader, const json& object, const std::string& path) {
  if (object.is_null())
    return nullptr;
  const std::string type = reader.type(object, path);
  if (type == "ByteLevel")
    return std::make_unique<ByteLevelDecoder>();
  if (type == "ByteFallback")
    return std::make_unique<ByteFallbackDecoder>();
  if (type == "Fuse")
    return std::make_unique<FuseDecoder>();
  if (type == "Metaspace") {
    return std::make_unique<MetaspaceDecoder>(
        read_char(reader, object, path, "replacement"), read_prepend_scheme(reader, object, path));
  }
  if (type == "Strip") {
    const int64_t start = reader.integer(object, path, "start");
    const int64_t stop = reader.integer(object, path, "stop");
    if (start < 0 || stop < 0)
      reader.fail(path, "start and stop must not be negative");
    return std::make_unique<StripDecoder>(
        read_char(reader, object, path, "content"),
        static_cast<size_t>(start),
        static_cast<size_t>(stop));
  }
  if (type == "Replace") {
    return std::make_unique<ReplaceDecoder>(
        read_pattern(reader, object, path), reader.string(object, path, "content"));
  }
  if (type == "Sequence") {
    const json& list = reader.array(object, path, "decoders");
    std::vector<std::unique_ptr<Decoder>> parts;
    for (size_t i = 0; i < list.size(); ++i) {
      auto part = read_decoder(reader, list[i], path + ".decoders[" + std::to_string(i) + "]");
      if (part)
        parts.push_back(std::move(part));
    }
    return std::make_unique<SequenceDecoder>(std::move(parts));
  }
  reader.unsupported("decoder", type);
}

// ---------------------------------------------------------------------------------------------
// UTF-8 helpers for the added vocabulary's regexes (\w, \s of the regex crate).

uint32_t last_char(std::string_view text) {
  size_t start = text.size() - 1;
  while (start > 0 && is_utf8_continuation(static_cast<unsigned char>(text[start])))
    --start;
  size_t length = 1;
  return decode_utf8_at(text, start, length);
}

}  // namespace

// -----------------------------------------------------------------------------------------------

struct HfJsonTokenizer::Impl {
  std::string name;
  std::unique_ptr<BpeModel> model;
  std::unique_ptr<Normalizer> normalizer;
  std::unique_ptr<PreTokenizer> pre_tokenizer;
  std::unique_ptr<Decoder> decoder;
  std::vector<int32_t> prefix, suffix;  // the post-processor's ids around a single sequence

  std::vector<HfJsonAddedToken> added;                          // sorted by id
  std::unordered_map<std::string, int32_t> added_ids;           // content -> id
  std::unordered_map<int32_t, size_t> added_by_id;              // id -> index in `added`
  std::unordered_map<int32_t, std::string> normalized_content;  // when it differs
  std::unordered_set<std::string> special_contents;
  // The two matchers: for each first byte, (pattern, id) longest first.
  struct Matcher {
    std::vector<std::vector<std::pair<std::string, int32_t>>> by_first_byte;
    bool empty = true;
  };
  Matcher raw_matcher, normalized_matcher;
  int32_t vocab_size = 0;

  void build_matcher(Matcher& matcher, bool normalized_tokens);
  // AddedVocabulary::find_matches + split_with_indices on one piece.
  void split_added(const Piece& piece, const Matcher& matcher, Pieces& out) const;
};

void HfJsonTokenizer::Impl::build_matcher(Matcher& matcher, bool normalized_tokens) {
  matcher.by_first_byte.assign(256, {});
  matcher.empty = true;
  for (const HfJsonAddedToken& token : added) {
    if (token.normalized != normalized_tokens)
      continue;
    std::string pattern = token.content;
    if (normalized_tokens) {
      auto found = normalized_content.find(token.id);
      if (found != normalized_content.end())
        pattern = found->second;
    }
    if (pattern.empty())
      continue;
    matcher.by_first_byte[static_cast<unsigned char>(pattern[0])].emplace_back(pattern, token.id);
    matcher.empty = false;
  }
  for (auto& list : matcher.by_first_byte) {
    std::stable_sort(list.begin(), list.end(), [](const auto& a, const auto& b) {
      return a.first.size() > b.first.size();
    });
  }
}

void HfJsonTokenizer::Impl::split_added(
    const Piece& piece, const Matcher& matcher, Pieces& out) const {
  const std::string& text = piece.text;
  if (matcher.empty || text.empty()) {
    if (!text.empty())
      out.push_back(piece);
    return;
  }
  size_t start_offset = 0;
  auto emit = [&](size_t start, size_t end, int32_t id) {
    if (end <= start)
      return;  // empty pieces are dropped
    out.push_back({text.substr(start, end - start), id, piece.at_start && start == 0});
  };
  size_t pos = 0;
  while (pos < text.size()) {
    // Leftmost-longest: the first position where a pattern starts, the longest one there.
    const auto& candidates = matcher.by_first_byte[static_cast<unsigned char>(text[pos])];
    const std::pair<std::string, int32_t>* hit = nullptr;
    for (const auto& candidate : candidates) {
      if (text.compare(pos, candidate.first.size(), candidate.first) == 0) {
        hit = &candidate;
        break;
      }
    }
    if (hit == nullptr) {
      ++pos;
      continue;
    }
    size_t start = pos;
    size_t stop = pos + hit->first.size();
    pos = stop;  // the matcher resumes after the match, whatever lstrip/rstrip take
    const HfJsonAddedToken& token = added[added_by_id.at(hit->second)];
    if (token.single_word) {
      const bool start_space =
          start == 0 || !unicode_is_word(last_char(std::string_view(text).substr(0, start)));
      size_t length = 1;
      const bool stop_space =
          stop == text.size() || !unicode_is_word(decode_utf8_at(text, stop, length));
      if (!start_space || !stop_space)
        continue;
    }
    if (token.lstrip) {
      size_t new_start = start;
      while (new_start > 0) {
        std::string_view before = std::string_view(text).substr(0, new_start);
        size_t char_start = new_start - 1;
        while (char_start > 0 && is_utf8_continuation(static_cast<unsigned char>(text[char_start])))
          --char_start;
        if (!unicode_is_white_space(last_char(before)))
          break;
        new_start = char_start;
      }
      start = std::max(new_start, start_offset);
    }
    if (token.rstrip) {
      while (stop < text.size()) {
        size_t length = 1;
        if (!unicode_is_white_space(decode_utf8_at(text, stop, length)))
          break;
        stop += length;
      }
    }
    if (start_offset < start)
      emit(start_offset, start, -1);
    emit(start, stop, token.id);
    start_offset = stop;
  }
  if (start_offset < text.size())
    emit(start_offset, text.size(), -1);
}

HfJsonTokenizer::HfJsonTokenizer(std::string_view json_text, const std::string& name)
    : impl_(std::make_unique<Impl>()) {
  impl_->name = name;
  const json root = parse_json_file_text(json_text, name);
  const Reader reader{name};
  if (!root.is_object())
    reader.fail("the top level", "must be an object");
  if (reader.has(root, "version") && reader.string(root, "", "version") != "1.0")
    reader.fail("version", "is '" + reader.string(root, "", "version") + "'; dpo reads 1.0");

  // The model.
  const json& model = reader.member(root, "", "model");
  std::string model_type;
  if (reader.has(model, "type"))
    model_type = reader.string(model, "model", "type");
  else if (model.is_object() && model.contains("merges"))
    model_type = "BPE";  // files older than the "type" key
  else
    reader.fail("model.type", "is missing");
  if (model_type != "BPE")
    reader.unsupported("model", model_type);
  if (reader.has(model, "dropout")) {
    const json& dropout = model.at("dropout");
    if (!dropout.is_number() || dropout.get<double>() != 0.0)
      reader.unsupported("BPE option", "dropout " + dropout.dump());
  }
  BpeOptions options;
  options.byte_fallback = reader.boolean(model, "model", "byte_fallback", false);
  options.ignore_merges = reader.boolean(model, "model", "ignore_merges", false);
  options.fuse_unk = reader.boolean(model, "model", "fuse_unk", false);
  options.unk_token = reader.optional_string(model, "model", "unk_token");
  options.continuing_subword_prefix =
      reader.optional_string(model, "model", "continuing_subword_prefix");
  options.end_of_word_suffix = reader.optional_string(model, "model", "end_of_word_suffix");
  const json& vocab_json = reader.member(model, "model", "vocab");
  if (!vocab_json.is_object())
    reader.fail("model.vocab", "must be an object of token: id");
  std::vector<std::pair<std::string, int32_t>> vocab;
  vocab.reserve(vocab_json.size());
  for (auto it = vocab_json.begin(); it != vocab_json.end(); ++it) {
    if (!it.value().is_number_integer())
      reader.fail("model.vocab['" + it.key() + "']", "must be an integer id");
    const int64_t id = it.value().get<int64_t>();
    if (id < 0 || id > INT32_MAX - 1) {
      reader.fail("model.vocab['" + it.key() + "']", "is " + std::to_string(id) + ", out of range");
    }
    vocab.emplace_back(it.key(), static_cast<int32_t>(id));
  }
  const json& merges_json = reader.array(model, "model", "merges");
  std::vector<std::pair<std::string, std::string>> merges;
  merges.reserve(merges_json.size());
  for (size_t i = 0; i < merges_json.size(); ++i) {
    const json& merge = merges_json[i];
    const std::string path = "model.merges[" + std::to_string(i) + "]";
    if (merge.is_string()) {
      // models/bpe/model.rs convert_merges_to_hashmap: "#version" lines are skipped and
      // every other line is exactly two tokens separated by one space.
      const std::string line = merge.get<std::string>();
      if (line.rfind("#version", 0) == 0)
        continue;
      const size_t space = line.find(' ');
      if (space == std::string::npos || line.find(' ', space + 1) != std::string::npos)
        reader.fail(path, "'" + line + "' is not two tokens separated by one space");
      merges.emplace_back(line.substr(0, space), line.substr(space + 1));
    } else if (
        merge.is_array() && merge.size() == 2 && merge[0].is_string() && merge[1].is_string()) {
      merges.emplace_back(merge[0].get<std::string>(), merge[1].get<std::string>());
    } else {
      reader.fail(path, "must be \"a b\" or [\"a\", \"b\"]");
    }
  }
  impl_->model = std::make_unique<BpeModel>(std::move(vocab), merges, options, "'" + name + "'");

  impl_->normalizer = read_normalizer(reader, root.value("normalizer", json()), "normalizer");
  impl_->pre_tokenizer =
      read_pre_tokenizer(reader, root.value("pre_tokenizer", json()), "pre_tokenizer");
  impl_->decoder = read_decoder(reader, root.value("decoder", json()), "decoder");

  // Added tokens: ids as the Rust AddedVocabulary::add_tokens gives them (the model's id of the
  // content, else the next id past the vocabulary); the file's "id" must agree.
  int32_t next_id = static_cast<int32_t>(impl_->model->size());
  if (reader.has(root, "added_tokens")) {
    const json& list = reader.array(root, "", "added_tokens");
    for (size_t i = 0; i < list.size(); ++i) {
      const std::string path = "added_tokens[" + std::to_string(i) + "]";
      HfJsonAddedToken token;
      const int64_t id = reader.integer(list[i], path, "id");
      token.content = reader.string(list[i], path, "content");
      token.special = reader.boolean(list[i], path, "special", false);
      token.lstrip = reader.boolean(list[i], path, "lstrip", false);
      token.rstrip = reader.boolean(list[i], path, "rstrip", false);
      token.single_word = reader.boolean(list[i], path, "single_word", false);
      token.normalized = reader.boolean(list[i], path, "normalized", !token.special);
      if (token.content.empty())
        reader.fail(path + ".content", "is empty");
      if (impl_->added_ids.count(token.content) != 0)
        reader.fail(path, "repeats the token '" + token.content + "'");
      int32_t expected = impl_->model->token_to_id(token.content);
      if (expected < 0)
        expected = next_id++;
      if (id != expected) {
        reader.fail(
            path + ".id",
            "is " + std::to_string(id) + " but the tokenizers library gives '" + token.content +
                "' the id " + std::to_string(expected) +
                (impl_->model->token_to_id(token.content) >= 0
                     ? " (its id in model.vocab)"
                     : " (the next id past the vocabulary and the added tokens before it)"));
      }
      token.id = expected;
      if (impl_->added_by_id.count(token.id) != 0)
        reader.fail(path + ".id", std::to_string(token.id) + " belongs to two added tokens");
      impl_->added_ids[token.content] = token.id;
      impl_->added_by_id[token.id] = impl_->added.size();
      if (token.special)
        impl_->special_contents.insert(token.content);
      impl_->added.push_back(std::move(token));
    }
  }
  std::sort(impl_->added.begin(), impl_->added.end(), [](const auto& a, const auto& b) {
    return a.id < b.id;
  });
  impl_->added_by_id.clear();
  impl_->vocab_size = impl_->model->max_id() + 1;
  for (size_t i = 0; i < impl_->added.size(); ++i) {
    const HfJsonAddedToken& token = impl_->added[i];
    impl_->added_by_id[token.id] = i;
    impl_->vocab_size = std::max(impl_->vocab_size, token.id + 1);
    if (token.normalized && impl_->normalizer) {
      std::string normalized = token.content;
      impl_->normalizer->normalize(normalized);
      if (normalized != token.content)
        impl_->normalized_content[token.id] = normalized;
    }
  }
  impl_->build_matcher(impl_->raw_matcher, false);
  impl_->build_matcher(impl_->normalized_matcher, true);

  // The post-processor, reduced to the ids it puts around a single sequence.
  std::function<void(const json&, const std::string&)> read_post;
  auto check_id = [&](int64_t id, const std::string& path) {
    if (id < 0 || id >= impl_->vocab_size) {
      reader.fail(
          path,
          "names id " + std::to_string(id) + ", outside the vocabulary (" +
              std::to_string(impl_->vocab_size) + " ids)");
    }
    return static_cast<int32_t>(id);
  };
  read_post = [&](const json& object, const std::string& path) {
    if (object.is_null())
      return;
    const std::string type = reader.type(object, path);
    if (type == "ByteLevel")
      return;  // offsets only
    if (type == "TemplateProcessing") {
      const json& single = reader.array(object, path, "single");
      const json& specials = reader.member(object, path, "special_tokens");
      std::vector<int32_t> before, after;
      bool seen_sequence = false;
      for (size_t i = 0; i < single.size(); ++i) {
        const std::string item_path = path + ".single[" + std::to_string(i) + "]";
        const json& item = single[i];
        if (item.is_object() && item.contains("Sequence")) {
          const std::string which =
              reader.string(item.at("Sequence"), item_path + ".Sequence", "id");
          if (which != "A" || seen_sequence)
            reader.fail(item_path, "must be the one sequence A of a single input");
          seen_sequence = true;
        } else if (item.is_object() && item.contains("SpecialToken")) {
          const std::string name_ =
              reader.string(item.at("SpecialToken"), item_path + ".SpecialToken", "id");
          if (!specials.is_object() || !specials.contains(name_))
            reader.fail(item_path, "names '" + name_ + "', missing from special_tokens");
          const std::string special_path = path + ".special_tokens['" + name_ + "']";
          const json& ids = reader.array(specials.at(name_), special_path, "ids");
          for (size_t k = 0; k < ids.size(); ++k) {
            if (!ids[k].is_number_integer())
              reader.fail(special_path + ".ids", "must hold integers");
            (seen_sequence ? after : before)
                .push_back(check_id(ids[k].get<int64_t>(), special_path + ".ids"));
          }
        } else {
          reader.fail(item_path, "must be {\"SpecialToken\": ...} or {\"Sequence\": ...}");
        }
      }
      impl_->prefix.insert(impl_->prefix.begin(), before.begin(), before.end());
      impl_->suffix.insert(impl_->suffix.end(), after.begin(), after.end());
      return;
    }
    if (type == "RobertaProcessing" || type == "BertProcessing") {
      auto pair_id = [&](const char* key) {
        const json& pair = reader.member(object, path, key);
        if (!pair.is_array() || pair.size() != 2 || !pair[1].is_number_integer())
          reader.fail(path + "." + key, "must be [token, id]");
        return check_id(pair[1].get<int64_t>(), path + "." + key);
      };
      const int32_t cls = pair_id("cls");
      const int32_t sep = pair_id("sep");
      impl_->prefix.insert(impl_->prefix.begin(), cls);
      impl_->suffix.push_back(sep);
      return;
    }
    if (type == "Sequence") {
      const json& list = reader.array(object, path, "processors");
      for (size_t i = 0; i < list.size(); ++i)
        read_post(list[i], path + ".processors[" + std::to_string(i) + "]");
      return;
    }
    reader.unsupported("post_processor", type);
  };
  read_post(root.value("post_processor", json()), "post_processor");
}

void HfJsonTokenizer::use_transformers_llama_pipeline(bool add_prefix_space, bool legacy) {
  // transformers/models/llama/tokenization_llama.py (transformers 5) and
  // tokenization_utils_base.py _get_prepend_scheme.
  const PrependScheme scheme = !add_prefix_space ? PrependScheme::never
                               : !legacy         ? PrependScheme::first
                                                 : PrependScheme::always;
  const uint32_t metaspace = 0x2581;
  impl_->normalizer.reset();
  impl_->pre_tokenizer = std::make_unique<MetaspacePreTokenizer>(metaspace, scheme, false);
  impl_->model->set_unknown_handling(true, true, std::nullopt, "'" + impl_->name + "'");
  std::vector<std::unique_ptr<Decoder>> decoders;
  decoders.push_back(
      std::make_unique<ReplaceDecoder>(HfRegex::literal(utf8(metaspace), impl_->name), " "));
  decoders.push_back(std::make_unique<ByteFallbackDecoder>());
  decoders.push_back(std::make_unique<FuseDecoder>());
  if (add_prefix_space)
    decoders.push_back(std::make_unique<StripDecoder>(' ', 1, 0));
  impl_->decoder = std::make_unique<SequenceDecoder>(std::move(decoders));
  // Without a normalizer, normalized added tokens are matched as written.
  impl_->normalized_content.clear();
  impl_->build_matcher(impl_->normalized_matcher, true);
}

std::unique_ptr<HfJsonTokenizer> HfJsonTokenizer::from_file(const std::string& path) {
  const std::string text = read_file(path, "tokenizer.json");
  return std::make_unique<HfJsonTokenizer>(text, path);
}

HfJsonTokenizer::~HfJsonTokenizer() = default;

std::vector<Piece> HfJsonTokenizer::split_added_tokens(std::string_view text) const {
  const size_t bad = first_invalid_utf8(text);
  if (bad != std::string_view::npos) {
    throw DataError(
        "text given to '" + impl_->name + "' is not valid UTF-8 (byte " + std::to_string(bad) + ")",
        "tokenizer.json tokenizers encode Unicode text only");
  }
  // AddedVocabulary::extract_and_normalize.
  Pieces pieces;
  impl_->split_added({std::string(text), -1, true}, impl_->raw_matcher, pieces);
  Pieces result;
  result.reserve(pieces.size());
  for (Piece& piece : pieces) {
    if (piece.id >= 0) {
      result.push_back(std::move(piece));
      continue;
    }
    if (impl_->normalizer)
      impl_->normalizer->normalize(piece.text);
    impl_->split_added(piece, impl_->normalized_matcher, result);
  }
  return result;
}

void HfJsonTokenizer::encode_piece(const Piece& piece, std::vector<int32_t>& ids) const {
  if (piece.id >= 0) {
    ids.push_back(piece.id);
    return;
  }
  if (!impl_->pre_tokenizer) {
    impl_->model->tokenize(piece.text, ids);
    return;
  }
  Pieces words{piece};
  impl_->pre_tokenizer->apply(words);
  for (const Piece& word : words) {
    if (word.id >= 0)
      ids.push_back(word.id);
    else
      impl_->model->tokenize(word.text, ids);
  }
}

std::vector<std::string> HfJsonTokenizer::pre_tokenize(std::string_view text) const {
  Pieces pieces = split_added_tokens(text);
  if (impl_->pre_tokenizer)
    impl_->pre_tokenizer->apply(pieces);
  std::vector<std::string> words;
  words.reserve(pieces.size());
  for (Piece& piece : pieces)
    words.push_back(std::move(piece.text));
  return words;
}

void HfJsonTokenizer::encode(
    std::string_view text, bool add_special_tokens, std::vector<int32_t>& ids) const {
  if (add_special_tokens)
    ids.insert(ids.end(), impl_->prefix.begin(), impl_->prefix.end());
  for (const Piece& piece : split_added_tokens(text))
    encode_piece(piece, ids);
  if (add_special_tokens)
    ids.insert(ids.end(), impl_->suffix.begin(), impl_->suffix.end());
}

std::vector<int32_t> HfJsonTokenizer::encode(std::string_view text, bool add_special_tokens) const {
  std::vector<int32_t> ids;
  encode(text, add_special_tokens, ids);
  return ids;
}

const std::vector<int32_t>& HfJsonTokenizer::special_prefix() const {
  return impl_->prefix;
}

const std::vector<int32_t>& HfJsonTokenizer::special_suffix() const {
  return impl_->suffix;
}

std::string HfJsonTokenizer::decode(
    const std::vector<int32_t>& ids, bool skip_special_tokens) const {
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (int32_t id : ids) {
    std::string token;
    auto added = impl_->added_by_id.find(id);
    if (added != impl_->added_by_id.end()) {
      auto normalized = impl_->normalized_content.find(id);
      token = normalized != impl_->normalized_content.end() ? normalized->second
                                                            : impl_->added[added->second].content;
    } else if (const std::string* model_token = impl_->model->id_to_token(id)) {
      token = *model_token;
    } else {
      continue;  // unknown ids are dropped, as in the Rust library
    }
    if (skip_special_tokens && impl_->special_contents.count(token) != 0)
      continue;
    tokens.push_back(std::move(token));
  }
  if (!impl_->decoder) {
    std::string joined;
    for (size_t i = 0; i < tokens.size(); ++i) {
      if (i > 0)
        joined += ' ';
      joined += tokens[i];
    }
    return joined;
  }
  impl_->decoder->decode_chain(tokens);
  std::string joined;
  for (const std::string& token : tokens)
    joined += token;
  return joined;
}

int32_t HfJsonTokenizer::token_to_id(std::string_view token) const {
  auto found = impl_->added_ids.find(std::string(token));
  if (found != impl_->added_ids.end())
    return found->second;
  return impl_->model->token_to_id(token);
}

std::optional<std::string> HfJsonTokenizer::id_to_token(int32_t id) const {
  auto added = impl_->added_by_id.find(id);
  if (added != impl_->added_by_id.end())
    return impl_->added[added->second].content;
  if (const std::string* token = impl_->model->id_to_token(id))
    return *token;
  return std::nullopt;
}

int32_t HfJsonTokenizer::vocab_size() const {
  return impl_->vocab_size;
}

const std::vector<HfJsonAddedToken>& HfJsonTokenizer::added_tokens() const {
  return impl_->added;
}

const std::string& HfJsonTokenizer::name() const {
  return impl_->name;
}

}  // namespace dpo
