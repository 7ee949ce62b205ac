#include "data/issue_codes.h"

namespace dpo {

namespace {
const IssueInfo kIssues[] = {
    {IssueCode::invalid_json,
     "invalid_json",
     Severity::error,
     "the record is not valid JSON (or a JSON array file is malformed)"},
    {IssueCode::invalid_utf8,
     "invalid_utf8",
     Severity::error,
     "the record contains bytes that are not valid UTF-8"},
    {IssueCode::missing_field,
     "missing_field",
     Severity::error,
     "a field the format needs is absent"},
    {IssueCode::wrong_type,
     "wrong_type",
     Severity::error,
     "a field has the wrong JSON type (a number where a string belongs, ...)"},
    {IssueCode::invalid_value,
     "invalid_value",
     Severity::error,
     "a field has a value outside its allowed set (preference, split)"},
    {IssueCode::empty_prompt,
     "empty_prompt",
     Severity::error,
     "the prompt has no non-whitespace user content"},
    {IssueCode::empty_chosen,
     "empty_chosen",
     Severity::error,
     "the chosen response is empty or whitespace only"},
    {IssueCode::empty_rejected,
     "empty_rejected",
     Severity::error,
     "the rejected response is empty or whitespace only"},
    {IssueCode::chosen_equals_rejected,
     "chosen_equals_rejected",
     Severity::error,
     "chosen and rejected are identical after trimming whitespace"},
    {IssueCode::bad_role_order,
     "bad_role_order",
     Severity::error,
     "roles are out of order: system not first, no final user turn before the answer, a "
     "completion not from the assistant, or an unknown role"},
    {IssueCode::prompt_mismatch,
     "prompt_mismatch",
     Severity::error,
     "chosen and rejected conversations disagree before the final assistant turn, or do not "
     "start with the given prompt"},
    {IssueCode::record_too_large,
     "record_too_large",
     Severity::error,
     "the record is longer than --max-record-bytes and was skipped unread"},
    {IssueCode::duplicate_key,
     "duplicate_key",
     Severity::error,
     "an object of the record (the row, a message, metadata) holds the same key twice; which "
     "one counts would be up to the reader, so the row is refused"},
    {IssueCode::near_identical_responses,
     "near_identical_responses",
     Severity::warning,
     "chosen and rejected are nearly identical (edit-distance similarity above the threshold)"},
    {IssueCode::duplicate_pair,
     "duplicate_pair",
     Severity::warning,
     "the same prompt, chosen and rejected as an earlier row"},
    {IssueCode::conflicting_pair,
     "conflicting_pair",
     Severity::warning,
     "the same prompt and responses as an earlier row with chosen and rejected swapped"},
    {IssueCode::duplicate_prompt_across_splits,
     "duplicate_prompt_across_splits",
     Severity::warning,
     "a prompt occurs in both the train and the held-out split (only possible when rows "
     "request their split)"},
    {IssueCode::special_tokens_in_content,
     "special_tokens_in_content",
     Severity::warning,
     "message content contains a chat-template special token such as <|im_start|> or [INST]"},
    {IssueCode::tie_or_both_bad,
     "tie_or_both_bad",
     Severity::warning,
     "the row's judgment is tie or both_bad; it is excluded from the pairs"},
    {IssueCode::reviewer_disagreement,
     "reviewer_disagreement",
     Severity::warning,
     "different reviewers judged the same comparison (same prompt and responses, in either "
     "order) the opposite way; agreement is measured by kappa (low_agreement)"},
    {IssueCode::invalid_timestamp,
     "invalid_timestamp",
     Severity::warning,
     "the timestamp field is neither ISO 8601 nor epoch seconds, or lies after the reference "
     "date (--as-of); the pair is left out of the age statistics"},
    {IssueCode::length_bias,
     "length_bias",
     Severity::warning,
     "among the pairs whose responses differ in length, the fraction whose chosen response is "
     "the longer one is outside the allowed range (verbosity bias); pairs of equal length are "
     "counted apart"},
    {IssueCode::low_agreement,
     "low_agreement",
     Severity::warning,
     "reviewers who judged the same comparisons agree less than the warning threshold (Cohen's "
     "or Fleiss' kappa), overall or in a slice: the guidelines may be ambiguous"},
    {IssueCode::reviewer_length_preference,
     "reviewer_length_preference",
     Severity::warning,
     "a reviewer picks the longer response much more (or less) often than the other reviewers"},
    {IssueCode::stale_pairs,
     "stale_pairs",
     Severity::warning,
     "some pairs are older than the maximum age (--max-age-days) relative to the reference date"},
    {IssueCode::template_error,
     "template_error",
     Severity::error,
     "the chat template failed to render the row (raise_exception or an unsupported value)"},
    {IssueCode::prefix_mismatch,
     "prefix_mismatch",
     Severity::error,
     "the tokens of the full conversation do not start with the tokens of the prompt rendered "
     "with add_generation_prompt=true (the template renders the prompt differently once the "
     "answer follows)"},
    {IssueCode::double_bos,
     "double_bos",
     Severity::error,
     "the token sequence starts with two BOS tokens (the template writes one and another was "
     "added)"},
    {IssueCode::too_long,
     "too_long",
     Severity::error,
     "prompt + completion is longer than --max-length and the length policy dropped the pair"},
    {IssueCode::truncated,
     "truncated",
     Severity::warning,
     "prompt or completion was cut to fit --max-length (truncate_prompt_left, "
     "truncate_completion)"},
};
static_assert(sizeof(kIssues) / sizeof(kIssues[0]) == kIssueCodeCount, "one entry per code");
}  // namespace

const char* severity_name(Severity severity) {
  return severity == Severity::error ? "error" : "warning";
}

const IssueInfo& issue_info(IssueCode code) {
  return kIssues[static_cast<int>(code)];
}

}  // namespace dpo
