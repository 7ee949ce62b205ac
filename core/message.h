// One turn of a conversation: the vocabulary type shared by the data library (rows are parsed
// into messages) and the template library (templates render them). Kept in core so that
// neither of the two depends on the other.
#pragma once

#include <string>

namespace dpo {

struct Message {
  std::string role;  // "system" | "user" | "assistant" | "tool"
  std::string content;
};

}  // namespace dpo
