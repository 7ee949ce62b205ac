#include "core/json_file.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "core/error.h"

namespace dpo {
namespace {

TEST(JsonFile, ParsesAValue) {
  nlohmann::json value = parse_json_file_text(R"({"a": [1, 2]})", "m/x.json");
  EXPECT_EQ(value["a"][1], 2);
}

TEST(JsonFile, BadJsonNamesTheFileAndThePlace) {
  try {
    parse_json_file_text("{\"a\": ", "m/tokenizer_config.json");
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("'m/tokenizer_config.json' is not valid JSON"), std::string::npos)
        << message;
    EXPECT_NE(message.find("line 1, column 7"), std::string::npos) << message;
  }
}

// The problem found in `text`, described; "" when the text is accepted.
std::string problem(const std::string& text, JsonParseOptions options = {}) {
  std::optional<JsonProblem> found = find_json_problem(text, options);
  return found ? found->describe() : "";
}

TEST(JsonFile, DuplicateKeysAreRefusedWithBothPlaces) {
  EXPECT_EQ(
      problem("{\n  \"max_steps\": 1,\n  \"lr\": 2,\n  \"max_steps\": 3\n}"),
      "duplicate key 'max_steps' at line 4, column 3 (first at line 2, column 3)");
  // Nested objects name the path; the same key in sibling objects is fine.
  EXPECT_EQ(
      problem(R"({"train": {"a": 1, "a": 2}})"),
      "duplicate key 'train.a' at line 1, column 20 (first at line 1, column 12)");
  EXPECT_EQ(
      problem(R"({"m": [{"role": "user"}, {"role": "a", "content": 1, "role": "b"}]})"),
      "duplicate key 'm[1].role' at line 1, column 54 (first at line 1, column 27)");
  EXPECT_EQ(problem(R"([{"a": 1}, {"a": 2}, {"b": {"a": 3}}])"), "");
  // Keys compare after unescaping: "a" and "\u0061" are the same key.
  EXPECT_NE(problem(R"({"a": 1, "\u0061": 2})").find("duplicate key 'a'"), std::string::npos);
}

TEST(JsonFile, DuplicateKeysThrowFromEveryEntryPoint) {
  nlohmann::json value;
  nlohmann::ordered_json ordered;
  JsonProblem found;
  EXPECT_FALSE(parse_json_strict(R"({"a": 1, "a": 2})", value, found));
  EXPECT_EQ(found.reason, "duplicate key 'a'");
  EXPECT_FALSE(parse_json_strict(R"({"a": 1, "a": 2})", ordered, found));
  EXPECT_EQ(found.line, 1u);
  EXPECT_EQ(found.column, 10u);
  EXPECT_THROW(parse_json_file_text(R"({"a": 1, "a": 2})", "x.json"), ConfigError);
  EXPECT_THROW(
      parse_ordered_json(R"({"a": 1, "a": 2})", JsonSource{"x", JsonErrorKind::checkpoint}),
      CheckpointError);
  EXPECT_THROW(parse_json(R"({"a": 1, "a": 2})", JsonSource{"x", JsonErrorKind::data}), DataError);
}

TEST(JsonFile, ByteOrderMarkOnlyAtTheStart) {
  nlohmann::json value = parse_json_file_text("\xEF\xBB\xBF{\"a\": 1}", "x.json");
  EXPECT_EQ(value["a"], 1);
  EXPECT_EQ(
      problem("{\"a\": 1,\n\"b\": 2,\n\xEF\xBB\xBF\"c\": 3}"),
      "expected a key in double quotes, found byte 0xEF (a UTF-8 BOM) at line 3, column 1 "
      "(in the object opened at line 1, column 1)");
  JsonParseOptions strict;
  strict.skip_leading_bom = false;
  EXPECT_EQ(
      problem("\xEF\xBB\xBF{}", strict),
      "unexpected byte 0xEF (a UTF-8 BOM) where a value was expected at line 1, column 1");
  EXPECT_EQ(
      problem("[1]\n\xEF\xBB\xBF"),
      "unexpected byte 0xEF (a UTF-8 BOM) after the JSON value at line 2, column 1");
}

TEST(JsonFile, StringProblemsNameTheRealReason) {
  EXPECT_EQ(
      problem(R"({"a": "x\ud800y"})"),
      "lone surrogate \\ud800 in a string at line 1, column 9 (a high surrogate must be "
      "followed by a \\udc00-\\udfff escape)");
  EXPECT_NE(problem(R"(["\udc00"])").find("lone surrogate \\udc00"), std::string::npos);
  EXPECT_NE(problem(R"(["\ud800\u0041"])").find("lone surrogate \\ud800"), std::string::npos);
  // A valid pair decodes to one character.
  nlohmann::json pair = parse_json_file_text(R"(["\ud83d\ude00"])", "x");
  EXPECT_EQ(pair[0], "\xF0\x9F\x98\x80");
  EXPECT_EQ(
      problem("{\"a\": \"open"),
      "unterminated string (no closing '\"' before the end of the text) at line 1, column 7");
  EXPECT_NE(problem("[\"a\nb\"]").find("a line break inside a string"), std::string::npos);
  EXPECT_EQ(
      problem("[\"a\x01\"]"), "unescaped control character 0x01 in a string at line 1, column 4");
  EXPECT_EQ(problem("[\"a\xC3(\"]"), "invalid UTF-8 byte 0xC3 in a string at line 1, column 4");
  EXPECT_NE(problem("[\"\xED\xA0\x80\"]").find("surrogate encoded as UTF-8"), std::string::npos);
  EXPECT_NE(problem(R"(["\x41"])").find("invalid escape '\\x'"), std::string::npos);
  EXPECT_NE(problem(R"(["\u12G4"])").find("four hex digits"), std::string::npos);
}

TEST(JsonFile, SyntaxProblemsNameTheRealReason) {
  EXPECT_EQ(problem(""), "the text is empty at line 1, column 1");
  EXPECT_EQ(problem(" \n "), "no JSON value (only whitespace) at line 2, column 2");
  EXPECT_EQ(
      problem(R"({"a": 1,})"),
      "a trailing comma before '}' (not allowed in JSON) at line 1, column 9");
  EXPECT_EQ(
      problem("[1, 2,]"), "a trailing comma before ']' (not allowed in JSON) at line 1, column 7");
  EXPECT_EQ(
      problem("{\"a\": 1\n \"b\": 2}"),
      "expected ',' or '}' after the value of 'a', found '\"' at line 2, column 2 (in the object "
      "opened at line 1, column 1)");
  EXPECT_EQ(problem("{a: 1}").substr(0, 39), "expected a key in double quotes, found ");
  EXPECT_EQ(
      problem("['a']"),
      "a string in single quotes (JSON strings use double quotes) at line 1, column 2");
  EXPECT_EQ(
      problem("[tru]"), "invalid literal 'tru' (expected true, false or null) at line 1, column 2");
  EXPECT_EQ(
      problem("[01]"), "a number with a leading zero (not allowed in JSON) at line 1, column 2");
  EXPECT_EQ(problem("[1.]"), "a number with no digits after '.' at line 1, column 2");
  EXPECT_EQ(
      problem("{\"a\": [1, 2"),
      "the text ends inside an array at line 1, column 12 (opened at line 1, column 7)");
  EXPECT_EQ(problem("{} {}"), "unexpected '{' after the JSON value at line 1, column 4");
  EXPECT_EQ(problem("[1] // c"), "unexpected '/' after the JSON value at line 1, column 5");
  EXPECT_EQ(
      problem(std::string("[\0]", 3)),
      "unexpected byte 0x00 where a value was expected at line 1, column 2");
}

TEST(JsonFile, LinesEndAtLfCrlfAndLoneCr) {
  EXPECT_EQ(
      problem("[1,\r2,\r\n3,\nx]"),
      "unexpected 'x' where a value was expected at line 4, column 1");
  // Columns count characters, not bytes.
  EXPECT_EQ(
      problem("[\"\xC3\xA9\xC3\xA9\", x]"),
      "unexpected 'x' where a value was expected at line 1, column 8");
}

TEST(JsonFile, NumbersKeepNlohmannTypesAndRefuseOverflow) {
  nlohmann::json value = parse_json_file_text(
      R"({"u": 3, "i": -3, "big": 18446744073709551616, "f": 0.5, "tiny": 1e-400})", "x");
  EXPECT_TRUE(value["u"].is_number_unsigned());
  EXPECT_TRUE(value["i"].is_number_integer());
  EXPECT_EQ(value["i"], -3);
  EXPECT_TRUE(value["big"].is_number_float());
  EXPECT_EQ(value["f"], 0.5);
  EXPECT_EQ(value["tiny"], 0.0);
  EXPECT_EQ(
      problem(R"({"lr": 1e400})"),
      "number 1e400 is out of range (larger than a double can hold) at line 1, column 8");
  EXPECT_NE(problem("[-1e999]").find("out of range"), std::string::npos);
  EXPECT_EQ(problem("[-]"), "a '-' not followed by digits at line 1, column 2");
}

TEST(JsonFile, CommentsOnlyWhenAllowed) {
  const std::string text = "// head\n{\"a\": /* inline */ 1 // tail\n}";
  JsonParseOptions comments;
  comments.allow_comments = true;
  EXPECT_EQ(problem(text, comments), "");
  EXPECT_EQ(problem(text), "unexpected '/' where a value was expected at line 1, column 1");
  EXPECT_EQ(problem("{/* open", comments), "unterminated /* comment at line 1, column 2");
}

TEST(JsonFile, DeepNestingIsRefusedNotACrash) {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  EXPECT_EQ(problem(deep), "arrays and objects nested deeper than 512 at line 1, column 513");
  JsonParseOptions shallow;
  shallow.max_depth = 2;
  EXPECT_EQ(problem("[[1]]", shallow), "");
  EXPECT_NE(problem("[[[1]]]", shallow).find("nested deeper than 2"), std::string::npos);
}

TEST(JsonFile, OrderedParseKeepsTheOrder) {
  nlohmann::ordered_json value =
      parse_ordered_json(R"({"z": 1, "a": {"y": 2, "b": 3}})", JsonSource{"x"});
  EXPECT_EQ(value.dump(), R"({"z":1,"a":{"y":2,"b":3}})");
}

TEST(JsonFile, RefusalNamesTheFileEscaped) {
  try {
    parse_json_file_text("[", "m/\x1b[31mred.json");
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& error) {
    EXPECT_EQ(
        error.message(),
        "'m/\\x1b[31mred.json' is not valid JSON: the text ends inside an array at line 1, "
        "column 2 (opened at line 1, column 1)");
  }
}

}  // namespace
}  // namespace dpo
