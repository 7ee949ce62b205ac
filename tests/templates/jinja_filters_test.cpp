// Filters, string/dict/list methods and transformers' tojson, as Jinja2 3.1 computes them.
#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <utility>

#include "core/error.h"
#include "templates/jinja/template.h"
#include "tests/templates/jinja_test_helpers.h"

namespace dpo::jinja {
namespace {

Globals chat() {
  return {
      {"messages",
       conversation({{"system", "  Be brief.  "}, {"user", "Hi é"}, {"assistant", "Yo"}})}};
}

TEST(JinjaFilters, Text) {
  EXPECT_EQ(
      render("{{ '  x \n' | trim }}|{{ 'xxyxx' | trim('x') }}|{{ '\u3000wide\u00a0' | trim }}"),
      "x|y|wide");
  EXPECT_EQ(
      render("{{ 'hello wORLD' | capitalize }}|{{ 'hELLO a-b(c' | title }}|{{ 'Ab' | upper }}{{ "
             "'Ab' | lower }}"),
      "Hello world|Hello A-B(C|ABab");
  EXPECT_EQ(render("{{ 'ÉCOLE ΣΟΦΟΣ' | lower }}|{{ 'straße' | upper }}"), "école σοφος|STRASSE");
  EXPECT_EQ(
      render("{{ 'aXbX' | replace('X', '-') }}|{{ 'aXbX' | replace('X', '-', 1) }}|{{ 5 | "
             "replace('5', 'five') }}"),
      "a-b-|a-bX|five");
  EXPECT_EQ(
      render("{{ 'a\nb\n\nc' | indent }}|{{ 'a\nb' | indent(2, true) }}|{{ 'a\n\nb' | indent(2, "
             "blank=true) }}"),
      "a\n    b\n\n    c|  a\n  b|a\n  \n  b");
  EXPECT_EQ(
      render("{{ 5 | string ~ 1 }}|{{ '%s-%s' | format(1, 2) }}|{{ 'x' | safe }}"), "51|1-2|x");
}

TEST(JinjaFilters, Numbers) {
  EXPECT_EQ(
      render("{{ '12' | int }} {{ ' 1_0 ' | int }} {{ '1.9' | int }} {{ 'abc' | int }} {{ 'abc' | "
             "int(-1) }}"
             " {{ '0x10' | int(base=16) }} {{ 3.99 | int }} {{ -3.99 | int }} {{ true | int }}"),
      "12 10 1 0 -1 16 3 -3 1");
  EXPECT_EQ(
      render("{{ '1.5' | float }} {{ 'x' | float }} {{ 3 | float }} {{ '1e3' | float }}"),
      "1.5 0.0 3.0 1000.0");
  EXPECT_EQ(
      render("{{ 2.5 | round }} {{ 3.5 | round }} {{ 2.675 | round(2) }} {{ 2.1 | round(0, 'ceil') "
             "}} {{ -5 | abs }}"),
      "2.0 4.0 2.67 3.0 5");
  EXPECT_EQ(
      render(
          "{{ [4, 5] | sum }} {{ [4, 5] | max }} {{ [4, 5] | min }} {{ [4, 5] | sum(start=10) }}"),
      "9 5 4 19");
}

TEST(JinjaFilters, Sequences) {
  EXPECT_EQ(
      render("{{ [3, 1] | first }}{{ [3, 1] | last }}{{ 'abc' | first }}{{ 'abc' | last }}|{{ [] | "
             "first }}|"),
      "31ac||");
  EXPECT_EQ(render("{{ [1, 2] | length }}{{ 'héllo' | length }}{{ {'a': 1} | count }}"), "251");
  EXPECT_EQ(
      render(
          "{{ [1, 2] | join }}|{{ [1, 2] | join(', ') }}|{{ 'ab' | list }}|{{ {'k': 1} | list }}"),
      "12|1, 2|['a', 'b']|['k']");
  EXPECT_EQ(render("{{ [1, 2, 3] | reverse | list }}|{{ 'abc' | reverse }}"), "[3, 2, 1]|cba");
  EXPECT_EQ(
      render("{{ ['b', 'A', 'a', 'c'] | sort }}|{{ [3, 1, 2] | sort(reverse=true) }}"),
      "['A', 'a', 'b', 'c']|[3, 2, 1]");
  // unique ignores case by default and keeps the first spelling.
  EXPECT_EQ(
      render("{{ ['B', 'a', 'b', 'A'] | unique | list }}|{{ ['a', 'A'] | "
             "unique(case_sensitive=true) | list }}"),
      "['B', 'a']|['a', 'A']");
  EXPECT_EQ(
      render("{{ {'b': 1, 'a': 2} | items | list }}|{{ {'b': 1, 'a': 2} | dictsort }}"),
      "[('b', 1), ('a', 2)]|[('a', 2), ('b', 1)]");
  EXPECT_EQ(
      render("{{ [1, 2, 3] | batch(2) | list }}|{{ [1, 2, 3] | select('odd') | list }}|{{ [1, 2, "
             "3] | reject('odd') | list }}"),
      "[[1, 2], [3]]|[1, 3]|[2]");
}

TEST(JinjaFilters, SelectattrRejectattrAndMapOverMessages) {
  Globals g = chat();
  EXPECT_EQ(
      render("{{ messages | selectattr('role', 'equalto', 'user') | list | length }}", g), "1");
  EXPECT_EQ(
      render(
          "{{ messages | rejectattr('role', 'in', ['system']) | map(attribute='role') | join(',') "
          "}}",
          g),
      "user,assistant");
  EXPECT_EQ(
      render("{{ messages | map(attribute='content') | map('trim') | list }}", g),
      "['Be brief.', 'Hi é', 'Yo']");
  EXPECT_EQ(render("{{ messages | map(attribute='missing', default='-') | join }}", g), "---");
  EXPECT_EQ(render("{{ messages | join('|', attribute='role') }}", g), "system|user|assistant");
  // A generator has no length in Python.
  EXPECT_NE(
      error_of("{{ messages | selectattr('role') | length }}", g)
          .find("object of type 'generator' has no len()"),
      std::string::npos);
}

TEST(JinjaFilters, DefaultAndUndefinedInputs) {
  EXPECT_EQ(
      render("{{ nope | default('d') }}|{{ '' | default('d') }}|{{ '' | default('d', true) }}|{{ "
             "nope | d('x') }}"),
      "d||d|x");
  EXPECT_EQ(
      render("[{{ nope | upper }}{{ nope | trim }}{{ nope | join }}{{ nope | list }}{{ nope | "
             "length }}]"),
      "[[]0]");
  EXPECT_NE(error_of("{{ nope | int }}").find("'nope' is undefined"), std::string::npos);
}

TEST(JinjaFilters, ToJsonMatchesPythonJsonDumps) {
  Globals g = chat();
  EXPECT_EQ(render("{{ messages[1] | tojson }}", g), "{\"role\": \"user\", \"content\": \"Hi é\"}");
  EXPECT_EQ(render(R"({{ 'é"\\\n\t\u0001' | tojson }})"), R"("é\"\\\n\t\u0001")");
  EXPECT_EQ(
      render("{{ [1.0, 1e20, 0.1, none, true, (1, 2)] | tojson }}"),
      "[1.0, 1e+20, 0.1, null, true, [1, 2]]");
  EXPECT_EQ(
      render("{{ {1: 'i', none: 'n', true: 'b'} | tojson }}"), "{\"1\": \"b\", \"null\": \"n\"}");
  EXPECT_EQ(
      render("{{ {'b': [1, {}], 'a': []} | tojson(indent=2) }}"),
      "{\n  \"b\": [\n    1,\n    {}\n  ],\n  \"a\": []\n}");
  EXPECT_EQ(
      render("{{ {'b': 1, 'a': 2} | tojson(sort_keys=true, separators=(',', ':')) }}"),
      "{\"a\":2,\"b\":1}");
  EXPECT_EQ(render("{{ 'é😀' | tojson(ensure_ascii=true) }}"), "\"\\u00e9\\ud83d\\ude00\"");
  EXPECT_NE(
      error_of("{{ namespace() | tojson }}").find("is not JSON serializable"), std::string::npos);
}

TEST(JinjaFilters, StringMethods) {
  EXPECT_EQ(
      render("{{ '  x  '.strip() }}|{{ 'xxaxx'.strip('x') }}|{{ 'xxa'.lstrip('x') }}|{{ "
             "'axx'.rstrip('x') }}|{{ ' a '.lstrip() }}."),
      "x|a|a|a|a .");
  EXPECT_EQ(
      render("{{ 'Hello'.startswith('He') }}{{ 'Hello'.startswith(('x', 'H')) }}{{ "
             "'Hello'.endswith('lo') }}"),
      "TrueTrueTrue");
  EXPECT_EQ(
      render("{{ ' a  b '.split() }}{{ 'a,b,,c'.split(',') }}{{ 'a b c'.split(' ', 1) }}{{ 'a b "
             "c'.rsplit(' ', 1) }}"),
      "['a', 'b']['a', 'b', '', 'c']['a', 'b c']['a b', 'c']");
  EXPECT_EQ(
      render("{{ 'hello world'.title() }}|{{ 'hELLO'.capitalize() }}|{{ 'ab'.upper() }}|{{ "
             "'AB'.lower() }}"),
      "Hello World|Hello|AB|ab");
  EXPECT_EQ(
      render("{{ 'aXbX'.replace('X', '') }}|{{ 'héllo'.find('l') }}|{{ 'x'.join(['a', 'b']) }}|{{ "
             "'abc'.count('b') }}"),
      "ab|2|axb|1");
  EXPECT_EQ(
      render("{{ '{0}-{1}-{0}'.format('a', 'b') }}|{{ '{name}!'.format(name='n') }}|{{ "
             "'{{}}{}'.format(1) }}"),
      "a-b-a|n!|{}1");
  EXPECT_NE(
      error_of("{{ 'x'.nomethod() }}").find("'str object' has no attribute 'nomethod'"),
      std::string::npos);
}

TEST(JinjaFilters, DictAndListMethods) {
  EXPECT_EQ(
      render("{{ {'a': 1}.get('a') }}{{ {'a': 1}.get('b') }}{{ {'a': 1}.get('b', 7) }}"), "1None7");
  EXPECT_EQ(
      render("{{ {'a': 1, 'b': 2}.keys() | list }}{{ {'a': 1}.values() | list }}{{ {'a': "
             "1}.items() | list }}"),
      "['a', 'b'][1][('a', 1)]");
  EXPECT_EQ(render("{{ [1, 2, 1].count(1) }}{{ [1, 2].index(2) }}"), "21");
}

TEST(JinjaFilters, GlobalsRangeDictNamespace) {
  EXPECT_EQ(
      render("{{ range(3) | list }}{{ range(1, 7, 2) | list }}{{ range(3, 0, -1) | list }}"),
      "[0, 1, 2][1, 3, 5][3, 2, 1]");
  EXPECT_EQ(
      render("{{ dict(a=1) }}{{ dict({'a': 1}, b=2) }}{{ namespace({'a': 1}).a }}"),
      "{'a': 1}{'a': 1, 'b': 2}1");
}

}  // namespace
}  // namespace dpo::jinja
