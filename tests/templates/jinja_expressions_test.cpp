// Template expressions with Python semantics: arithmetic, printing, comparisons, literals,
// indexing and slicing, attribute/item access, undefined values and tests.
#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <utility>

#include "core/error.h"
#include "templates/jinja/template.h"
#include "tests/templates/jinja_test_helpers.h"

namespace dpo::jinja {
namespace {

TEST(JinjaExpressions, ArithmeticFollowsPython) {
  EXPECT_EQ(
      render("{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 // -2 }} {{ -7 % 3 }} {{ 7 % -3 }}"), "3 -4 -4 2 -2");
  EXPECT_EQ(render("{{ 7.5 // 2 }} {{ -7.5 % 2 }} {{ 10 / 4 }} {{ 10 / 5 }}"), "3.0 0.5 2.5 2.0");
  EXPECT_EQ(render("{{ 2 ** 10 }} {{ 2 ** -1 }} {{ 2 ** 3 ** 2 }} {{ -2 ** 2 }}"), "1024 0.5 64 4");
  EXPECT_EQ(render("{{ 1 + 2 * 3 - 4 }} {{ true + 1 }} {{ 1 + 2.0 }}"), "3 2 3.0");
}

TEST(JinjaExpressions, FloatsPrintLikePythonRepr) {
  EXPECT_EQ(
      render(
          "{{ 1.0 }} {{ 0.1 + 0.2 }} {{ 1e16 }} {{ 1e15 }} {{ 1.5e-5 }} {{ 0.0001 }} {{ -0.0 }}"),
      "1.0 0.30000000000000004 1e+16 1000000000000000.0 1.5e-05 0.0001 -0.0");
  EXPECT_EQ(
      render("{{ 1 / 3 }} {{ 123456789012345678.0 }}"),
      "0.3333333333333333 1.2345678901234568e+17");
}

TEST(JinjaExpressions, StringConcatenationRepetitionAndFormatting) {
  EXPECT_EQ(
      render("{{ 'a' + 'b' }} {{ 'a' ~ 1 ~ none ~ true ~ 1.5 }} {{ 'ab' * 3 }} {{ 2 * 'x' }}"),
      "ab a1NoneTrue1.5 ababab xx");
  EXPECT_EQ(render("{{ '%s=%d' % ('n', 3) }} {{ '{} {x}'.format(1, x='y') }}"), "n=3 1 y");
}

TEST(JinjaExpressions, ValuesPrintAsPythonStrDoes) {
  EXPECT_EQ(
      render("{{ [1, 'a', none, true, (1,), {'k': 'v'}] }}"),
      "[1, 'a', None, True, (1,), {'k': 'v'}]");
  EXPECT_EQ(render("{{ (1, 2) }} {{ () }} {{ (1) }} {{ [\"it's\"] }}"), "(1, 2) () 1 [\"it's\"]");
  EXPECT_EQ(render("{{ ['é', '\\n'] }}"), "['é', '\\n']");
}

TEST(JinjaExpressions, ComparisonsChainAndMixTypesLikePython) {
  EXPECT_EQ(
      render("{{ 1 < 2 < 3 }} {{ 3 > 2 >= 2 }} {{ 1 == 1.0 }} {{ 1 == true }} {{ [1] == [1] }}"),
      "True True True True True");
  EXPECT_EQ(
      render("{{ (1,) == [1] }} {{ 'a' == 1 }} {{ none == none }} {{ [1, 2] < [1, 3] }}"),
      "False False True True");
  EXPECT_NE(
      error_of("{{ 1 < 'a' }}").find("'<' not supported between instances of 'int' and 'str'"),
      std::string::npos);
}

TEST(JinjaExpressions, LogicReturnsOperandsAndInTestsMembership) {
  EXPECT_EQ(
      render("{{ 1 and 2 }} {{ 0 and 2 }} {{ 0 or 'y' }} {{ not '' }} {{ not (1 and 0) }}"),
      "2 0 y True True");
  EXPECT_EQ(
      render("{{ 'ell' in 'hello' }} {{ 1 in [1, 2] }} {{ 'k' in {'k': 1} }} {{ 3 not in [1] }}"),
      "True True True True");
}

TEST(JinjaExpressions, InlineIfWithAndWithoutElse) {
  EXPECT_EQ(render("{{ 'a' if true else 'b' }} {{ 'a' if none else 'b' if 0 else 'c' }}"), "a c");
  EXPECT_EQ(render("[{{ 'a' if false }}] {{ ('a' if false) is defined }}"), "[] False");
}

TEST(JinjaExpressions, IndexingAndSlicing) {
  Globals g = {
      {"s", Value::string("héllo")},
      {"l", Value::list({Value::integer(1), Value::integer(2), Value::integer(3)})}};
  EXPECT_EQ(
      render("{{ s[1] }} {{ s[-1] }} {{ s[1:3] }} {{ s[::-1] }} {{ s[::2] }}", g),
      "é o él olléh hlo");
  EXPECT_EQ(
      render("{{ l[1:] }} {{ l[:-1] }} {{ l[::-1] }} {{ l[-1] }} {{ l.0 }}", g),
      "[2, 3] [1, 2] [3, 2, 1] 3 1");
  EXPECT_EQ(render("[{{ l[10] }}] {{ l[10] is defined }}", g), "[] False");  // missing: undefined
}

TEST(JinjaExpressions, AttributesFallBackToItemsAndItemsToAttributes) {
  Globals g = {{"messages", conversation({{"user", "hi"}})}};
  EXPECT_EQ(
      render("{{ messages[0].content }} {{ messages[0]['content'] }} {{ messages.0.role }}", g),
      "hi hi user");
  // d.items is the method even when there is an 'items' key; d['items'] is the key.
  Value d = Value::dict();
  d.dict_data().set(Value::string("items"), Value::string("key"));
  EXPECT_EQ(
      render("{{ d['items'] }} {{ d.items() | list }}", {{"d", d}}), "key [('items', 'key')]");
}

TEST(JinjaExpressions, UndefinedBehavesLikeJinja2DefaultUndefined) {
  EXPECT_EQ(
      render("[{{ nope }}] {{ nope is defined }} {{ nope is undefined }} {{ not nope }} {{ nope ~ "
             "'x' }}"),
      "[] False True True x");
  EXPECT_EQ(
      render("{{ nope | length }} {{ nope | default('d') }} {{ 'a' in nope }} {{ nope == none }}"),
      "0 d False False");
  EXPECT_EQ(render("{% for x in nope %}{{ x }}{% else %}empty{% endfor %}"), "empty");
  Value d = Value::dict();
  EXPECT_EQ(render("[{{ d.missing }}] [{{ none.anything }}]", {{"d", d}}), "[] []");
}

TEST(JinjaExpressions, UsingAnUndefinedValueIsAnErrorNamingIt) {
  EXPECT_NE(
      error_of("{{ nope.attr }}")
          .find("t.jinja:1:8: rendering failed: undefined value: 'nope' is undefined"),
      std::string::npos)
      << error_of("{{ nope.attr }}");
  Value d = Value::dict();
  EXPECT_NE(
      error_of("{{ d.missing.deeper }}", {{"d", d}})
          .find("'dict object' has no attribute 'missing'"),
      std::string::npos);
  EXPECT_NE(error_of("{{ nope + 1 }}").find("'nope' is undefined"), std::string::npos);
  EXPECT_NE(error_of("{{ nope() }}").find("'nope' is undefined"), std::string::npos);
  EXPECT_THROW(render("{{ nope | tojson }}"), DataError);
}

TEST(JinjaExpressions, Tests) {
  EXPECT_EQ(
      render("{{ none is none }}{{ 1 is number }}{{ true is number }}{{ 1 is integer }}{{ true is "
             "integer }}"
             "{{ 1.0 is float }}{{ 's' is string }}{{ {} is mapping }}{{ [] is mapping }}"),
      "TrueTrueTrueTrueFalseTrueTrueTrueFalse");
  EXPECT_EQ(
      render("{{ 's' is sequence }}{{ {} is sequence }}{{ 1 is sequence }}{{ 's' is iterable }}{{ "
             "1 is iterable }}"),
      "TrueTrueFalseTrueFalse");
  EXPECT_EQ(
      render("{{ true is true }}{{ 1 is true }}{{ false is false }}{{ 0 is false }}{{ true is "
             "boolean }}"),
      "TrueFalseTrueFalseTrue");
  EXPECT_EQ(
      render("{{ 3 is odd }}{{ 4 is even }}{{ 9 is divisibleby 3 }}{{ 9 is divisibleby(2) }}{{ 2 "
             "is in [1, 2] }}"),
      "TrueTrueTrueFalseTrue");
  EXPECT_EQ(
      render("{{ 1 is eq 1 }}{{ 1 is equalto 2 }}{{ 1 is ne 2 }}{{ 2 is gt 1 }}{{ 2 is le 1 }}"),
      "TrueFalseTrueTrueFalse");
  EXPECT_EQ(render("{{ [1, 2, 3] | select('==', 2) | list }}"), "[2]");
  EXPECT_EQ(
      render("{{ 1 is not odd }}{{ nope is not defined }}{{ 'abc' is lower }}{{ 'ABC' is upper }}"),
      "FalseTrueTrueTrue");
}

TEST(JinjaExpressions, LiteralsOfEveryKind) {
  EXPECT_EQ(
      render(
          "{{ true }} {{ True }} {{ false }} {{ none }} {{ None }} {{ [1, 2,] }} {{ {'a': 1,} }}"),
      "True True False None None [1, 2] {'a': 1}");
  EXPECT_EQ(render("{{ {'a': 1, 'a': 2} }}"), "{'a': 2}");
}

TEST(JinjaExpressions, IntegerOverflowIsAnErrorNotAWrongNumber) {
  EXPECT_NE(error_of("{{ 9223372036854775807 + 1 }}").find("64-bit"), std::string::npos);
  EXPECT_NE(error_of("{{ 1 // 0 }}").find("integer division or modulo by zero"), std::string::npos);
}

}  // namespace
}  // namespace dpo::jinja
