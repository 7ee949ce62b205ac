// Template statements: for (loop variables, break/continue, else, unpacking, filters), if,
// set (namespaces, scoping, block set), macros and call blocks, filter and with blocks,
// raise_exception, the sandbox, and errors for what is not supported.
#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <utility>

#include "core/error.h"
#include "templates/jinja/template.h"
#include "tests/templates/jinja_test_helpers.h"

namespace dpo::jinja {
namespace {

Globals numbers() {
  return {{"l", Value::list({Value::integer(3), Value::integer(1), Value::integer(2)})}};
}

TEST(JinjaStatements, LoopVariables) {
  EXPECT_EQ(
      render(
          "{% for i in l %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}"
          "{{ loop.first }}{{ loop.last }}{{ loop.length }};{% endfor %}",
          numbers()),
      "1032TrueFalse3;2121FalseFalse3;3210FalseTrue3;");
  EXPECT_EQ(
      render(
          "{% for i in l %}{{ loop.previtem }}|{{ loop.nextitem }}|{{ loop.cycle('a', 'b') }};{% "
          "endfor %}",
          numbers()),
      "|1|a;3|2|b;1||a;");
  EXPECT_EQ(render("{% for i in [1, 1, 2] %}{{ loop.changed(i) }}{% endfor %}"), "TrueFalseTrue");
}

TEST(JinjaStatements, BreakContinueAndElse) {
  EXPECT_EQ(
      render("{% for i in range(10) %}{% if i == 2 %}{% continue %}{% endif %}"
             "{% if i == 5 %}{% break %}{% endif %}{{ i }}{% endfor %}"),
      "0134");
  EXPECT_EQ(render("{% for i in [] %}x{% else %}empty{% endfor %}"), "empty");
  // Jinja2 also runs else when no iteration reached the end of the body.
  EXPECT_EQ(render("{% for i in [1] %}{% break %}{% else %}else{% endfor %}"), "else");
  EXPECT_EQ(
      render(
          "{% for i in [1, 2] %}{% if i == 2 %}{% break %}{% endif %}{% else %}else{% endfor %}"),
      "");
}

TEST(JinjaStatements, LoopFilterAndUnpacking) {
  EXPECT_EQ(
      render(
          "{% for i in l if i > 1 %}{{ loop.index }}/{{ loop.length }}:{{ i }} {% endfor %}",
          numbers()),
      "1/2:3 2/2:2 ");
  EXPECT_EQ(
      render("{% for k, v in {'b': 1, 'a': 2}.items() %}{{ k }}={{ v }} {% endfor %}"), "b=1 a=2 ");
  EXPECT_EQ(render("{% for a, b in [(1, 'x'), [2, 'y']] %}{{ a }}{{ b }}{% endfor %}"), "1x2y");
  EXPECT_EQ(
      render("{% for c in 'hé' %}[{{ c }}]{% endfor %}{% for k in {'x': 1} %}{{ k }}{% endfor %}"),
      "[h][é]x");
  EXPECT_NE(
      error_of("{% for a, b in [1] %}{% endfor %}").find("'int' object is not iterable"),
      std::string::npos);
  EXPECT_NE(
      error_of("{% for a, b in [[1, 2, 3]] %}{% endfor %}")
          .find("too many values to unpack (expected 2)"),
      std::string::npos);
  EXPECT_NE(
      error_of("{% for x in none %}{% endfor %}").find("'NoneType' object is not iterable"),
      std::string::npos);
}

TEST(JinjaStatements, IfElifElse) {
  const char* source = "{% if n > 2 %}big{% elif n > 1 %}middle{% else %}small{% endif %}";
  EXPECT_EQ(render(source, {{"n", Value::integer(3)}}), "big");
  EXPECT_EQ(render(source, {{"n", Value::integer(2)}}), "middle");
  EXPECT_EQ(render(source, {{"n", Value::integer(1)}}), "small");
}

TEST(JinjaStatements, SetInsideALoopDoesNotLeakButInsideIfDoes) {
  EXPECT_EQ(
      render(
          "{% set x = 1 %}{% for i in [1, 2] %}{{ x }}{% set x = 2 %}{{ x }}{% endfor %}{{ x }}"),
      "12121");
  EXPECT_EQ(render("{% if true %}{% set y = 3 %}{% endif %}{{ y }}"), "3");
}

TEST(JinjaStatements, NamespacesCarryValuesOutOfLoops) {
  EXPECT_EQ(
      render(
          "{% set ns = namespace(found=false, n=0) %}{% for m in messages %}"
          "{% if m.role == 'assistant' %}{% set ns.found = true %}{% endif %}{% set ns.n = ns.n + "
          "1 %}"
          "{% endfor %}{{ ns.found }} {{ ns.n }} {{ ns }}",
          {{"messages", conversation({{"user", "a"}, {"assistant", "b"}})}}),
      "True 2 <Namespace {'found': True, 'n': 2}>");
  EXPECT_NE(
      error_of("{% set x = [] %}{% set x.y = 1 %}")
          .find("cannot assign attribute on non-namespace object"),
      std::string::npos);
  EXPECT_NE(
      error_of("{% for i in [1] %}{% set loop.x = 1 %}{% endfor %}").find("non-namespace"),
      std::string::npos);
}

TEST(JinjaStatements, TupleAndBlockSet) {
  EXPECT_EQ(render("{% set x, y = 1, 2 %}{% set x, y = y, x %}{{ x }}{{ y }}"), "21");
  EXPECT_EQ(
      render("{% set b %}inner {{ 1 + 1 }}{% endset %}[{{ b }}]{% set c | upper %}low{% endset "
             "%}{{ c }}"),
      "[inner 2]LOW");
}

TEST(JinjaStatements, MacrosWithDefaultsKeywordsAndRecursion) {
  const char* m = "{% macro m(a, b='B', c=none) %}{{ a }}-{{ b }}-{{ c }}{% endmacro %}";
  EXPECT_EQ(
      render(
          std::string(m) +
          "{{ m(1) }}|{{ m(1, 2) }}|{{ m(1, c=3) }}|{{ m(b='x', a='y') }}|{{ m() }}"),
      "1-B-None|1-2-None|1-B-3|y-x-None|-B-None");
  EXPECT_EQ(
      render(
          "{% macro f(n) %}{% if n > 0 %}{{ n }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(3) }}"),
      "321");
  EXPECT_EQ(
      render("{% macro m() %}{{ varargs }}{{ kwargs }}{% endmacro %}{{ m(1, 2, k=3) }}"),
      "(1, 2){'k': 3}");
  // A macro sees the variables of where it was defined as they are when it is called.
  EXPECT_EQ(
      render(
          "{% macro m() %}{{ x }}{% endmacro %}{% set x = 1 %}{{ m() }}{% set x = 2 %}{{ m() }}"),
      "12");
  EXPECT_NE(
      error_of("{% macro m(a) %}{% endmacro %}{{ m(1, 2) }}")
          .find("takes not more than 1 argument(s)"),
      std::string::npos);
  EXPECT_NE(
      error_of("{% macro m(a) %}{% endmacro %}{{ m(z=1) }}").find("takes no keyword argument 'z'"),
      std::string::npos);
}

TEST(JinjaStatements, CallBlocksPassABodyToAMacro) {
  EXPECT_EQ(
      render("{% macro wrap() %}[{{ caller() }}]{% endmacro %}{% call wrap() %}body{% endcall %}"),
      "[body]");
  EXPECT_EQ(
      render("{% macro each(xs) %}{% for x in xs %}{{ caller(x) }}{% endfor %}{% endmacro %}"
             "{% call(item) each([1, 2]) %}<{{ item * 2 }}>{% endcall %}"),
      "<2><4>");
}

TEST(JinjaStatements, FilterWithAndGenerationBlocks) {
  EXPECT_EQ(
      render("{% filter upper %}abc{% endfilter %}{% filter replace('A', 'x') | lower %}ABA{% "
             "endfilter %}"),
      "ABCxbx");
  EXPECT_EQ(render("{% with a = 1, b = 2 %}{{ a + b }}{% endwith %}[{{ a }}]"), "3[]");
  // transformers' {% generation %} marks assistant text; the text renders unchanged.
  EXPECT_EQ(render("{% generation %}answer{% endgeneration %}"), "answer");
}

TEST(JinjaStatements, RaiseExceptionIsADataErrorCarryingTheMessage) {
  Globals globals = {
      {"raise_exception", Value::function("raise_exception", [](const CallArgs& args) -> Value {
         throw RenderError(RenderError::Kind::raised, args.positional[0].to_str());
       })}};
  try {
    render(
        "line one\n{% if true %}{{ raise_exception('Roles must alternate') }}{% endif %}", globals);
    FAIL() << "expected a DataError";
  } catch (const DataError& e) {
    EXPECT_NE(
        std::string(e.what()).find("t.jinja:2:17: raise_exception: Roles must alternate"),
        std::string::npos)
        << e.what();
  }
}

TEST(JinjaStatements, SandboxRefusesMutationAndPrivateAttributes) {
  Globals g = {{"messages", conversation({{"user", "a"}})}};
  EXPECT_EQ(render("[{{ messages.append }}]", g), "[]");  // looking is allowed, calling is not
  EXPECT_NE(
      error_of("{{ messages.append(1) }}", g)
          .find("sandbox: access to attribute 'append' of 'list' object is unsafe."),
      std::string::npos)
      << error_of("{{ messages.append(1) }}", g);
  EXPECT_NE(
      error_of("{{ messages[0].update({}) }}", g).find("'update' of 'dict' object is unsafe"),
      std::string::npos);
  EXPECT_EQ(render("[{{ 'x'.__class__ }}]"), "[]");
  EXPECT_NE(error_of("{{ 'x'.__class__.__mro__ }}").find("unsafe"), std::string::npos);
  EXPECT_NE(error_of("{{ range(1000000) | length }}").find("Range too big"), std::string::npos);
}

TEST(JinjaStatements, UnknownConstructsAreErrorsWithLineAndColumn) {
  EXPECT_NE(
      error_of("a\n  {% frobnicate %}").find("t.jinja:2:6: unknown tag 'frobnicate'"),
      std::string::npos)
      << error_of("a\n  {% frobnicate %}");
  EXPECT_NE(
      error_of("{{ x | nofilter }}").find("t.jinja:1:8: no filter named 'nofilter'"),
      std::string::npos);
  EXPECT_NE(
      error_of("{{ x is notatest }}").find("t.jinja:1:9: no test named 'notatest'"),
      std::string::npos);
  EXPECT_NE(
      error_of("{% for x in l %}{% endif %}")
          .find("unknown tag 'endif'; the innermost open block expects 'endfor'"),
      std::string::npos)
      << error_of("{% for x in l %}{% endif %}");
  EXPECT_NE(error_of("{% if true %}open").find("unexpected end of template"), std::string::npos);
  EXPECT_NE(
      error_of("{% break %}").find("t.jinja:1:4: 'break' outside of a loop"), std::string::npos);
  EXPECT_NE(
      error_of("{% include 'x' %}").find("the 'include' tag is not supported"), std::string::npos);
  EXPECT_NE(error_of("{% do x %}").find("the 'do' tag is not supported"), std::string::npos);
  EXPECT_NE(
      error_of("{{ 1 + }}").find("t.jinja:1:8: unexpected end of print statement"),
      std::string::npos)
      << error_of("{{ 1 + }}");
  EXPECT_NE(
      error_of("{% macro m(a=1, b) %}{% endmacro %}")
          .find("non-default argument follows default argument"),
      std::string::npos);
  EXPECT_NE(error_of("{% set 1 = 2 %}").find("cannot assign"), std::string::npos);
  EXPECT_NE(error_of("{{ f(*l) }}").find("not supported"), std::string::npos);
  // A valid template that prints a Python object address is refused rather than rendered wrongly.
  EXPECT_NE(
      error_of("{{ [1, 2] | reverse }}").find("not supported: printing a generator"),
      std::string::npos);
}

TEST(JinjaStatements, ATemplateRendersManyTimesAndFromSeveralThreads) {
  Template t("{% for m in messages %}{{ m.role }}:{{ m.content }};{% endfor %}", "t");
  Globals g = {{"messages", conversation({{"user", "a"}, {"assistant", "b"}})}};
  EXPECT_EQ(t.render(g), "user:a;assistant:b;");
  EXPECT_EQ(t.render(g), t.render(g));
}

}  // namespace
}  // namespace dpo::jinja
