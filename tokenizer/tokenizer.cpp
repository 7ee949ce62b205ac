// Tokenizer: special-token splitting + sentencepiece, as transformers' Llama-style
// sentencepiece tokenizers (see tokenizer.h and docs/tokenization.md).
#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <sstream>

#include "core/error.h"
#include "core/file_io.h"
#include "core/hash.h"
#include "core/text.h"
#include "core/utf8.h"
#include "tokenizer/hf_json_tokenizer.h"
#include "tokenizer/sentencepiece_model.h"

namespace dpo {
namespace {

constexpr std::string_view kUnderline = "\xE2\x96\x81";  // "▁", sentencepiece's space

// transformers strips added tokens' neighbours with Python's str.isspace() (core/utf8.h); a
// byte that is not well-formed UTF-8 counts as one non-space unit.
std::string lstrip_python(const std::string& text) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t length = 1;
    if (!is_python_space(decode_utf8_at(text, pos, length)))
      break;
    pos += length;
  }
  return text.substr(pos);
}

std::string rstrip_python(const std::string& text) {
  size_t end = text.size();
  while (end > 0) {
    size_t start = end - 1;  // back up to the lead byte of the last code point
    while (start > 0 && is_utf8_continuation(static_cast<unsigned char>(text[start])))
      --start;
    size_t length = 1;
    uint32_t c = decode_utf8_at(text, start, length);
    if (start + length != end || !is_python_space(c))
      break;
    end = start;
  }
  return text.substr(0, end);
}

std::string replace_all(std::string_view text, std::string_view from, std::string_view to) {
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  while (true) {
    size_t hit = text.find(from, pos);
    if (hit == std::string_view::npos)
      break;
    out.append(text.substr(pos, hit - pos));
    out.append(to);
    pos = hit + from.size();
  }
  out.append(text.substr(pos));
  return out;
}

bool starts_with(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && text.compare(0, prefix.size(), prefix) == 0;
}

}  // namespace

TokenizerSpec TokenizerSpec::from(const HfTokenizerConfig& config) {
  TokenizerSpec spec;
  spec.has_config = true;
  spec.added_tokens = config.added_tokens;
  auto role = [&](const std::optional<HfAddedToken>& token, std::string& out) {
    if (!token)
      return;
    out = token->content;
    // A role token missing from added_tokens_decoder is still matched in text.
    spec.added_tokens.push_back(*token);
  };
  role(config.bos_token, spec.bos_token);
  role(config.eos_token, spec.eos_token);
  role(config.unk_token, spec.unk_token);
  role(config.pad_token, spec.pad_token);
  for (const HfAddedToken& token : config.additional_special_tokens) {
    spec.additional_special_tokens.push_back(token.content);
    spec.added_tokens.push_back(token);
  }
  spec.legacy = config.legacy;
  spec.legacy_given = config.legacy_given;
  spec.tokenizer_class = config.tokenizer_class;
  spec.add_prefix_space = config.add_prefix_space;
  spec.add_bos_token = config.add_bos_token.value_or(true);
  spec.add_eos_token = config.add_eos_token.value_or(false);
  spec.add_bos_token_given = config.add_bos_token.has_value();
  spec.add_eos_token_given = config.add_eos_token.has_value();
  return spec;
}

const char* tokenizer_format_name(TokenizerFormat format) {
  switch (format) {
    case TokenizerFormat::automatic:
      return "automatic";
    case TokenizerFormat::json:
      return "json";
    case TokenizerFormat::sentencepiece:
      return "sentencepiece";
  }
  return "automatic";
}

TokenizerFormat parse_tokenizer_format(const std::string& name) {
  for (TokenizerFormat format :
       {TokenizerFormat::automatic, TokenizerFormat::json, TokenizerFormat::sentencepiece}) {
    if (name == tokenizer_format_name(format))
      return format;
  }
  throw UsageError(
      "unknown tokenizer format '" + name + "'",
      "use automatic (tokenizer.json when present), json or sentencepiece");
}

const char* json_pipeline_name(JsonPipeline pipeline) {
  return pipeline == JsonPipeline::transformers ? "transformers" : "file";
}

