// The regular expressions of a tokenizer.json (Split pre-tokenizers, Replace normalizers and
// decoders), compiled once with PCRE2 (UTF, UCP, JIT where available) and iterated with the
// semantics of the Oniguruma engine the `tokenizers` library uses:
//   - `\s` is Unicode White_Space (Oniguruma's), not PCRE2's UCP space (which adds U+180E);
//     `\h` is a hex digit (Ruby syntax), `^`/`$` match at line breaks (Ruby syntax);
//   - an empty match right after the previous match is skipped, as onig's find_iter does.
// Classes such as \p{L} and \p{N} come from PCRE2's Unicode tables (Unicode 14 in Debian 12's
// 10.42); characters assigned in later Unicode versions are the one known difference.
// PCRE2 stays inside hf_regex.cpp.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dpo {

class HfRegex {
 public:
  // Compiles `pattern`; throws ConfigError "<where>: regex ... rejected by PCRE2: <message> at
  // offset N" when PCRE2 refuses it.
  HfRegex(const std::string& pattern, const std::string& where);
  // A pattern matching `text` literally (tokenizers' String patterns).
  static HfRegex literal(const std::string& text, const std::string& where);
  ~HfRegex();
  HfRegex(HfRegex&&) noexcept;
  HfRegex& operator=(HfRegex&&) noexcept;

  // The (start, end) byte offsets of the successive non-overlapping matches in `text`
  // (valid UTF-8), appended to `out`. Thread-safe.
  void find_all(std::string_view text, std::vector<std::pair<size_t, size_t>>& out) const;

  // The PCRE2 pattern actually compiled (after the Oniguruma rewrites), for messages and tests.
  const std::string& compiled_pattern() const;

 private:
  HfRegex() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dpo
