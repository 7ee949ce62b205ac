// How alike two responses are, for the near_identical_responses warning.
//
// similarity(a, b) = 1 - levenshtein(a, b) / max(|a|, |b|), over the UTF-8 bytes of the two
// texts after trimming surrounding whitespace (1.0 for two empty texts). The distance is
// computed only as far as the threshold needs: a length difference alone can rule a pair out,
// common prefixes and suffixes are skipped, and the dynamic programme runs in a diagonal band
// of width 2k+1 (k = the largest distance still above the threshold), stopping as soon as the
// whole band exceeds k. Cost O(k * n) in the worst case, O(1) for most dissimilar pairs.
#pragma once

#include <string_view>

namespace dpo {

// True when similarity(a, b) >= threshold; `similarity` receives the exact value then.
bool similar_at_least(std::string_view a, std::string_view b, double threshold, double* similarity);

// Exact levenshtein distance when it is <= max_distance, otherwise max_distance + 1.
size_t bounded_levenshtein(std::string_view a, std::string_view b, size_t max_distance);

}  // namespace dpo
