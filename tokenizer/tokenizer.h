// The tokenizer of a model, from one of two formats (docs/tokenization.md):
//   - tokenizer.json (Hugging Face `tokenizers`, hf_json_tokenizer.h): encode() gives the ids of
//     the Rust library's encode(text, add_special_tokens=False), which transformers'
//     apply_chat_template uses; role tokens (BOS/EOS/UNK/PAD) come from tokenizer_config.json;
//   - tokenizer.model (sentencepiece) plus the special and added tokens of its Hugging Face
//     config, encoding text as transformers' sentencepiece (Llama-style) tokenizers do:
//   1. the text is split on the strings of the added/special tokens first (leftmost match,
//      longest wins), honouring each token's lstrip/rstrip/single_word flags;
//   2. legacy=true (the default): every piece in between is encoded by sentencepiece on its
//      own, each with sentencepiece's dummy prefix ("▁");
//      legacy=false: the dummy prefix is added once, at the start of the text, and never after
//      a special token (transformers' LlamaTokenizer(legacy=False)).
// Encoding adds no BOS/EOS: chat templates write their own. add_bos_if_missing() adds the BOS
// only where the text does not already start with it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/hf_tokenizer_config.h"
#include "tokenizer/sentencepiece_proto.h"

namespace dpo {

class SentencePieceModel;
class HfJsonTokenizer;

// Which file of a model folder to read. automatic: tokenizer.json when the folder has one (what
// transformers' AutoTokenizer loads by default, the fast tokenizer), tokenizer.model otherwise.
enum class TokenizerFormat { automatic, json, sentencepiece };

// How a tokenizer.json runs. file: as the tokenizers library runs the file
// (Tokenizer.from_file(...).encode). transformers: as transformers 5's AutoTokenizer loads the
// folder: its LlamaTokenizer class (tokenizer_class "LlamaTokenizer"/"LlamaTokenizerFast" in
// tokenizer_config.json) replaces the file's normalizer, pre-tokenizer and decoder with its own
// (HfJsonTokenizer::use_transformers_llama_pipeline; Phi-3 and TinyLlama files encode
// differently then); other classes run the file as it is.
enum class JsonPipeline { file, transformers };

// "automatic", "json", "sentencepiece"; parse_tokenizer_format throws UsageError otherwise.
const char* tokenizer_format_name(TokenizerFormat format);
TokenizerFormat parse_tokenizer_format(const std::string& name);
// "file", "transformers"; parse_json_pipeline throws UsageError otherwise.
const char* json_pipeline_name(JsonPipeline pipeline);
JsonPipeline parse_json_pipeline(const std::string& name);

// What to split out of the text and how to encode the rest. Build it from a model folder's
// config (TokenizerSpec::from) or leave it default (the model's own control pieces are split out).
struct TokenizerSpec {
  // Tokens matched in the text before sentencepiece runs; ids of -1 are looked up in the
  // vocabulary (and appended past it when absent, as transformers does).
  std::vector<HfAddedToken> added_tokens;
  // Role tokens by content; empty: the sentencepiece model's own piece for that role.
  std::string bos_token, eos_token, unk_token, pad_token;
  std::vector<std::string> additional_special_tokens;
  bool legacy = true;
  bool add_prefix_space = true;
  bool add_bos_token = true;  // LlamaTokenizer's defaults
  bool add_eos_token = false;
  bool add_bos_token_given = false;  // the config sets add_bos_token (tokenizer.json uses it)
  bool add_eos_token_given = false;
  // True when the spec came from a config; false: every control piece of the model (<s>,
  // </s>, [INST], ...) and the unknown piece are split out of the text.
  bool has_config = false;
  bool legacy_given = false;    // the config sets `legacy`
  std::string tokenizer_class;  // the config's tokenizer_class; empty when absent

