// Anthropic HH-RLHF dialogue strings: "\n\nHuman: ...\n\nAssistant: ...". Used by the implicit
// prompt format, where chosen and rejected are whole dialogues that share all but the last
// assistant turn.
#pragma once

#include <string_view>
#include <vector>

#include "data/preference_row.h"

namespace dpo {

// Splits a dialogue into user/assistant turns. The text must start with a "Human:" or
// "Assistant:" marker (after optional leading whitespace); one space after each marker is
// dropped. Returns false when the text holds no marker or has other text before the first.
bool parse_hh_dialogue(std::string_view text, std::vector<Message>& turns);

}  // namespace dpo
