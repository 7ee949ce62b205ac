// The template lexer: Jinja2's whitespace rules (trim_blocks, lstrip_blocks, - and +),
// comments, raw blocks, literals, newline handling, and syntax errors with line and column.
#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <utility>

#include "core/error.h"
#include "templates/jinja/template.h"
#include "tests/templates/jinja_test_helpers.h"

namespace dpo::jinja {
namespace {

TEST(JinjaLexer, TrimBlocksRemovesTheNewlineAfterABlockTag) {
  EXPECT_EQ(render("{% if true %}\nyes\n{% endif %}\nafter"), "yes\nafter");
  // Not after an expression.
  EXPECT_EQ(render("{{ 'a' }}\nb"), "a\nb");
}

TEST(JinjaLexer, LstripBlocksRemovesIndentationBeforeBlockTagsOnly) {
  EXPECT_EQ(render("  {% if true %}x{% endif %}"), "x");
  EXPECT_EQ(
      render("line\n    {% if true %}\n    body\n    {% endif %}\nend"), "line\n    body\nend");
  EXPECT_EQ(render("text  {% if true %}y{% endif %}"), "text  y");  // not at line start
  EXPECT_EQ(render("  {{ 'v' }}"), "  v");                          // expressions keep it
  EXPECT_EQ(render("\t{# comment #}\nx"), "x");                     // comments too
}

TEST(JinjaLexer, MinusStripsAllWhitespaceOnThatSide) {
  EXPECT_EQ(render("a  \n {%- if true -%} \n b \n {%- endif -%}  c"), "abc");
  EXPECT_EQ(render("x {{- ' y ' -}} z"), "x y z");
  EXPECT_EQ(render("a {#- comment -#}\n\n b"), "ab");
  // Unicode whitespace counts, as Python's \s does.
  EXPECT_EQ(render("a\u3000{{- 'b' }}"), "ab");
}

TEST(JinjaLexer, PlusKeepsWhatTrimAndLstripWouldRemove) {
  EXPECT_EQ(render("  {%+ if true %}x{% endif +%}\ny"), "  x\ny");
}

TEST(JinjaLexer, OneTrailingNewlineIsDroppedAndCarriageReturnsBecomeNewlines) {
  EXPECT_EQ(render("x\n"), "x");
  EXPECT_EQ(render("x\n\n"), "x\n");
  EXPECT_EQ(render("a\r\nb\rc"), "a\nb\nc");
  EXPECT_EQ(render("{{ 'in\r\nliteral' }}"), "in\nliteral");
}

TEST(JinjaLexer, CommentsAndRawBlocksProduceNoTags) {
  EXPECT_EQ(render("a{# {{ not rendered }} #}b"), "ab");
  EXPECT_EQ(render("{% raw %}{{ x }} {% if %}{% endraw %}"), "{{ x }} {% if %}");
  EXPECT_EQ(render("{%- raw -%}  {{ y }}  {%- endraw -%}|"), "{{ y }}|");
}

TEST(JinjaLexer, StringLiteralsDecodePythonEscapes) {
  EXPECT_EQ(render(R"({{ 'a\nb\t\'\"\\' }})"), "a\nb\t'\"\\");
  EXPECT_EQ(
      render(R"({{ '\x41\u00e9\101\U0001F600' }})"),
      "A\xC3\xA9"
      "A\xF0\x9F\x98\x80");
  EXPECT_EQ(render(R"({{ '\d' }})"), "\\d");  // unknown escapes stay
  EXPECT_EQ(render("{{ \"adjacent \" 'literals' }}"), "adjacent literals");
  EXPECT_EQ(render("{{ 'braces }} inside' }}"), "braces }} inside");
}

TEST(JinjaLexer, NumberLiterals) {
  EXPECT_EQ(
      render("{{ 1_000 }} {{ 0x1F }} {{ 0o17 }} {{ 0b101 }} {{ 1.5e3 }} {{ 2.50 }} {{ 1e-7 }}"),
      "1000 31 15 5 1500.0 2.5 1e-07");
}

TEST(JinjaLexer, NestedBracesInsideAnExpressionDoNotEndIt) {
  EXPECT_EQ(render("{{ {'a': {'b': 1}}['a']['b'] }}"), "1");
}

TEST(JinjaLexer, SyntaxErrorsNameLineAndColumn) {
  EXPECT_EQ(
      error_of("ok\n  {{ 'unterminated }}").find("t.jinja:2:6: unterminated string literal"), 0u)
      << error_of("ok\n  {{ 'unterminated }}");
  EXPECT_NE(
      error_of("{# never closed").find("t.jinja:1:3: missing end of comment tag"),
      std::string::npos);
  EXPECT_NE(
      error_of("{{ (1, 2 }}").find("t.jinja:1:10: unexpected '}', expected ')'"), std::string::npos)
      << error_of("{{ (1, 2 }}");
  EXPECT_NE(
      error_of("{{ 1 $ 2 }}").find("t.jinja:1:6: unexpected character '$'"), std::string::npos);
  EXPECT_NE(error_of("{{ x").find("t.jinja:1:1: unexpected end of template"), std::string::npos);
  EXPECT_NE(error_of("{{ 99999999999999999999 }}").find("too large"), std::string::npos);
}

TEST(JinjaLexer, ColumnsCountCodePoints) {
  EXPECT_NE(error_of("é€{{ $ }}").find("t.jinja:1:6:"), std::string::npos) << error_of("é€{{ $ }}");
}

TEST(JinjaLexer, SyntaxErrorsAreConfigErrors) {
  EXPECT_THROW(Template("{% if %}", "x"), ConfigError);
}

}  // namespace
}  // namespace dpo::jinja
