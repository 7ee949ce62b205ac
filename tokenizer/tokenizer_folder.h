// Writes the tokenizer half of a Hugging Face model folder for a bare tokenizer.model:
// tokenizer.model, tokenizer_config.json (LlamaTokenizer, special tokens, added_tokens_decoder,
// chat_template) and special_tokens_map.json, as transformers' save_pretrained would. Used by
// `dpo init-model`, whose folders then load with AutoTokenizer and with dpo itself.
#pragma once

#include <string>
#include <vector>

namespace dpo {

struct TokenizerFolderOptions {
  std::string chat_template;  // Jinja text; empty for none
  // Strings that are single pieces of the model and must be matched whole before
  // sentencepiece runs (chat markers such as <|im_start|>); listed in added_tokens_decoder
  // as special tokens. Each must be a piece of the model.
  std::vector<std::string> added_special_tokens;
  // Role tokens; empty: the model's own <s>, </s>, <unk> pieces. eos may name an added token
  // (for example <|im_end|> for ChatML).
  std::string eos_token;
  bool add_bos_token = true;
  bool legacy = true;
  long long model_max_length = 2048;
};

// Writes the three or four files into `folder` (which must exist), each atomically.
// Throws DataError when an added token is not a piece of the model.
void write_tokenizer_folder(
    const std::string& folder,
    const std::string& tokenizer_model_path,
    const TokenizerFolderOptions& options);

}  // namespace dpo
