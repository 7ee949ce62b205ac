// Unicode services of the tokenizer.json implementation, from ICU (Debian's libicu): the four
// normalisation forms and the character properties that Rust's char methods and the regex
// crate use inside the `tokenizers` library. ICU stays inside hf_unicode.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace dpo {

enum class UnicodeForm { nfc, nfd, nfkc, nfkd };

// `text` (valid UTF-8) in the given normalisation form, as the tokenizers library computes it:
// with the Unicode 9.0 data of its unicode-normalization-alignments crate (characters assigned
// later are left as they are).
std::string unicode_normalize(std::string_view text, UnicodeForm form);

// Rust's char::is_whitespace and the regex crate's \s: the White_Space property.
bool unicode_is_white_space(uint32_t c);
// Rust's char::is_numeric: general category Nd, Nl or No.
bool unicode_is_numeric(uint32_t c);
// The regex crate's \w: Alphabetic, M*, Nd, Pc or Join_Control.
bool unicode_is_word(uint32_t c);

}  // namespace dpo
