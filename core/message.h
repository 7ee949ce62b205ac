// One turn of a conversation: the vocabulary type shared by the data library (rows are parsed
// into messages) and the template library (templates render them). Kept in core so that
// neither of the two depends on the other.
#pragma once

#include <string>

namespace dpo {

struct Message {
  std::string role;  // "system" | "user" | "assistant" | "tool"
  std::string content;
  // An assistant turn's tool calls as compact JSON, exactly as the row gave them: a list of
  // {"type": "function", "function": {"name": ..., "arguments": ...}} objects. Empty when the
  // turn has none. Templates see it as messages[i].tool_calls, as transformers passes it.
  std::string tool_calls_json = {};
};

}  // namespace dpo
