// Reads the tokenizer settings of a Hugging Face model folder: tokenizer_config.json and
// special_tokens_map.json (special tokens, added tokens, BOS/EOS flags, `legacy`; the chat
// template is read by templates/model_chat_templates.h). The JSON library stays inside
// hf_tokenizer_config.cpp.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace dpo {

// One entry of `added_tokens_decoder` (or a special token declared only by name). Defaults
// are those of transformers' AddedToken.
struct HfAddedToken {
  int id = -1;  // -1: declared without an id (resolved against the vocabulary later)
  std::string content;
  bool special = false;
  bool lstrip = false;  // eats the whitespace on its left
  bool rstrip = false;  // eats the whitespace on its right
  bool normalized = true;
  bool single_word = false;
};

struct HfTokenizerConfig {
  std::string folder;
  std::string tokenizer_class;  // e.g. "LlamaTokenizer"; empty when absent
  // Special tokens by role; special_tokens_map.json overrides tokenizer_config.json, as in
  // transformers' from_pretrained.
  std::optional<HfAddedToken> bos_token;
  std::optional<HfAddedToken> eos_token;
  std::optional<HfAddedToken> unk_token;
  std::optional<HfAddedToken> pad_token;
  std::vector<HfAddedToken> additional_special_tokens;
  std::vector<HfAddedToken> added_tokens;  // `added_tokens_decoder`, sorted by id
  std::optional<bool> add_bos_token;       // absent: the tokenizer class decides (Llama: true)
  std::optional<bool> add_eos_token;       // absent: false for Llama
  // transformers' LlamaTokenizer treats an absent `legacy` as true (with a warning).
  bool legacy = true;
  bool legacy_given = false;
  bool add_prefix_space = true;  // LlamaTokenizer's default
  // `model_max_length`; absent when missing or transformers' "very large" sentinel (1e30).
  std::optional<int64_t> model_max_length;
};

// Reads `folder`/tokenizer_config.json (required) and special_tokens_map.json (optional).
// Throws IoError when the config is missing and ConfigError naming the file and key when a
// value has the wrong type or the JSON is malformed.
HfTokenizerConfig read_hf_tokenizer_config(const std::string& folder);

// Parses the two JSON texts directly (`special_tokens_map_json` may be empty); `folder` is
// used in messages.
HfTokenizerConfig parse_hf_tokenizer_config(
    const std::string& folder,
    const std::string& tokenizer_config_json,
    const std::string& special_tokens_map_json);

// The sentencepiece model of a model folder: `folder`/tokenizer.model. Throws IoError naming
// the folder (and pointing at tokenizer.json when the folder has one) when it is absent.
std::string find_tokenizer_model(const std::string& folder);

}  // namespace dpo