JsonPipeline parse_json_pipeline(const std::string& name) {
  if (name == "file")
    return JsonPipeline::file;
  if (name == "transformers")
    return JsonPipeline::transformers;
  throw UsageError(
      "unknown tokenizer.json pipeline '" + name + "'",
      "use file (as the tokenizers library runs the file) or transformers (as transformers' "
      "AutoTokenizer loads the folder)");
}

Tokenizer::Tokenizer(const std::string& name, std::string model_bytes, TokenizerSpec spec)
    : name_(name), model_bytes_(std::move(model_bytes)), spec_(std::move(spec)) {
  model_info_ = read_sentencepiece_model_info(model_bytes_, name_);
  if (spec_.legacy) {
    sp_ = std::make_unique<SentencePieceModel>(name_, model_bytes_);
  } else {
    // transformers' LlamaTokenizer(legacy=False) switches the dummy prefix off in the model
    // and writes "▁" itself, only at the start of the text.
    sp_ = std::make_unique<SentencePieceModel>(
        name_, set_sentencepiece_add_dummy_prefix(model_bytes_, false, name_));
  }
  build_table();
}

Tokenizer::Tokenizer(
    const std::string& name,
    const std::string& json_bytes,
    TokenizerSpec spec,
    JsonPipeline pipeline)
    : name_(name), spec_(std::move(spec)) {
  json_ = std::make_unique<HfJsonTokenizer>(json_bytes, name_);
  const bool llama_class =
      spec_.tokenizer_class == "LlamaTokenizer" || spec_.tokenizer_class == "LlamaTokenizerFast";
  const bool rebuilt = pipeline == JsonPipeline::transformers && llama_class;
  if (rebuilt) {
    // transformers 5's LlamaTokenizer: `legacy` absent means false there.
    json_->use_transformers_llama_pipeline(
        spec_.add_prefix_space, spec_.legacy_given ? spec_.legacy : false);
  }
  build_json_table();
  hash_table(
      rebuilt ? "dpo-tokenizer-json-transformers-llama/1\n" : "dpo-tokenizer-json/1\n", json_bytes);
}

Tokenizer::~Tokenizer() = default;
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;

Tokenizer Tokenizer::from_model_file(const std::string& path) {
  return Tokenizer(path, read_file(path, "tokenizer model"));
}

Tokenizer Tokenizer::from_model_file(const std::string& path, const HfTokenizerConfig& config) {
  return Tokenizer(path, read_file(path, "tokenizer model"), TokenizerSpec::from(config));
}

Tokenizer Tokenizer::from_tokenizer_json(const std::string& path) {
  return Tokenizer(path, read_file(path, "tokenizer.json"), TokenizerSpec(), JsonPipeline::file);
}

Tokenizer Tokenizer::from_tokenizer_json(
    const std::string& path, const HfTokenizerConfig& config, JsonPipeline pipeline) {
  return Tokenizer(path, read_file(path, "tokenizer.json"), TokenizerSpec::from(config), pipeline);
}

Tokenizer Tokenizer::from_model_folder(
    const std::string& folder, TokenizerFormat format, JsonPipeline pipeline) {
  HfTokenizerConfig config = read_hf_tokenizer_config(folder);
  const std::string json_path = folder + "/tokenizer.json";
  const bool has_json = is_regular_file(json_path);
  if (format == TokenizerFormat::json || (format == TokenizerFormat::automatic && has_json)) {
    if (!has_json) {
      throw IoError(
          "'" + printable(folder) + "' has no tokenizer.json",
          is_regular_file(folder + "/tokenizer.model")
              ? "it has tokenizer.model: use the tokenizer format 'automatic' or 'sentencepiece'"
              : "pass the folder of a Hugging Face model");
    }
    return from_tokenizer_json(json_path, config, pipeline);
  }
  if (format == TokenizerFormat::automatic && !is_regular_file(folder + "/tokenizer.model")) {
    throw IoError(
        "'" + printable(folder) + "' has neither tokenizer.json nor tokenizer.model",
        "pass the folder of a Hugging Face model (dpo reads its tokenizer.json, the fast "
        "tokenizer, or its sentencepiece tokenizer.model)");
  }
  return from_model_file(find_tokenizer_model(folder), config);
}

