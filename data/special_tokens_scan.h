// Finds chat-template control strings (<|im_start|>, [INST], <s>, ...) inside message content.
// Such text in the data is rendered by the template as if it were structure, and with most
// tokenizers becomes the real special token: the model is trained on a forged turn boundary.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace dpo {

class SpecialTokenScanner {
 public:
  // The control strings of the common chat templates (ChatML, Llama 2/3, Mistral, Gemma,
  // Phi-3, Zephyr) plus `extra` (for example a tokenizer's own special tokens).
  explicit SpecialTokenScanner(const std::vector<std::string>& extra = {});

  // The first control string found in `text`, or an empty view.
  std::string_view find(std::string_view text) const;

  const std::vector<std::string>& tokens() const {
    return tokens_;
  }

 private:
  std::vector<std::string> tokens_;
  std::string first_bytes_;  // distinct first characters of the tokens, scanned with memchr
};

}  // namespace dpo
