// The stable codes of everything `dpo validate` (and later `dpo prepare`) can find in a
// dataset. Names, severities and descriptions live in one table (issue_codes.cpp) and are
// documented in docs/data-formats.md; reports and tests refer to them by name.
#pragma once

#include <string>

namespace dpo {

enum class Severity { error, warning };
const char* severity_name(Severity severity);

enum class IssueCode {
  // Row errors: the row cannot be trained on and is rejected.
  invalid_json,
  invalid_utf8,
  missing_field,
  wrong_type,
  invalid_value,
  empty_prompt,
  empty_chosen,
  empty_rejected,
  chosen_equals_rejected,
  bad_role_order,
  prompt_mismatch,
  record_too_large,
  duplicate_key,
  // Row warnings: the row is kept (or, for ties, excluded) but deserves a look.
  near_identical_responses,
  duplicate_pair,
  conflicting_pair,
  duplicate_prompt_across_splits,
  special_tokens_in_content,
  tie_or_both_bad,
  reviewer_disagreement,
  invalid_timestamp,
  // Dataset warnings.
  length_bias,
  low_agreement,
  reviewer_length_preference,
  stale_pairs,
  // Tokenization (`dpo prepare`): row errors and warnings found when encoding a pair.
  template_error,
  prefix_mismatch,
  double_bos,
  too_long,
  truncated,
  kCount
};

struct IssueInfo {
  IssueCode code;
  const char* name;
  Severity severity;
  const char* description;
};

const IssueInfo& issue_info(IssueCode code);
inline const char* issue_name(IssueCode code) {
  return issue_info(code).name;
}
inline Severity issue_severity(IssueCode code) {
  return issue_info(code).severity;
}
constexpr int kIssueCodeCount = static_cast<int>(IssueCode::kCount);

}  // namespace dpo