int32_t Tokenizer::sentencepiece_vocab_size() const {
  return json_ ? vocab_size_ : sp_->vocab_size();
}

void Tokenizer::build_table() {
  const int32_t sp_size = sp_->vocab_size();
  int32_t next_id = sp_size;
  for (const HfAddedToken& token : spec_.added_tokens) {
    if (token.id >= next_id)
      next_id = token.id + 1;
  }
  auto add = [&](const HfAddedToken& token) -> int32_t {
    if (token.content.empty()) {
      throw ConfigError(
          "'" + name_ + "': an added token has empty content",
          "remove the entry from added_tokens_decoder");
    }
    auto found = by_content_.find(token.content);
    if (found != by_content_.end()) {
      SpecialToken& existing = tokens_[found->second];
      if (token.id >= 0 && token.id != existing.id) {
        throw ConfigError(
            "'" + name_ + "': token '" + token.content + "' has two ids, " +
                std::to_string(existing.id) + " and " + std::to_string(token.id),
            "fix added_tokens_decoder in tokenizer_config.json");
      }
      existing.special = existing.special || token.special;
      return existing.id;
    }
    SpecialToken entry;
    entry.id = token.id;
    if (entry.id < 0)
      entry.id = sp_->piece_to_id(token.content);
    if (entry.id < 0)
      entry.id = next_id++;  // new token past the vocabulary, as transformers
    if (by_id_.count(entry.id) != 0) {
      throw ConfigError(
          "'" + name_ + "': id " + std::to_string(entry.id) + " belongs to two tokens, '" +
              tokens_[by_id_[entry.id]].content + "' and '" + token.content + "'",
          "fix added_tokens_decoder in tokenizer_config.json");
    }
    entry.content = token.content;
    entry.special = token.special;
    entry.lstrip = token.lstrip;
    entry.rstrip = token.rstrip;
    entry.single_word = token.single_word;
    by_content_[entry.content] = tokens_.size();
    by_id_[entry.id] = tokens_.size();
    tokens_.push_back(std::move(entry));
    return tokens_.back().id;
  };

  if (spec_.has_config) {
    for (const HfAddedToken& token : spec_.added_tokens)
      add(token);
  } else {
    // No config: the model's control pieces (<s>, </s>, [INST], ...) and its unknown piece are
    // what a chat template writes as special tokens.
    for (int32_t id = 0; id < sp_size; ++id) {
      if (!sp_->is_control(id) && !sp_->is_unknown(id))
        continue;
      HfAddedToken token;
      token.id = id;
      token.content = sp_->id_to_piece(id);
      token.special = true;
      add(token);
    }
  }

  auto role_id = [&](const std::string& content, int32_t model_id, std::string* text) -> int32_t {
    if (!content.empty()) {
      if (text)
        *text = content;
      return tokens_[by_content_.at(content)].id;
    }
    if (model_id < 0 || spec_.has_config)
      return -1;
    if (text)
      *text = sp_->id_to_piece(model_id);
    return model_id;
  };
  bos_id_ = role_id(spec_.bos_token, sp_->bos_id(), &bos_token_);
  eos_id_ = role_id(spec_.eos_token, sp_->eos_id(), &eos_token_);
  unk_text_.clear();
  unk_id_ = role_id(spec_.unk_token, sp_->unk_id(), &unk_text_);
  pad_id_ = role_id(spec_.pad_token, sp_->pad_id(), nullptr);
  role_ids_.clear();
  for (int32_t id : {bos_id_, eos_id_, unk_id_, pad_id_}) {
    if (id >= 0)
      role_ids_.push_back(id);
  }
  for (const std::string& content : spec_.additional_special_tokens) {
    role_ids_.push_back(tokens_[by_content_.at(content)].id);
  }
  for (int32_t id : role_ids_)
    tokens_[by_id_.at(id)].special = true;

  // Sort by id and rebuild the indices.
  std::sort(tokens_.begin(), tokens_.end(), [](const SpecialToken& a, const SpecialToken& b) {
    return a.id < b.id;
  });
  by_content_.clear();
  by_id_.clear();
  by_first_byte_.assign(256, {});
  vocab_size_ = sp_size;
  for (size_t i = 0; i < tokens_.size(); ++i) {
    by_content_[tokens_[i].content] = i;
    by_id_[tokens_[i].id] = i;
    by_first_byte_[static_cast<unsigned char>(tokens_[i].content[0])].push_back(
        static_cast<uint32_t>(i));
    vocab_size_ = std::max(vocab_size_, tokens_[i].id + 1);
  }
  for (auto& candidates : by_first_byte_) {
    std::stable_sort(candidates.begin(), candidates.end(), [&](uint32_t a, uint32_t b) {
      return tokens_[a].content.size() > tokens_[b].content.size();
    });
  }

  if (!spec_.legacy) {
    if (unk_text_.empty())
      unk_text_ = "<unk>";
    unk_prefix_length_ = sp_->encode(unk_text_).size();
    underline_id_ = sp_->piece_to_id(kUnderline);
  }

  hash_table("dpo-tokenizer/1\n", model_bytes_);
}

