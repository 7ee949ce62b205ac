// The engine's work limits (templates/jinja/limits.h): every template ends quickly, in bounded
// memory and without exhausting the stack, and a limit that is hit is named in the error. The
// built-in templates still render long conversations within the default limits.
#include "templates/jinja/limits.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "core/error.h"
#include "templates/jinja/embedded_templates.h"
#include "templates/jinja/template.h"
#include "tests/templates/jinja_test_helpers.h"

namespace dpo::jinja {
namespace {

std::string repeat_text(const std::string& text, size_t times) {
  std::string out;
  for (size_t i = 0; i < times; ++i)
    out += text;
  return out;
}

// Renders `source` (with `limits`), expects a DataError holding "limit exceeded: " + `message`,
// and that it came quickly (the refusal is made before the work, not after it).
void expect_limit(
    const std::string& source, const std::string& message, const Limits& limits = Limits()) {
  const auto start = std::chrono::steady_clock::now();
  try {
    Template(source, "t.jinja", limits).render({});
    ADD_FAILURE() << "rendered; expected the limit: " << message;
  } catch (const DataError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("t.jinja:"), std::string::npos) << what;
    EXPECT_NE(what.find("rendering failed: limit exceeded: "), std::string::npos) << what;
    EXPECT_NE(what.find(message), std::string::npos) << what;
    EXPECT_NE(what.find("docs/chat-templates.md"), std::string::npos) << what;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(seconds, 20.0) << source.substr(0, 200);
}

// Parsing `source` throws a ConfigError holding `message`.
void expect_parse_limit(const std::string& source, const std::string& message) {
  try {
    Template(source, "t.jinja");
    ADD_FAILURE() << "parsed; expected: " << message;
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("t.jinja:1:"), std::string::npos) << e.what();
  }
}

TEST(JinjaLimits, OutputSize) {
  expect_limit(
      "{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}",
      "the template exceeded the output limit of 16 MiB");
  expect_limit(repeat_text("y", 5000), "the template exceeded the output limit of 4 KiB", [] {
    Limits small;
    small.max_output_bytes = 4096;  // the template's own text counts too
    return small;
  }());
  Limits small;
  small.max_output_bytes = 100;
  expect_limit("{{ 'x' * 60 }}{{ 'y' * 60 }}", "output limit of 100 bytes", small);
  EXPECT_EQ(Template("{{ 'x' * 100 }}", "t", small).render({}).size(), 100u);
}

TEST(JinjaLimits, StringsBuiltByOperators) {
  expect_limit(
      "{{ 'x' * 1000000000 }}",
      "a string of 1000000000 bytes exceeds the limit of 16 MiB for one string");
  expect_limit("{{ 1000000000 * 'x' }}", "a string of 1000000000 bytes exceeds the limit");
  expect_limit("{{ 'ab' * 9223372036854775807 }}", "exceeds the limit of 16 MiB for one string");
  // A string doubled in a loop (it reached 10 GB before), with ~ and with +.
  expect_limit(
      "{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}"
      "{% endfor %}",
      "exceeds the limit of 16 MiB for one string");
  expect_limit(
      "{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s + ns.s %}"
      "{% endfor %}",
      "exceeds the limit of 16 MiB for one string");
  // {% set %} blocks and macros capture text under the same limit.
  expect_limit(
      "{% set s %}{% for i in range(20000) %}{{ 'x' * 1000 }}{% endfor %}{% endset %}",
      "exceeds the limit of 16 MiB for one string");
  // Python's results for counts <= 0.
  EXPECT_EQ(render("[{{ 'x' * -5 }}][{{ 'x' * 0 }}]{{ [1, 2] * -1 }}{{ -3 * [1] }}"), "[][][][]");
}

TEST(JinjaLimits, StringsBuiltByFiltersAndMethods) {
  const std::string limit = "exceeds the limit of 16 MiB for one string";
  expect_limit("{{ ('x' * 1000000) | replace('x', 'y' * 100) }}", limit);
  expect_limit("{{ ('x' * 1000000).replace('x', 'y' * 100) }}", limit);
  expect_limit("{{ ('x' * 1000000) | replace('', 'y' * 100) }}", limit);
  expect_limit("{{ 'abc' | indent(100000000000) }}", limit);
  expect_limit("{{ 'x' | center(2000000000) }}", "a string of 2000000000 bytes " + limit);
  // center as Python's str.center: the odd space goes left when the width is odd.
  EXPECT_EQ(
      render("[{{ 'ab' | center(5) }}][{{ 'abc' | center(6) }}][{{ 'abc' | center(2) }}]"),
      "[  ab ][ abc  ][abc]");
  EXPECT_EQ(render("[{{ 'é' | center(4) }}][{{ 'x' | center(-3) }}]"), "[ é  ][x]");
  EXPECT_EQ(render("{{ 'a' | center | length }}"), "80");
  expect_limit("{{ ('a\\n' * 1000000) | indent(100) }}", limit);
  expect_limit("{{ ['x' * 10000000, 'y' * 10000000] | join }}", limit);
  expect_limit("{{ (['x' * 10000000] * 2) | join(',') }}", limit);
  expect_limit("{{ ''.join(['a' * 10000000] * 2) }}", limit);
  expect_limit("{{ '%s%s' % ('x' * 10000000, 'y' * 10000000) }}", limit);
  expect_limit("{{ '{}{}'.format('x' * 10000000, 'y' * 10000000) }}", limit);
  expect_limit("{{ [1] | tojson(indent=100000000000) }}", limit);
  expect_limit("{{ ['x' * 10000000, 'y' * 10000000] | tojson }}", limit);
  expect_limit("{{ ['x' * 10000000, 'y' * 10000000] | string }}", limit);
  expect_limit("{{ {'a': 'x' * 10000000, 'b': 'y' * 10000000} }}", limit);
  expect_limit("{{ ['x' * 10000000, 'y' * 10000000] | sum(start='') }}", limit);
}

TEST(JinjaLimits, ListsBuiltByOperatorsAndFilters) {
  const std::string limit = "items exceeds the limit of 1048576 items";
  expect_limit("{{ [1] * 100000000 }}", "a list of 100000000 " + limit);
  expect_limit("{{ [1, 2] * 9223372036854775807 }}", limit);
  expect_limit(
      "{% set ns = namespace(l=[1]) %}{% for i in range(64) %}{% set ns.l = ns.l + ns.l %}"
      "{% endfor %}",
      limit);
  expect_limit("{{ [1] | batch(10000000000, 0) | list }}", limit);
  expect_limit("{{ ('x' * 2000000) | list | length }}", limit);
  expect_limit("{% for c in 'x' * 2000000 %}{% endfor %}", limit);
  expect_limit("{{ (',' * 2000000).split(',') | length }}", "a list of 2000001 " + limit);
  expect_limit("{{ (',' * 2000000).rsplit(',') | length }}", limit);
  EXPECT_EQ(render("{{ (',' * 2000000).split(',', 3) | length }}"), "4");
}

TEST(JinjaLimits, LoopIterations) {
  expect_limit(
      "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
      "the template ran more than 1000000 loop iterations");
  Limits smaller;
  smaller.max_loop_iterations = 100000;
  // Filtered-out iterations count too (the condition is evaluated for each).
  expect_limit(
      "{% for i in range(100000) %}{% for j in range(100000) if false %}{% endfor %}"
      "{% endfor %}",
      "more than 100000 loop iterations",
      smaller);
  // A single range is still capped by the sandbox's MAX_RANGE, as Jinja2 does.
  EXPECT_NE(
      error_of("{% for i in range(10**9) %}{% endfor %}").find("MAX_RANGE"), std::string::npos);
  Limits small;
  small.max_loop_iterations = 10;
  EXPECT_EQ(
      Template("{% for i in range(10) %}{{ i }}{% endfor %}", "t", small).render({}), "0123456789");
  expect_limit(
      "{% for i in range(11) %}{% endfor %}",
      "the template ran more than 10 loop iterations",
      small);
  expect_limit(
      "{% for i in range(4) %}{% for j in range(4) %}{% endfor %}{% endfor %}",
      "more than 10 loop iterations",
      small);
}

TEST(JinjaLimits, Work) {
  // Each string stays small, but rebuilding 1 MB in a long loop is unbounded work.
  expect_limit(
      "{% set ns = namespace(s='x' * 1000000, n=0) %}{% for i in range(100000) %}"
      "{% set ns.n = (ns.s ~ 'y') | length %}{% endfor %}",
      "the template exceeded the work limit of 250000000 units");
  // Reading a long value in a loop is charged too (`in` over a long list, unique); smaller
  // limits keep the test fast.
  Limits small;
  small.max_work = 10'000'000;
  expect_limit(
      "{% set big = range(100000) | list %}{% for i in range(100000) %}{% if -1 in big %}"
      "{% endif %}{% endfor %}",
      "the template exceeded the work limit of 10000000 units",
      small);
  expect_limit("{{ range(100000) | list | unique | list | length }}", "work limit", small);
  small.max_work = 1000;
  expect_limit("{% for i in range(100) %}{{ i }}{% endfor %}", "work limit of 1000 units", small);
}

TEST(JinjaLimits, RecursionDepth) {
  expect_limit(
      "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}",
      "macro calls nested deeper than 256");
  // Through caller() as well.
  expect_limit(
      "{% macro f() %}{% call f() %}x{% endcall %}{{ caller() }}{% endmacro %}{{ f() }}",
      "macro calls nested deeper than 256");
  Limits small;
  small.max_call_depth = 10;
  expect_limit(
      "{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(20) }}",
      "macro calls nested deeper than 10",
      small);
  EXPECT_EQ(
      Template(
          "{% macro f(n) %}{% if n > 0 %}{{ n }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(9) }}",
          "t",
          small)
          .render({}),
      "987654321");
  // Deep expressions inside deep recursion: bounded by the render depth.
  const std::string deep = repeat_text("(", 80) + "n" + repeat_text(")", 80);
  expect_limit(
      "{% macro f(n) %}{{ f(" + deep + " + 1) }}{% endmacro %}{{ f(0) }}", "nested deeper than");
}

TEST(JinjaLimits, ParserNestingDepth) {
  const std::string message = "nested deeper than 256 levels";
  expect_parse_limit(
      "{{ " + repeat_text("(", 100000) + "1" + repeat_text(")", 100000) + " }}", message);
  expect_parse_limit("{{ " + repeat_text("[", 100000) + repeat_text("]", 100000) + " }}", message);
  expect_parse_limit(
      "{{ " + repeat_text("{'a': ", 100000) + "1" + repeat_text("}", 100000) + " }}", message);
  expect_parse_limit("{{ " + repeat_text("not ", 100000) + "x }}", message);
  expect_parse_limit("{{ " + repeat_text("- ", 100000) + "1 }}", message);
  expect_parse_limit("{{ " + repeat_text("1 if x else ", 100000) + "2 }}", message);
  expect_parse_limit(
      "{{ f" + repeat_text("(f", 100000) + repeat_text(")", 100000) + " }}", message);
  // Chains built by loops in the parser, measured on the tree.
  expect_parse_limit("{{ 1" + repeat_text(" + 1", 100000) + " }}", message);
  expect_parse_limit("{{ 'a'" + repeat_text(" ~ 'a'", 100000) + " }}", message);
  expect_parse_limit("{{ x" + repeat_text(" or x", 100000) + " }}", message);
  expect_parse_limit("{{ x" + repeat_text(" | trim", 100000) + " }}", message);
  expect_parse_limit("{{ x" + repeat_text(".a", 100000) + " }}", message);
  expect_parse_limit("{{ x" + repeat_text("[0]", 100000) + " }}", message);
  expect_parse_limit("{{ x" + repeat_text("()", 100000) + " }}", message);
  // A deep chain followed by a syntax error: the partial tree is freed without recursing.
  expect_parse_limit("{{ 1" + repeat_text(" + 1", 100000) + " + }}", "t.jinja:1:");
  // Nested statements.
  expect_parse_limit(
      repeat_text("{% if true %}", 100000) + repeat_text("{% endif %}", 100000), message);
  expect_parse_limit(
      repeat_text("{% for x in y %}", 100000) + repeat_text("{% endfor %}", 100000), message);
  // Real nesting stays far below: 50 levels of parentheses and 50 nested ifs are fine.
  EXPECT_EQ(render("{{ " + repeat_text("(", 50) + "1" + repeat_text(")", 50) + " }}"), "1");
  EXPECT_EQ(render(repeat_text("{% if true %}", 50) + "y" + repeat_text("{% endif %}", 50)), "y");
  EXPECT_EQ(render("{{ 1" + repeat_text(" + 1", 200) + " }}"), "201");
}

TEST(JinjaLimits, ValuesNestedDeeplyOrInThemselves) {
  expect_limit(
      "{% set ns = namespace() %}{% set ns.me = ns %}{{ ns }}",
      "a value nested deeper than 2048 levels");
  expect_limit(
      "{% set ns = namespace() %}{% set ns.me = [ns] %}{{ ns | string }}",
      "a value nested deeper than 2048 levels");
  // Lists nested as deep as a loop makes them: printing and comparing are bounded.
  expect_limit(
      "{% set ns = namespace(l=[]) %}{% for i in range(100000) %}{% set ns.l = [ns.l] %}"
      "{% endfor %}{{ ns.l }}",
      "nested deeper than");
  expect_limit(
      "{% set ns = namespace(l=[], m=[]) %}{% for i in range(100000) %}"
      "{% set ns.l = [ns.l] %}{% set ns.m = [ns.m] %}{% endfor %}{{ ns.l == ns.m }}",
      "nested deeper than");
  expect_limit(
      "{% set ns = namespace(l=[]) %}{% for i in range(100000) %}{% set ns.l = [ns.l] %}"
      "{% endfor %}{{ ns.l | tojson }}",
      "nested deeper than");
  // Building such a value is refused as it passes the render depth (a million nested lists
  // freed at the end of the rendering exhausted the stack), whatever container nests.
  const std::string million = "{% for i in range(10) %}{% for j in range(99990) %}";
  const std::string end = "{% endfor %}{% endfor %}";
  expect_limit(
      "{% set ns = namespace(l=[]) %}" + million + "{% set ns.l = [ns.l] %}" + end,
      "a value nested deeper than 2048 levels");
  expect_limit(
      "{% set ns = namespace(l=[]) %}" + million + "{% set ns.l = (ns.l,) %}" + end,
      "a value nested deeper than 2048 levels");
  expect_limit(
      "{% set ns = namespace(d={}) %}" + million + "{% set ns.d = {'a': ns.d} %}" + end,
      "a value nested deeper than 2048 levels");
  expect_limit(
      "{% set ns = namespace(d={}) %}" + million + "{% set ns.d = dict(a=ns.d) %}" + end,
      "a value nested deeper than 2048 levels");
  expect_limit(
      "{% set ns = namespace(l=none) %}" + million +
          "{% for x in [ns.l, 0] %}{% set ns.l = loop %}{% endfor %}" + end,
      "a value nested deeper than 2048 levels");
  // Namespaces may chain without limit (each is kept by the rendering and emptied at its
  // end, so freeing the chain does not recurse), and may hold themselves.
  EXPECT_EQ(
      render("{% set ns = namespace(tail=namespace()) %}{% set head = ns.tail %}"
             "{% for i in range(2) %}{% for j in range(100000) %}{% set n = namespace() %}"
             "{% set t = ns.tail %}{% set t.next = n %}{% set ns.tail = n %}{% endfor %}"
             "{% endfor %}{{ head.next is defined }}"),
      "True");
  EXPECT_EQ(
      render("{% set ns = namespace(c=namespace()) %}{% for i in range(2) %}"
             "{% for j in range(100000) %}{% set ns.c = namespace(x=ns.c) %}{% endfor %}"
             "{% endfor %}ok"),
      "ok");
  EXPECT_EQ(
      render("{% set ns = namespace() %}{% set ns.me = ns %}{{ ns.me.me is defined }}"), "True");
  EXPECT_EQ(render("{% for x in [1, 1, 2] %}{{ loop.changed(x) }}{% endfor %}"), "TrueFalseTrue");
  EXPECT_EQ(
      render("{% for x in [1] %}{% set k = loop %}{{ loop.changed(k) }}{% endfor %}"), "True");
}

TEST(JinjaLimits, ArithmeticEdgeCases) {
  EXPECT_EQ(
      render("{{ (-1) ** 3 }} {{ (-1) ** 4 }} {{ 0 ** 0 }} {{ 1 ** 9223372036854775807 }}"),
      "-1 1 1 1");
  EXPECT_EQ(render("{{ (-1) ** 9223372036854775807 }} {{ 0 ** 5 }} {{ 2 ** 10 }}"), "-1 0 1024");
  EXPECT_NE(error_of("{{ 2 ** 64 }}").find("integer overflow"), std::string::npos);
  EXPECT_NE(error_of("{{ 3 ** 9223372036854775807 }}").find("integer overflow"), std::string::npos);
  EXPECT_NE(
      error_of("{{ '{99999999999999999999}'.format(1) }}").find("out of range"), std::string::npos);
}

TEST(JinjaLimits, LimitsAreTheTemplatesOwn) {
  Limits custom;
  custom.max_output_bytes = 7;
  Template t("{{ x }}", "t", custom);
  EXPECT_EQ(t.limits().max_output_bytes, 7u);
  EXPECT_EQ(t.render({{"x", Value::string("1234567")}}), "1234567");
  EXPECT_THROW(t.render({{"x", Value::string("12345678")}}), DataError);
  // Counters start afresh with every rendering.
  custom = Limits();
  custom.max_loop_iterations = 5;
  Template loop("{% for i in range(5) %}{% endfor %}ok", "t", custom);
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(loop.render({}), "ok");
  EXPECT_EQ(current_limits().max_output_bytes, Limits().max_output_bytes);  // none running
}

// The built-in templates render a long conversation (2000 turns, about 1 MB) within the
// default limits: the limits are generous for real templates.
TEST(JinjaLimits, BuiltinTemplatesRenderLongConversations) {
  ValueList messages;
  const std::string content = repeat_text("word ", 100);  // 500 bytes
  for (int i = 0; i < 2000; ++i) {
    Value message = Value::dict();
    message.dict_data().set(Value::string("role"), Value::string(i % 2 ? "assistant" : "user"));
    message.dict_data().set(Value::string("content"), Value::string(content));
    messages.push_back(message);
  }
  Globals globals = {
      {"messages", Value::list(messages)},
      {"add_generation_prompt", Value::boolean(true)},
      {"bos_token", Value::string("<s>")},
      {"eos_token", Value::string("</s>")},
      {"raise_exception", Value::function("raise_exception", [](const CallArgs& args) -> Value {
         throw RenderError(RenderError::Kind::raised, args.positional.at(0).to_str());
       })}};
  for (size_t i = 0; i < kEmbeddedTemplateCount; ++i) {
    const EmbeddedTemplate& t = kEmbeddedTemplates[i];
    Template compiled(std::string(t.text, t.size), t.name);
    std::string out;
    EXPECT_NO_THROW(out = compiled.render(globals)) << t.name;
    EXPECT_GT(out.size(), 2000u * content.size()) << t.name;
    // With a margin: a tenth of the default work and loop limits is still enough.
    Limits tenth;
    tenth.max_work /= 10;
    tenth.max_loop_iterations /= 10;
    EXPECT_NO_THROW(Template(std::string(t.text, t.size), t.name, tenth).render(globals)) << t.name;
  }
}

}  // namespace
}  // namespace dpo::jinja
