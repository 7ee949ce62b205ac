#include "data/special_tokens_scan.h"

#include <algorithm>
#include <cstring>

namespace dpo {

namespace {
const char* const kDefaultTokens[] = {
    "<|im_start|>",
    "<|im_end|>",
    "<|endoftext|>",
    "<|begin_of_text|>",
    "<|end_of_text|>",
    "<|start_header_id|>",
    "<|end_header_id|>",
    "<|eot_id|>",
    "<|eom_id|>",
    "<|python_tag|>",
    "<|system|>",
    "<|user|>",
    "<|assistant|>",
    "<|end|>",
    "<start_of_turn>",
    "<end_of_turn>",
    "<s>",
    "</s>",
    "<unk>",
    "<pad>",
    "[INST]",
    "[/INST]",
    "<<SYS>>",
    "<</SYS>>",
    "[TOOL_CALLS]",
    "[AVAILABLE_TOOLS]",
    "[/AVAILABLE_TOOLS]",
    "[TOOL_RESULTS]",
};
}  // namespace

SpecialTokenScanner::SpecialTokenScanner(const std::vector<std::string>& extra) {
  for (const char* token : kDefaultTokens)
    tokens_.emplace_back(token);
  for (const std::string& token : extra) {
    if (!token.empty() && std::find(tokens_.begin(), tokens_.end(), token) == tokens_.end()) {
      tokens_.push_back(token);
    }
  }
  for (const std::string& token : tokens_) {
    if (first_bytes_.find(token[0]) == std::string::npos)
      first_bytes_.push_back(token[0]);
  }
}

std::string_view SpecialTokenScanner::find(std::string_view text) const {
  const char* best = nullptr;
  std::string_view best_token;
  for (char first : first_bytes_) {
    const char* cursor = text.data();
    const char* end = text.data() + text.size();
    while (cursor < end) {
      const void* hit = std::memchr(cursor, first, static_cast<size_t>(end - cursor));
      if (hit == nullptr)
        break;
      const char* at = static_cast<const char*>(hit);
      if (best != nullptr && at >= best)
        break;
      std::string_view rest(at, static_cast<size_t>(end - at));
      bool matched = false;
      for (const std::string& token : tokens_) {
        if (token[0] == first && rest.substr(0, token.size()) == token) {
          best = at;
          best_token = token;
          matched = true;
          break;
        }
      }
      if (matched)
        break;
      cursor = at + 1;
    }
  }
  return best_token;
}

}  // namespace dpo