void Tokenizer::build_json_table() {
  const HfJsonTokenizer& json = *json_;
  for (const HfJsonAddedToken& token : json.added_tokens()) {
    SpecialToken entry;
    entry.id = token.id;
    entry.content = token.content;
    entry.special = token.special;
    entry.lstrip = token.lstrip;
    entry.rstrip = token.rstrip;
    entry.single_word = token.single_word;
    by_content_[entry.content] = tokens_.size();
    by_id_[entry.id] = tokens_.size();
    tokens_.push_back(std::move(entry));
  }
  // The config's added_tokens_decoder must say what tokenizer.json says: transformers would
  // re-add a token whose flags differ, and dpo does not reconcile the two files.
  for (const HfAddedToken& token : spec_.added_tokens) {
    if (token.id < 0)
      continue;  // a role token declared by name only
    auto found = by_content_.find(token.content);
    const SpecialToken* entry = found == by_content_.end() ? nullptr : &tokens_[found->second];
    const bool same = entry != nullptr && entry->id == token.id && entry->lstrip == token.lstrip &&
                      entry->rstrip == token.rstrip && entry->single_word == token.single_word;
    if (!same) {
      throw ConfigError(
          "'" + name_ + "' and the added_tokens_decoder of tokenizer_config.json disagree on '" +
              token.content + "' (id " + std::to_string(token.id) + ")" +
              (entry == nullptr ? ": tokenizer.json does not list it in added_tokens"
                                : ": different id or lstrip/rstrip/single_word flags"),
          "make the two files agree (transformers' save_pretrained writes both)");
    }
  }
  auto role_id = [&](const std::string& content, const char* role) -> int32_t {
    if (content.empty())
      return -1;
    const int32_t id = json.token_to_id(content);
    if (id < 0) {
      throw ConfigError(
          std::string(role) + " '" + content + "' of tokenizer_config.json is not a token of '" +
              name_ + "'",
          "fix the config's special tokens or use the tokenizer.json that belongs to it");
    }
    if (by_id_.count(id) == 0) {
      // A role token that is a plain vocabulary entry: special, but not split out of text
      // (the tokenizers library does not match it either).
      SpecialToken entry;
      entry.id = id;
      entry.content = content;
      by_content_[content] = tokens_.size();
      by_id_[id] = tokens_.size();
      tokens_.push_back(std::move(entry));
    }
    return id;
  };
  bos_id_ = role_id(spec_.bos_token, "bos_token");
  eos_id_ = role_id(spec_.eos_token, "eos_token");
  unk_id_ = role_id(spec_.unk_token, "unk_token");
  pad_id_ = role_id(spec_.pad_token, "pad_token");
  bos_token_ = bos_id_ >= 0 ? spec_.bos_token : std::string();
  eos_token_ = eos_id_ >= 0 ? spec_.eos_token : std::string();
  role_ids_.clear();
  for (int32_t id : {bos_id_, eos_id_, unk_id_, pad_id_}) {
    if (id >= 0)
      role_ids_.push_back(id);
  }
  for (const std::string& content : spec_.additional_special_tokens)
    role_ids_.push_back(role_id(content, "additional special token"));
  for (int32_t id : role_ids_)
    tokens_[by_id_.at(id)].special = true;
  // Without a config flag, BOS/EOS are added where the file's post-processor adds them.
  const std::vector<int32_t>& prefix = json.special_prefix();
  const std::vector<int32_t>& suffix = json.special_suffix();
  if (!spec_.add_bos_token_given)
    spec_.add_bos_token = bos_id_ >= 0 && !prefix.empty() && prefix.front() == bos_id_;
  if (!spec_.add_eos_token_given)
    spec_.add_eos_token = eos_id_ >= 0 && !suffix.empty() && suffix.back() == eos_id_;

  std::sort(tokens_.begin(), tokens_.end(), [](const SpecialToken& a, const SpecialToken& b) {
    return a.id < b.id;
  });
  by_content_.clear();
  by_id_.clear();
  for (size_t i = 0; i < tokens_.size(); ++i) {
    by_content_[tokens_[i].content] = i;
    by_id_[tokens_[i].id] = i;
  }
  vocab_size_ = json.vocab_size();
}

