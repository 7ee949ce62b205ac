#include "core/text.h"

#include <gtest/gtest.h>

namespace dpo {
namespace {

TEST(Text, TrimAndBlank) {
  EXPECT_EQ(trim_whitespace("  a b \n\t"), "a b");
  EXPECT_EQ(trim_whitespace(""), "");
  EXPECT_TRUE(is_blank(" \r\n\t "));
  EXPECT_FALSE(is_blank(" x "));
}

TEST(Text, CountsCodePointsNotBytes) {
  EXPECT_EQ(count_code_points("abc"), 3u);
  EXPECT_EQ(count_code_points("Zoë"), 3u);               // ë is 2 bytes
  EXPECT_EQ(count_code_points("退款"), 2u);              // 3 bytes each
  EXPECT_EQ(count_code_points("\xF0\x9F\x98\x80"), 1u);  // an emoji, 4 bytes
}

TEST(Text, Utf8Validation) {
  EXPECT_TRUE(is_valid_utf8("plain ascii"));
  EXPECT_TRUE(is_valid_utf8("Malmö 退款 \xF0\x9F\x98\x80"));
  EXPECT_EQ(first_invalid_utf8("ok\xFF\xFE"), 2u);
  EXPECT_EQ(first_invalid_utf8("\xC0\xAF"), 0u);        // overlong '/'
  EXPECT_EQ(first_invalid_utf8("ab\xED\xA0\x80"), 2u);  // a UTF-16 surrogate
  EXPECT_EQ(first_invalid_utf8("abc\xE2\x82"), 3u);     // cut inside a character
  EXPECT_EQ(first_invalid_utf8("fine"), std::string_view::npos);
}

TEST(Text, MatchingKeyCollapsesWhitespaceAndCase) {
  std::string a, b;
  append_matching_key("  Hello,\n\n  World ", a);
  append_matching_key("hello, world", b);
  EXPECT_EQ(a, "hello, world");
  EXPECT_EQ(a, b);
}

TEST(Text, ExcerptIsOneLineAndCutAtACharacterBoundary) {
  EXPECT_EQ(excerpt_for_message("a\nb", 10), "a\\nb");
  std::string cut = excerpt_for_message("ééééé", 3);  // 2 bytes each
  EXPECT_EQ(cut, "éé...");
}

TEST(Text, JsonQuoteEscapes) {
  EXPECT_EQ(json_quote("a\"b\\c\n\x01"), "\"a\\\"b\\\\c\\n\\u0001\"");
  EXPECT_EQ(json_quote("Zoë"), "\"Zoë\"");
  EXPECT_EQ(json_quote("\b\f\x7f"), "\"\\b\\f\x7f\"");  // as Python's json.dumps
}

// The bytes of Python's markupsafe.escape: Jinja2 autoescaping and the HTML reports use it.
TEST(Text, HtmlEscapeMatchesMarkupsafe) {
  EXPECT_EQ(
      html_escape("<a href=\"x\">'&'</a>"), "&lt;a href=&#34;x&#34;&gt;&#39;&amp;&#39;&lt;/a&gt;");
  EXPECT_EQ(html_escape("plain ünïcode"), "plain ünïcode");
}

TEST(Printable, LeavesOrdinaryTextAlone) {
  EXPECT_EQ(
      printable("models/qwen2.5 (copy)/tokenizer.json"), "models/qwen2.5 (copy)/tokenizer.json");
  EXPECT_EQ(printable("d\xC3\xA9j\xC3\xA0 \xE4\xB8\xAD"), "d\xC3\xA9j\xC3\xA0 \xE4\xB8\xAD");
  EXPECT_EQ(printable("C:\\runs"), "C:\\runs");  // a lone backslash needs no escape
  EXPECT_EQ(printable(""), "");
}

TEST(Printable, EscapesControlBytesAndInvalidUtf8) {
  EXPECT_EQ(printable("a\x1b[2Jb"), "a\\x1b[2Jb");
  EXPECT_EQ(printable(std::string("a\0b", 3)), "a\\x00b");
  EXPECT_EQ(printable("l1\nl2\tx\r"), "l1\\nl2\\tx\\r");
  EXPECT_EQ(printable("\x7f"), "\\x7f");
  EXPECT_EQ(printable("bad\xFF\xC3"), "bad\\xff\\xc3");
  EXPECT_EQ(
      printable("\xC2\x9B"
                "31m"),
      "\\u009b31m");  // C1 CSI
  // Once something is escaped, original backslashes are doubled so the output is unambiguous.
  EXPECT_EQ(printable("a\\x00\x01"), "a\\\\x00\\x01");
}

}  // namespace
}  // namespace dpo