  static TokenizerSpec from(const HfTokenizerConfig& config);
};

// One entry of the tokenizer's table of tokens matched as whole strings.
struct SpecialToken {
  int32_t id = -1;
  std::string content;
  bool special = true;  // a role token, an additional special token, or flagged special
  bool lstrip = false;
  bool rstrip = false;
  bool single_word = false;
};

class Tokenizer {
 public:
  // `name` is used in messages; `model_bytes` is the tokenizer.model content.
  Tokenizer(const std::string& name, std::string model_bytes, TokenizerSpec spec = {});
  ~Tokenizer();
  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;

  // A tokenizer.model file alone (no config): the model's control pieces are special tokens.
  static Tokenizer from_model_file(const std::string& path);
  static Tokenizer from_model_file(const std::string& path, const HfTokenizerConfig& config);
  // A Hugging Face model folder: tokenizer_config.json (+ special_tokens_map.json) and
  // tokenizer.json or tokenizer.model as `format` says. A folder with neither file is refused
  // (IoError naming both). A tokenizer.json runs as transformers' AutoTokenizer runs it by
  // default (what TRL tokenizes with, and the SFT model most likely saw); JsonPipeline::file
  // runs it as the tokenizers library does.
  static Tokenizer from_model_folder(
      const std::string& folder,
      TokenizerFormat format = TokenizerFormat::automatic,
      JsonPipeline pipeline = JsonPipeline::transformers);
  // A tokenizer.json file, with the role tokens of a config or without (then no BOS/EOS/UNK/PAD
  // ids; every added token of the file is matched in text).
  static Tokenizer from_tokenizer_json(const std::string& path);
  static Tokenizer from_tokenizer_json(
      const std::string& path,
      const HfTokenizerConfig& config,
      JsonPipeline pipeline = JsonPipeline::file);

  // json or sentencepiece: the file this tokenizer was read from.
  TokenizerFormat format() const {
    return json_ ? TokenizerFormat::json : TokenizerFormat::sentencepiece;
  }
  // The tokenizer.json tokenizer itself (nullptr for sentencepiece), e.g. for its decoder.
  const HfJsonTokenizer* json_tokenizer() const {
    return json_.get();
  }

  // Appends the ids of `text` to `ids`; no BOS/EOS is added. Thread-safe.
  void encode(std::string_view text, std::vector<int32_t>& ids) const;

  // The ids of pieces (the text between special tokens) already encoded, for texts that share
  // most of their pieces: a pair's prompt and its two full conversations repeat the system and
  // user turns. Each piece's ids depend on its text alone, so a piece found here is not run
  // through sentencepiece again and the ids are the same as without the memo. Keep one per
  // pair: across pairs pieces rarely repeat, and the lookup is a linear scan.
  struct PieceMemo {
    std::vector<std::pair<std::string, std::vector<int32_t>>> pieces;
    int64_t hits = 0;  // pieces taken from the memo
  };
  void encode(std::string_view text, std::vector<int32_t>& ids, PieceMemo& memo) const;
  std::vector<int32_t> encode(std::string_view text) const;
  // The pieces the text is split into before sentencepiece runs: special tokens as themselves,
  // other text after lstrip/rstrip (for tests and `dpo inspect`). tokenizer.json: the pieces of
  // its added vocabulary, text pieces normalised (HfJsonTokenizer::split_added_tokens).
  struct Segment {
    std::string text;
    int32_t special_id = -1;  // >= 0 when the segment is a special/added token
  };
  std::vector<Segment> split(std::string_view text) const;

  // Special and added tokens as their content, other runs decoded by sentencepiece.
  // tokenizer.json: the file's decoder, as the tokenizers library's decode(). Both throw
  // DataError for an id outside the vocabulary.
  std::string decode(const std::vector<int32_t>& ids, bool skip_special_tokens = false) const;
  // The piece of one id ("▁Hello", "<s>"); throws DataError outside the vocabulary.
  std::string id_to_piece(int32_t id) const;
  // -1 when unknown. Special/added tokens are looked up first.
  int32_t piece_to_id(std::string_view piece) const;