void Tokenizer::hash_table(std::string_view kind, std::string_view file_bytes) {
  // The canonical description hashed with the file's bytes.
  Sha256 hash;
  hash.update(kind);
  hash.update(sha256_hex(file_bytes));
  std::ostringstream table;
  table << "\nlegacy=" << spec_.legacy << " add_prefix_space=" << spec_.add_prefix_space
        << " add_bos=" << spec_.add_bos_token << " add_eos=" << spec_.add_eos_token
        << " bos=" << bos_id_ << " eos=" << eos_id_ << " unk=" << unk_id_ << " pad=" << pad_id_
        << "\n";
  for (const SpecialToken& token : tokens_) {
    table << token.id << '\t' << json_quote(token.content) << '\t' << token.special << token.lstrip
          << token.rstrip << token.single_word << '\n';
  }
  hash.update(table.str());
  sha256_ = hash.hex_digest();
}

int32_t Tokenizer::match_at(std::string_view text, size_t pos, size_t& length) const {
  const auto& candidates = by_first_byte_[static_cast<unsigned char>(text[pos])];
  for (uint32_t index : candidates) {
    const std::string& content = tokens_[index].content;
    if (text.size() - pos >= content.size() && text.compare(pos, content.size(), content) == 0) {
      length = content.size();
      return static_cast<int32_t>(index);
    }
  }
  return -1;
}

std::vector<Tokenizer::Segment> Tokenizer::split_raw(std::string_view text) const {
  // Leftmost match, longest first: transformers' Trie.split and the tokenizers library's
  // added-vocabulary matcher agree on this.
  std::vector<Segment> segments;
  size_t text_start = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t length = 0;
    int32_t index = by_first_byte_.empty() ? -1 : match_at(text, pos, length);
    if (index < 0) {
      ++pos;
      continue;
    }
    if (pos > text_start)
      segments.push_back({std::string(text.substr(text_start, pos - text_start)), -1});
    segments.push_back({tokens_[index].content, tokens_[index].id});
    pos += length;
    text_start = pos;
  }
  if (text_start < text.size())
    segments.push_back({std::string(text.substr(text_start)), -1});
  return segments;
}

