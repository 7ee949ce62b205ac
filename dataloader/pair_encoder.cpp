// Pair encoding and the length policy (see pair_encoder.h).
#include "dataloader/pair_encoder.h"

#include <algorithm>
#include <tuple>

#include "core/error.h"
#include "core/text.h"
#include "tokenizer/tokenizer.h"

namespace dpo {
namespace {

bool starts_with(const std::vector<int32_t>& ids, const std::vector<int32_t>& prefix) {
  return ids.size() >= prefix.size() && std::equal(prefix.begin(), prefix.end(), ids.begin());
}

size_t common_prefix(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
  size_t n = std::min(a.size(), b.size());
  size_t i = 0;
  while (i < n && a[i] == b[i])
    ++i;
  return i;
}

std::string prefixed(std::string_view where, const std::string& message) {
  return where.empty() ? message : std::string(where) + ": " + message;
}

// At most `limit` bytes of `text` from `begin` (or ending at `end`), cut on UTF-8 character
// boundaries, quoted for a report.
std::string excerpt_from(const std::string& text, size_t begin, size_t limit = 32) {
  begin = std::min(begin, text.size());
  size_t end = std::min(text.size(), begin + limit);
  while (end < text.size() && end > begin && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80)
    --end;
  return json_quote(std::string_view(text).substr(begin, end - begin));
}
std::string excerpt_to(const std::string& text, size_t end, size_t limit = 32) {
  end = std::min(end, text.size());
  size_t begin = end > limit ? end - limit : 0;
  while (begin > 0 && begin < end && (static_cast<unsigned char>(text[begin]) & 0xC0) == 0x80)
    ++begin;
  return json_quote(std::string_view(text).substr(begin, end - begin));
}

bool contains(std::string_view text, std::string_view what) {
  return text.find(what) != std::string_view::npos;
}

}  // namespace

// Names the template behaviour behind a prefix mismatch, from the rendered texts:
// `prompt_text` (with the generation prompt), `full_text` (prompt + completion) and
// `prompt_turns` (the prompt without the generation prompt; empty when it could not be
// rendered).
std::string describe_prefix_mismatch(
    const std::string& prompt_text, const std::string& full_text, const std::string& prompt_turns) {
  size_t at = 0;
  const size_t n = std::min(prompt_text.size(), full_text.size());
  while (at < n && prompt_text[at] == full_text[at])
    ++at;
  if (at == prompt_text.size()) {
    return "the rendered prompt is a prefix of the rendered conversation, but its last "
           "characters " +
           excerpt_to(prompt_text, at, 16) + " tokenize together with the completion's first " +
           excerpt_from(full_text, at, 16) +
           " (tokens merge across the boundary): the generation prompt should end on a token "
           "boundary, as a newline or a special token does";
  }
  const std::string prompt_rest = prompt_text.substr(at, 64);
  const std::string full_rest = full_text.substr(at, 64);
  // Where the generation prompt starts, when the prompt's own turns render as a prefix of it.
  const bool turns_known =
      !prompt_turns.empty() && prompt_text.compare(0, prompt_turns.size(), prompt_turns) == 0;
  if (turns_known && at < prompt_turns.size()) {
    std::string what =
        "the template renders the prompt's own turns differently once the "
        "completion follows (it rewrites the history";
    if (contains(prompt_rest, "<think>") || contains(full_rest, "<think>"))
      what +=
          ": thinking blocks of earlier assistant turns are kept in one rendering and "
          "dropped in the other";
    return what + "): at byte " + std::to_string(at) + " the prompt has " +
           excerpt_from(prompt_text, at) + " where the conversation has " +
           excerpt_from(full_text, at);
  }
  // The generation prompt: what follows the prompt's turns (from the first differing byte
  // when the turns are unknown, or from an empty think block that byte falls in).
  size_t generation_begin = turns_known ? prompt_turns.size() : at;
  const size_t think = prompt_text.rfind("<think>");
  if (!turns_known && think != std::string::npos && think <= at)
    generation_begin = think;
  const std::string generation = prompt_text.substr(generation_begin);
  const size_t open = generation.find("<think>");
  const size_t close = generation.find("</think>");
  if (open != std::string::npos && close != std::string::npos && close > open &&
      trim_whitespace(generation.substr(open + 7, close - open - 7)).empty()) {
    return "the generation prompt ends with an empty thinking block " + json_quote(generation) +
           " (Qwen3's template with enable_thinking=false) that the conversation replaces with "
           "the completion's own reasoning " +
           excerpt_from(full_text, generation_begin + open, 48) +
           ": remove the <think> block from the completions, or render with thinking enabled";
  }
  return "the template's generation prompt " + json_quote(generation) +
         " is not how it starts the assistant turn in the conversation (" +
         excerpt_from(full_text, generation_begin) + " at byte " +
         std::to_string(generation_begin) +
         "): the prompt alone renders differently from the prompt followed by a completion";
}

namespace {}  // namespace

const char* length_policy_name(LengthPolicy policy) {
  switch (policy) {
    case LengthPolicy::drop:
      return "drop";
    case LengthPolicy::truncate_prompt_left:
      return "truncate_prompt_left";
    case LengthPolicy::truncate_completion:
      return "truncate_completion";
    case LengthPolicy::error:
      return "error";
  }
  return "?";
}

LengthPolicy parse_length_policy(std::string_view name) {
  for (LengthPolicy policy :
       {LengthPolicy::drop,
        LengthPolicy::truncate_prompt_left,
        LengthPolicy::truncate_completion,
        LengthPolicy::error}) {
    if (name == length_policy_name(policy))
      return policy;
  }
  throw UsageError(
      "unknown length policy '" + std::string(name) + "'",
      "use drop, truncate_prompt_left, truncate_completion or error");
}

const char* bos_policy_name(BosPolicy policy) {
  switch (policy) {
    case BosPolicy::as_template:
      return "as_template";
    case BosPolicy::if_missing:
      return "if_missing";
  }
  return "?";
}

BosPolicy parse_bos_policy(std::string_view name) {
  for (BosPolicy policy : {BosPolicy::as_template, BosPolicy::if_missing}) {
    if (name == bos_policy_name(policy))
      return policy;
  }
  throw UsageError(
      "unknown BOS policy '" + std::string(name) + "'",
      "use as_template (the ids as the chat template renders them, as TRL) or if_missing (add "
      "the tokenizer's BOS when the template wrote none)");
}

void PairEncodeCounts::merge(const PairEncodeCounts& o) {
  rows += o.rows;
  kept += o.kept;
  template_errors += o.template_errors;
  prefix_mismatches += o.prefix_mismatches;
  double_bos += o.double_bos;
  empty_completions += o.empty_completions;
  over_length += o.over_length;
  dropped_too_long += o.dropped_too_long;
  prompt_truncated += o.prompt_truncated;
  completion_truncated += o.completion_truncated;
  bos_added += o.bos_added;
  tokens_removed += o.tokens_removed;
  prompt_tokens += o.prompt_tokens;
  chosen_tokens += o.chosen_tokens;
  rejected_tokens += o.rejected_tokens;
}

PairEncoder::PairEncoder(
    const Tokenizer& tokenizer, RenderFunction render, PairEncoderOptions options)
    : tokenizer_(tokenizer), render_(std::move(render)), options_(options) {
  if (options_.max_length < 0) {
    throw UsageError("--max-length must be positive, got " + std::to_string(options_.max_length));
  }
}

std::vector<int32_t> PairEncoder::tokenize(
    const std::string& text, PairEncodeCounts& counts, Tokenizer::PieceMemo& memo) const {
  std::vector<int32_t> ids;
  tokenizer_.encode(text, ids, memo);
  if (options_.bos_policy == BosPolicy::if_missing && tokenizer_.add_bos_token() &&
      tokenizer_.bos_id() >= 0 && (ids.empty() || ids.front() != tokenizer_.bos_id())) {
    tokenizer_.add_bos_if_missing(ids);
    ++counts.bos_added;
  }
  return ids;
}

size_t PairEncoder::header_start(
    const std::vector<Message>& prompt,
    const std::string& rendered_prompt,
    const std::vector<int32_t>& prompt_ids) const {
  // The last prompt message with content (normally the final user turn).
  const Message* last = nullptr;
  for (auto it = prompt.rbegin(); it != prompt.rend() && last == nullptr; ++it) {
    if (!trim_whitespace(it->content).empty())
      last = &*it;
  }
  if (last == nullptr)
    return prompt_ids.size();
  std::string_view content = last->content;
  size_t pos = rendered_prompt.rfind(content);
  if (pos == std::string::npos) {  // templates that `| trim` the content
    content = trim_whitespace(content);
    pos = rendered_prompt.rfind(content);
  }
  if (pos == std::string::npos)
    return prompt_ids.size();
  PairEncodeCounts unused;
  Tokenizer::PieceMemo no_memo;
  std::vector<int32_t> head =
      tokenize(rendered_prompt.substr(0, pos + content.size()), unused, no_memo);
  // The common prefix, not head.size(): the last content token may merge with what follows.
  return common_prefix(head, prompt_ids);
}

PairEncodeResult PairEncoder::encode(
    const PreferenceRow& row, PairEncodeCounts& counts, std::string_view where) const {
  ++counts.rows;
  PairEncodeResult result;
  auto fail = [&](IssueCode code, const std::string& message) {
    result.issue = code;
    result.message = prefixed(where, message);
    return result;
  };

  // 1. Render: the prompt with the generation prompt, each full conversation without.
  std::string prompt_text, chosen_text, rejected_text;
  try {
    prompt_text = render_(row.prompt, true);
    std::vector<Message> conversation = row.prompt;
    conversation.insert(conversation.end(), row.chosen.begin(), row.chosen.end());
    chosen_text = render_(conversation, false);
    conversation.resize(row.prompt.size());
    conversation.insert(conversation.end(), row.rejected.begin(), row.rejected.end());
    rejected_text = render_(conversation, false);
  } catch (const Error& error) {
    ++counts.template_errors;
    return fail(IssueCode::template_error, error.message());
  }

  // 2. Tokenize; a sequence must not start with two BOS. The three texts share the prompt's
  // turns, which the memo encodes once.
  EncodedPair pair;
  Tokenizer::PieceMemo memo;
  pair.prompt = tokenize(prompt_text, counts, memo);
  std::vector<int32_t> full_chosen = tokenize(chosen_text, counts, memo);
  std::vector<int32_t> full_rejected = tokenize(rejected_text, counts, memo);
  for (const auto* ids : {&pair.prompt, &full_chosen, &full_rejected}) {
    if (tokenizer_.starts_with_double_bos(*ids)) {
      ++counts.double_bos;
      return fail(
          IssueCode::double_bos,
          "the tokens start with two BOS (" + tokenizer_.bos_token() +
              "): the template writes one and add_bos_token added another");
    }
  }

  // 3. The completions are what follows the prompt's tokens, never patched.
  for (const auto& [full, text, name] :
       {std::tuple{&full_chosen, &chosen_text, "chosen"},
        std::tuple{&full_rejected, &rejected_text, "rejected"}}) {
    if (!starts_with(*full, pair.prompt)) {
      ++counts.prefix_mismatches;
      size_t at = common_prefix(*full, pair.prompt);
      std::string got = at < full->size() ? tokenizer_.id_to_piece((*full)[at]) : "(end)";
      std::string want = tokenizer_.id_to_piece(pair.prompt[at]);
      // The prompt's turns alone, to tell a rewritten history from a different generation
      // prompt; rendered only for the rows that need a reason.
      std::string prompt_turns;
      try {
        prompt_turns = render_(row.prompt, false);
      } catch (const Error&) {
        prompt_turns.clear();
      }
      return fail(
          IssueCode::prefix_mismatch,
          std::string("the ") + name + " conversation's tokens differ from the prompt's at token " +
              std::to_string(at) + " of " + std::to_string(pair.prompt.size()) + " (" +
              json_quote(got) + " instead of " + json_quote(want) +
              "): " + describe_prefix_mismatch(prompt_text, *text, prompt_turns));
    }
  }
  pair.chosen.assign(
      full_chosen.begin() + static_cast<std::ptrdiff_t>(pair.prompt.size()), full_chosen.end());
  pair.rejected.assign(
      full_rejected.begin() + static_cast<std::ptrdiff_t>(pair.prompt.size()), full_rejected.end());
  if (pair.chosen.empty() || pair.rejected.empty()) {
    ++counts.empty_completions;
    bool chosen_empty = pair.chosen.empty();
    return fail(
        chosen_empty ? IssueCode::empty_chosen : IssueCode::empty_rejected,
        std::string("the ") + (chosen_empty ? "chosen" : "rejected") +
            " completion has no tokens after the prompt");
  }

  // 4. Length policy, per sequence: prompt + completion <= max_length.
  const int64_t max_length = options_.max_length;
  const int64_t prompt_size = static_cast<int64_t>(pair.prompt.size());
  const int64_t longest =
      prompt_size + static_cast<int64_t>(std::max(pair.chosen.size(), pair.rejected.size()));
  if (max_length > 0 && longest > max_length) {
    ++counts.over_length;
    const int64_t excess = longest - max_length;
    std::string lengths = "prompt " + std::to_string(prompt_size) + " + chosen " +
                          std::to_string(pair.chosen.size()) + " / rejected " +
                          std::to_string(pair.rejected.size()) + " tokens > max_length " +
                          std::to_string(max_length);
    auto drop = [&](const std::string& why) {
      ++counts.dropped_too_long;
      return fail(IssueCode::too_long, lengths + why);
    };
    switch (options_.length_policy) {
      case LengthPolicy::error:
        throw DataError(
            prefixed(where, "pair too long: " + lengths),
            "raise --max-length or choose another --length-policy");
      case LengthPolicy::drop:
        return drop("");
      case LengthPolicy::truncate_prompt_left: {
        // Cut from the left, after a leading BOS and before the assistant header.
        const size_t begin =
            (!pair.prompt.empty() && pair.prompt.front() == tokenizer_.bos_id()) ? 1 : 0;
        const size_t end = header_start(row.prompt, prompt_text, pair.prompt);
        if (end < begin || static_cast<int64_t>(end - begin) < excess) {
          return drop(
              "; the prompt cannot lose " + std::to_string(excess) +
              " tokens without cutting the BOS or the assistant header");
        }
        pair.prompt.erase(
            pair.prompt.begin() + static_cast<std::ptrdiff_t>(begin),
            pair.prompt.begin() + static_cast<std::ptrdiff_t>(begin + excess));
        pair.flags |= kPromptTruncated;
        ++counts.prompt_truncated;
        counts.tokens_removed += excess;
        result.issue = IssueCode::truncated;
        result.message = prefixed(
            where, "prompt cut by " + std::to_string(excess) + " tokens from the left: " + lengths);
        break;
      }
      case LengthPolicy::truncate_completion: {
        const int64_t room = max_length - prompt_size;
        if (room <= 0)
          return drop("; the prompt alone fills max_length");
        for (auto [ids, flag] :
             {std::pair{&pair.chosen, kChosenTruncated},
              std::pair{&pair.rejected, kRejectedTruncated}}) {
          if (static_cast<int64_t>(ids->size()) > room) {
            counts.tokens_removed += static_cast<int64_t>(ids->size()) - room;
            ids->resize(static_cast<size_t>(room));
            pair.flags |= flag;
          }
        }
        ++counts.completion_truncated;
        result.issue = IssueCode::truncated;
        result.message =
            prefixed(where, "completion cut to " + std::to_string(room) + " tokens: " + lengths);
        break;
      }
    }
  }

  ++counts.kept;
  counts.prompt_tokens += static_cast<int64_t>(pair.prompt.size());
  counts.chosen_tokens += static_cast<int64_t>(pair.chosen.size());
  counts.rejected_tokens += static_cast<int64_t>(pair.rejected.size());
  result.pair = std::move(pair);
  return result;
}

}  // namespace dpo