  // Ids run from 0 to vocab_size() - 1: the sentencepiece pieces, then added tokens past them
  // (tokenizer.json: its vocabulary and added tokens, largest id + 1).
  int32_t vocab_size() const {
    return vocab_size_;
  }
  // The pieces of the sentencepiece model (tokenizer.json: vocab_size()).
  int32_t sentencepiece_vocab_size() const;
  int32_t bos_id() const {
    return bos_id_;
  }  // -1 when the tokenizer has none
  int32_t eos_id() const {
    return eos_id_;
  }
  int32_t unk_id() const {
    return unk_id_;
  }
  int32_t pad_id() const {
    return pad_id_;
  }
  const std::string& bos_token() const {
    return bos_token_;
  }
  const std::string& eos_token() const {
    return eos_token_;
  }
  bool legacy() const {
    return spec_.legacy;
  }
  // tokenizer.json: the config's flag when it has one, else whether the file's post-processor
  // adds the BOS (EOS) with add_special_tokens (Llama 3: BOS yes; Qwen: no).
  bool add_bos_token() const {
    return spec_.add_bos_token;
  }
  bool add_eos_token() const {
    return spec_.add_eos_token;
  }
  bool is_special(int32_t id) const;
  // Sorted by id.
  const std::vector<SpecialToken>& special_tokens() const {
    return tokens_;
  }
  // The sentencepiece model's settings (tokenizer.json: all fields at their defaults).
  const SentencePieceModelInfo& model_info() const {
    return model_info_;
  }
  const std::string& name() const {
    return name_;
  }

  // Inserts the BOS id at the front unless `ids` already starts with it (no-op without BOS).
  void add_bos_if_missing(std::vector<int32_t>& ids) const;
  // True when `ids` starts with two BOS ids: the template wrote one and something added
  // another. Callers report it as an error.
  bool starts_with_double_bos(const std::vector<int32_t>& ids) const;

  // SHA-256 over the tokenizer.model (or tokenizer.json) bytes and the canonical table of
  // special tokens and encoding flags; equal hashes encode every text the same way.
  const std::string& sha256() const {
    return sha256_;
  }

 private:
  Tokenizer(
      const std::string& name,
      const std::string& json_bytes,
      TokenizerSpec spec,
      JsonPipeline pipeline);
  void build_table();
  void build_json_table();
  void hash_table(std::string_view kind, std::string_view file_bytes);
  void encode_piece(std::string_view piece, std::vector<int32_t>& ids) const;
  // encode() with an optional memo.
  void encode_text(std::string_view text, std::vector<int32_t>& ids, PieceMemo* memo) const;
  std::vector<Segment> split_raw(std::string_view text) const;
  // Longest special token starting at text[pos]; -1 when none. `length` receives its size.
  int32_t match_at(std::string_view text, size_t pos, size_t& length) const;

  std::string name_;
  std::string model_bytes_;
  TokenizerSpec spec_;
  SentencePieceModelInfo model_info_;
  std::unique_ptr<SentencePieceModel> sp_;              // null for tokenizer.json
  std::unique_ptr<HfJsonTokenizer> json_;               // null for sentencepiece
  std::vector<SpecialToken> tokens_;                    // sorted by id
  std::unordered_map<std::string, size_t> by_content_;  // content -> index in tokens_
  std::unordered_map<int32_t, size_t> by_id_;           // id -> index in tokens_
  // For each first byte, the indices in tokens_ of the tokens starting with it, longest first.
  std::vector<std::vector<uint32_t>> by_first_byte_;
  int32_t vocab_size_ = 0;
  int32_t bos_id_ = -1, eos_id_ = -1, unk_id_ = -1, pad_id_ = -1;
  std::string bos_token_, eos_token_;
  std::vector<int32_t> role_ids_;  // transformers' all_special_ids
  int32_t underline_id_ = -1;      // the piece "▁" (legacy=false)
  size_t unk_prefix_length_ = 0;   // pieces of unk_token (legacy=false)
  std::string unk_text_;           // unk_token text (legacy=false)
  std::string sha256_;
};

}  // namespace dpo