std::vector<Tokenizer::Segment> Tokenizer::split(std::string_view text) const {
  if (json_) {
    std::vector<Segment> segments;
    for (HfJsonTokenizer::Piece& piece : json_->split_added_tokens(text)) {
      if (piece.id >= 0)
        segments.push_back({tokens_[by_id_.at(piece.id)].content, piece.id});
      else
        segments.push_back({std::move(piece.text), -1});
    }
    return segments;
  }
  std::vector<Segment> segments = split_raw(text);
  // transformers' PreTrainedTokenizer.tokenize: an added token with rstrip eats the whitespace
  // on its right, with lstrip on its left; single_word tokens glued to a word lose their
  // special meaning and are encoded as text.
  for (size_t i = 0; i < segments.size(); ++i) {
    if (segments[i].special_id < 0)
      continue;
    const SpecialToken& token = tokens_[by_id_.at(segments[i].special_id)];
    Segment* left = i > 0 ? &segments[i - 1] : nullptr;
    Segment* right = i + 1 < segments.size() ? &segments[i + 1] : nullptr;
    if (token.rstrip && right && !right->text.empty())
      right->text = lstrip_python(right->text);
    if (token.lstrip && left && !left->text.empty())
      left->text = rstrip_python(left->text);
    if (token.single_word && left && !left->text.empty() && left->text.back() != ' ') {
      left->text += segments[i].text;
      left->special_id = -1;
      segments[i].text.clear();
      segments[i].special_id = -1;
    } else if (token.single_word && right && !right->text.empty() && right->text[0] != ' ') {
      segments[i].text += right->text;
      segments[i].special_id = -1;
      right->text.clear();
      right->special_id = -1;
    }
  }
  segments.erase(
      std::remove_if(
          segments.begin(), segments.end(), [](const Segment& s) { return s.text.empty(); }),
      segments.end());
  return segments;
}

void Tokenizer::encode_piece(std::string_view piece, std::vector<int32_t>& ids) const {
  if (spec_.legacy) {
    sp_->encode_append(piece, ids);  // with sentencepiece's own dummy prefix
    return;
  }
  // legacy=false: the model has no dummy prefix. A piece starting with a space is encoded
  // behind unk_token and the unk pieces dropped, so that sentencepiece keeps its leading "▁"
  // (transformers' LlamaTokenizer._tokenize).
  if (!starts_with(piece, kUnderline) && !starts_with(piece, " ")) {
    sp_->encode_append(piece, ids);
    return;
  }
  thread_local std::vector<int32_t> scratch;
  thread_local std::string prefixed;
  scratch.clear();
  prefixed.assign(unk_text_);
  prefixed.append(piece);
  sp_->encode_append(prefixed, scratch);
  size_t skip = scratch.size() >= unk_prefix_length_ ? unk_prefix_length_ : 0;
  ids.insert(ids.end(), scratch.begin() + static_cast<std::ptrdiff_t>(skip), scratch.end());
}

void Tokenizer::encode(std::string_view text, std::vector<int32_t>& ids) const {
  encode_text(text, ids, nullptr);
}

void Tokenizer::encode(std::string_view text, std::vector<int32_t>& ids, PieceMemo& memo) const {
  encode_text(text, ids, &memo);
}

void Tokenizer::encode_text(
    std::string_view text, std::vector<int32_t>& ids, PieceMemo* memo) const {
  if (text.empty())
    return;
  if (json_) {
    // tokenizers' encode(add_special_tokens=False); each piece between added tokens is encoded
    // on its own, so the memo keys on its text (and on whether it starts the text, which
    // Metaspace's prepend_scheme "first" looks at).
    for (HfJsonTokenizer::Piece& piece : json_->split_added_tokens(text)) {
      if (piece.id >= 0 || memo == nullptr) {
        json_->encode_piece(piece, ids);
        continue;
      }
      std::string key = (piece.at_start ? "^" : "-") + piece.text;
      auto seen = std::find_if(memo->pieces.begin(), memo->pieces.end(), [&](const auto& entry) {
        return entry.first == key;
      });
      if (seen != memo->pieces.end()) {
        ids.insert(ids.end(), seen->second.begin(), seen->second.end());
        ++memo->hits;
        continue;
      }
      const size_t begin = ids.size();
      json_->encode_piece(piece, ids);
      memo->pieces.emplace_back(
          std::move(key),
          std::vector<int32_t>(ids.begin() + static_cast<std::ptrdiff_t>(begin), ids.end()));
    }
    return;
  }
  std::string prepared;
  if (!spec_.legacy) {
    // transformers: text.replace("▁", " "), then "▁" + text when add_prefix_space.
    prepared = replace_all(text, kUnderline, " ");
    if (spec_.add_prefix_space)
      prepared.insert(0, kUnderline);
    text = prepared;
  }
  const size_t start = ids.size();
  for (Segment& segment : split(text)) {
    if (segment.special_id >= 0) {
      ids.push_back(segment.special_id);
    } else if (memo == nullptr) {
      encode_piece(segment.text, ids);
    } else {
      auto seen = std::find_if(memo->pieces.begin(), memo->pieces.end(), [&](const auto& piece) {
        return piece.first == segment.text;
      });
      if (seen != memo->pieces.end()) {
        ids.insert(ids.end(), seen->second.begin(), seen->second.end());
        ++memo->hits;
      } else {
        const size_t begin = ids.size();
        encode_piece(segment.text, ids);
        memo->pieces.emplace_back(
            std::move(segment.text),
            std::vector<int32_t>(ids.begin() + static_cast<std::ptrdiff_t>(begin), ids.end()));
      }
    }
  }
  // legacy=false: a lone "▁" before a special token at the start is dropped.
  if (!spec_.legacy && ids.size() - start > 1 && ids[start] == underline_id_ &&
      std::find(role_ids_.begin(), role_ids_.end(), ids[start + 1]) != role_ids_.end()) {
    ids.erase(ids.begin() + static_cast<std::ptrdiff_t>(start));
  }
}

