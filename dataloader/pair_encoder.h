// Turns a preference row into token ids: the prompt, and the chosen and rejected completions
// as what follows the prompt's tokens in the tokens of each full conversation. Applies the
// length policy and counts every action. The chat template is a callback, so this file does
// not depend on the template engine.
//
//   prompt_ids   = tokens(render(prompt, add_generation_prompt=true))
//   full_chosen  = tokens(render(prompt + chosen, add_generation_prompt=false))
//   chosen_ids   = full_chosen[len(prompt_ids):]   (only when full_chosen starts with prompt_ids;
//                                                   otherwise the row is a prefix_mismatch)
// The completion thus holds the template's end-of-turn token(s). See docs/tokenization.md.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "data/issue_codes.h"
#include "data/preference_row.h"
#include "tokenizer/tokenizer.h"

namespace dpo {

// Renders a conversation with the model's chat template. May throw dpo::Error (the row is then
// reported as template_error).
using RenderFunction =
    std::function<std::string(const std::vector<Message>& messages, bool add_generation_prompt)>;

// What happens to a pair whose prompt + completion is longer than max_length (per sequence).
enum class LengthPolicy {
  drop,                  // the pair is left out and counted (default)
  truncate_prompt_left,  // drop prompt tokens from the left; BOS and the assistant header stay
  truncate_completion,   // cut the completions to fit; the pair is flagged
  error,                 // throw DataError: the run stops
};
const char* length_policy_name(LengthPolicy policy);
// Throws UsageError listing the names.
LengthPolicy parse_length_policy(std::string_view name);

// Whether a BOS the chat template did not write is added in front of each sequence.
enum class BosPolicy {
  // The ids are the template's rendering tokenized with no special tokens added: what
  // transformers' apply_chat_template(tokenize=True) and TRL's DPOTrainer give (default).
  as_template,
  // Add the tokenizer's BOS when its add_bos_token is set and the rendering does not start with
  // it: what tokenizer(text) with add_special_tokens=True gives (an SFT that tokenized rendered
  // text that way, e.g. TinyLlama's Zephyr recipe, trained with that BOS).
  if_missing,
};
const char* bos_policy_name(BosPolicy policy);
// Throws UsageError listing the names.
BosPolicy parse_bos_policy(std::string_view name);

struct PairEncoderOptions {
  int64_t max_length = 0;  // 0: no limit
  LengthPolicy length_policy = LengthPolicy::drop;
  // Templates that write bos_token themselves get nothing added under either policy.
  BosPolicy bos_policy = BosPolicy::as_template;
};

// Bits of EncodedPair::flags.
enum PairFlag : uint8_t {
  kPromptTruncated = 1,
  kChosenTruncated = 2,
  kRejectedTruncated = 4,
};

struct EncodedPair {
  std::vector<int32_t> prompt;    // [P]
  std::vector<int32_t> chosen;    // [C] completion tokens only
  std::vector<int32_t> rejected;  // [R]
  uint8_t flags = 0;              // PairFlag bits
};

// Counts of every action; add them up over threads with merge().
struct PairEncodeCounts {
  int64_t rows = 0;  // rows given to encode()
  int64_t kept = 0;  // pairs returned
  int64_t template_errors = 0;
  int64_t prefix_mismatches = 0;
  int64_t double_bos = 0;
  int64_t empty_completions = 0;     // the completion had no tokens after the prompt
  int64_t over_length = 0;           // pairs longer than max_length (before the policy)
  int64_t dropped_too_long = 0;      // left out by `drop`, or not truncatable enough
  int64_t prompt_truncated = 0;      // pairs kept with a shortened prompt
  int64_t completion_truncated = 0;  // pairs kept with a shortened chosen or rejected
  int64_t bos_added = 0;             // sequences that got a BOS (BosPolicy::if_missing)
  int64_t tokens_removed = 0;        // tokens cut by truncation (prompt counted once)
  int64_t prompt_tokens = 0;         // of kept pairs
  int64_t chosen_tokens = 0;
  int64_t rejected_tokens = 0;

  void merge(const PairEncodeCounts& other);
};

struct PairEncodeResult {
  std::optional<EncodedPair> pair;  // empty when the row was left out
  std::optional<IssueCode> issue;   // why it was left out (or `truncated`, a warning)
  std::string message;              // one line for the report
};

// Why the tokens of a conversation (prompt + completion) do not start with the tokens of the
// prompt, named from the rendered texts: tokens merging across the boundary, a template that
// rewrites the prompt's turns once a completion follows, a generation prompt ending with an
// empty thinking block (Qwen3 with enable_thinking=false), or a generation prompt the
// conversation does not contain. `prompt_turns` is the prompt rendered without the generation
// prompt ("" when unknown). One line for the prefix_mismatch report.
std::string describe_prefix_mismatch(
    const std::string& prompt_text, const std::string& full_text, const std::string& prompt_turns);

class PairEncoder {
 public:
  PairEncoder(const Tokenizer& tokenizer, RenderFunction render, PairEncoderOptions options);

  // Thread-safe when `render` is. `where` ("data.jsonl:12") prefixes messages and the
  // DataError thrown by the `error` length policy.
  PairEncodeResult encode(
      const PreferenceRow& row, PairEncodeCounts& counts, std::string_view where = "") const;

  // Index in `prompt_ids` where the assistant header begins: the tokens from there on (the
  // generation prompt, e.g. "[/INST]" or "<|im_start|>assistant\n") are never truncated.
  // Found by tokenizing the rendered prompt up to the end of the last prompt message's
  // content and taking the common prefix with prompt_ids. Returns prompt_ids.size() when that
  // content cannot be found in the rendering (nothing may then be cut).
  size_t header_start(
      const std::vector<Message>& prompt,
      const std::string& rendered_prompt,
      const std::vector<int32_t>& prompt_ids) const;

  const PairEncoderOptions& options() const {
    return options_;
  }

 private:
  std::vector<int32_t> tokenize(
      const std::string& text, PairEncodeCounts& counts, Tokenizer::PieceMemo& memo) const;

  const Tokenizer& tokenizer_;
  RenderFunction render_;
  PairEncoderOptions options_;
};

}  // namespace dpo
