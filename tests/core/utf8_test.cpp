// core/utf8.h: the UTF-8 decoder and Python whitespace shared by the data checks, the tokenizer
// and the template engine.
#include "core/utf8.h"

#include <gtest/gtest.h>

#include <iterator>

#include "core/text.h"

namespace dpo {
namespace {

uint32_t decode(std::string_view text, size_t pos, size_t* length) {
  return decode_utf8_at(text, pos, *length);
}

TEST(Utf8, EveryScalarValueRoundTrips) {
  size_t length = 0;
  for (uint32_t c = 0; c <= 0x10FFFF; ++c) {
    if (c == 0xD800)
      c = 0xE000;  // surrogates are not scalar values
    std::string bytes;
    append_utf8(c, bytes);
    ASSERT_EQ(bytes.size(), c < 0x80 ? 1u : c < 0x800 ? 2u : c < 0x10000 ? 3u : 4u) << c;
    ASSERT_EQ(decode(bytes, 0, &length), c) << c;
    ASSERT_EQ(length, bytes.size()) << c;
    ASSERT_TRUE(is_valid_utf8(bytes)) << c;
  }
}

TEST(Utf8, MalformedSequencesAreOneInvalidByte) {
  size_t length = 0;
  for (std::string_view bad : {
           std::string_view("\x80"),              // a lone continuation byte
           std::string_view("\xC0\xAF"),          // overlong '/'
           std::string_view("\xC1\xBF"),          // overlong
           std::string_view("\xE0\x80\xAF"),      // overlong '/' in three bytes
           std::string_view("\xED\xA0\x80"),      // U+D800, a UTF-16 surrogate
           std::string_view("\xF4\x90\x80\x80"),  // U+110000, beyond Unicode
           std::string_view("\xF5\x80\x80\x80"),  // a lead byte that cannot occur
           std::string_view("\xFF"),
           std::string_view("\xE2\x82"),  // cut short
           std::string_view("\xE2\x82"
                            "A"),  // a continuation missing
       }) {
    EXPECT_EQ(decode(bad, 0, &length), kInvalidCodePoint) << testing::PrintToString(bad);
    EXPECT_EQ(length, 1u);
    EXPECT_EQ(first_invalid_utf8(bad), 0u);
  }
  // Decoding starts where asked: the 'é' after "a".
  EXPECT_EQ(decode("a\xC3\xA9", 1, &length), 0xE9u);
  EXPECT_EQ(length, 2u);
}

TEST(Utf8, PythonWhitespaceIsStrIsspace) {
  // The code points for which Python 3's str.isspace() is true:
  // [c for c in range(0x110000) if chr(c).isspace()]
  const uint32_t kPython[] = {0x09,   0x0A,   0x0B,   0x0C,   0x0D,   0x1C,   0x1D,   0x1E,
                              0x1F,   0x20,   0x85,   0xA0,   0x1680, 0x2000, 0x2001, 0x2002,
                              0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200A,
                              0x2028, 0x2029, 0x202F, 0x205F, 0x3000};
  size_t next = 0;
  for (uint32_t c = 0; c <= 0x10FFFF; ++c) {
    bool expected = next < std::size(kPython) && kPython[next] == c;
    if (expected)
      ++next;
    ASSERT_EQ(is_python_space(c), expected) << std::hex << c;
  }
  EXPECT_FALSE(is_python_space(kInvalidCodePoint));
  EXPECT_FALSE(is_python_space(0x200B));  // zero width space is not whitespace
}

TEST(Utf8, ContinuationBytes) {
  EXPECT_TRUE(is_utf8_continuation(0x80));
  EXPECT_TRUE(is_utf8_continuation(0xBF));
  EXPECT_FALSE(is_utf8_continuation('a'));
  EXPECT_FALSE(is_utf8_continuation(0xC3));
}

}  // namespace
}  // namespace dpo