std::vector<int32_t> Tokenizer::encode(std::string_view text) const {
  std::vector<int32_t> ids;
  encode(text, ids);
  return ids;
}

bool Tokenizer::is_special(int32_t id) const {
  auto found = by_id_.find(id);
  return found != by_id_.end() && tokens_[found->second].special;
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids, bool skip_special_tokens) const {
  if (json_) {
    for (int32_t id : ids) {
      if (id < 0 || id >= vocab_size_) {
        throw DataError(
            "token id " + std::to_string(id) + " is outside the vocabulary of '" + name_ + "' (" +
            std::to_string(vocab_size_) + " ids)");
      }
    }
    return json_->decode(ids, skip_special_tokens);
  }
  std::string text;
  std::vector<int> run;
  auto flush = [&] {
    if (run.empty())
      return;
    text += sp_->decode(run);
    run.clear();
  };
  for (int32_t id : ids) {
    auto found = by_id_.find(id);
    if (found != by_id_.end()) {
      flush();
      const SpecialToken& token = tokens_[found->second];
      if (!(skip_special_tokens && token.special))
        text += token.content;
      continue;
    }
    if (id < 0 || id >= sp_->vocab_size()) {
      throw DataError(
          "token id " + std::to_string(id) + " is outside the vocabulary of '" + name_ + "' (" +
          std::to_string(vocab_size_) + " ids)");
    }
    run.push_back(id);
  }
  flush();
  return text;
}

std::string Tokenizer::id_to_piece(int32_t id) const {
  auto found = by_id_.find(id);
  if (found != by_id_.end())
    return tokens_[found->second].content;
  if (json_) {
    std::optional<std::string> token = json_->id_to_token(id);
    if (!token) {
      throw DataError(
          "token id " + std::to_string(id) + " is outside the vocabulary of '" + name_ + "' (" +
          std::to_string(vocab_size_) + " ids)");
    }
    return *token;
  }
  return sp_->id_to_piece(id);
}

int32_t Tokenizer::piece_to_id(std::string_view piece) const {
  auto found = by_content_.find(std::string(piece));
  if (found != by_content_.end())
    return tokens_[found->second].id;
  if (json_)
    return json_->token_to_id(piece);
  return sp_->piece_to_id(piece);
}

void Tokenizer::add_bos_if_missing(std::vector<int32_t>& ids) const {
  if (bos_id_ < 0)
    return;
  if (!ids.empty() && ids.front() == bos_id_)
    return;
  ids.insert(ids.begin(), bos_id_);
}

bool Tokenizer::starts_with_double_bos(const std::vector<int32_t>& ids) const {
  return bos_id_ >= 0 && ids.size() >= 2 && ids[0] == bos_id_ && ids[1] == bos_id_;
}

}  // namespace dpo
