// UTF-8 decoding and encoding, and Python's notion of whitespace: the one implementation shared
// by the data checks (core/text.h), the tokenizer (added tokens' lstrip/rstrip, as transformers
// does them) and the template engine (Python's str methods), so that all three agree on what a
// well-formed character and a space are.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace dpo {

// What decode_utf8_at returns for a byte that does not start a well-formed sequence.
constexpr uint32_t kInvalidCodePoint = 0xFFFFFFFF;

// True for a byte of the form 10xxxxxx (not the first byte of a character).
inline bool is_utf8_continuation(unsigned char byte) {
  return (byte & 0xC0) == 0x80;
}

// Decodes the character that starts at text[pos] (pos < text.size()) and sets `length` to its
// number of bytes. A sequence that is cut short, overlong, a UTF-16 surrogate or above U+10FFFF,
// or a byte that cannot start one, gives kInvalidCodePoint with length 1 (the caller decides
// what a stray byte becomes). Inline: the validator calls it for every non-ASCII character.
inline uint32_t decode_utf8_at(std::string_view text, size_t pos, size_t& length) {
  const unsigned char lead = static_cast<unsigned char>(text[pos]);
  length = 1;
  if (lead < 0x80)
    return lead;
  size_t bytes;
  uint32_t code;
  uint32_t minimum;
  if (lead >= 0xC2 && lead <= 0xDF) {
    bytes = 2, code = lead & 0x1F, minimum = 0x80;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    bytes = 3, code = lead & 0x0F, minimum = 0x800;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    bytes = 4, code = lead & 0x07, minimum = 0x10000;
  } else {
    return kInvalidCodePoint;  // a continuation byte, C0/C1 (always overlong) or F5-FF
  }
  if (bytes > text.size() - pos)
    return kInvalidCodePoint;
  for (size_t k = 1; k < bytes; ++k) {
    const unsigned char next = static_cast<unsigned char>(text[pos + k]);
    if (!is_utf8_continuation(next))
      return kInvalidCodePoint;
    code = (code << 6) | (next & 0x3F);
  }
  if (code < minimum || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) {
    return kInvalidCodePoint;
  }
  length = bytes;
  return code;
}

// Appends the UTF-8 bytes of `code_point` (<= U+10FFFF). Surrogates are written as their
// three bytes, which is what callers that carry stray bytes as U+DC80-U+DCFF map back first.
void append_utf8(uint32_t code_point, std::string& out);

// Python's str.isspace() for one code point: \t-\r, \x1c-\x1f, space, U+0085, U+00A0, U+1680,
// U+2000-U+200A, U+2028, U+2029, U+202F, U+205F, U+3000 (Unicode White_Space plus the four
// ASCII separators Python counts). kInvalidCodePoint is not a space.
bool is_python_space(uint32_t c);

}  // namespace dpo
