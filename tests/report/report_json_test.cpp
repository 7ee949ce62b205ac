// The JSON inputs of `dpo report` on their own: tolerant file reading, values of any JSON type
// as numbers and text, and flattening into key/value rows.
#include "report/report_json.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "tests/support/test_support.h"

namespace dpo::report_html {
namespace {

using Rows = std::vector<std::pair<std::string, std::string>>;

TEST(ReportJson, MissingFilesAreNulloptAndBadOnesNameTheirLine) {
  testing::TempDir dir;
  EXPECT_FALSE(read_json_file(dir.file("none.json")).has_value());
  EXPECT_FALSE(read_jsonl_file(dir.file("none.jsonl")).has_value());
  EXPECT_FALSE(read_json_file(dir.path()).has_value());  // a directory is not a file

  testing::write_file(dir.file("rows.jsonl"), "{\"a\":1}\n\n  \r\n[2]\n\"x\"");
  std::optional<std::vector<json>> rows = read_jsonl_file(dir.file("rows.jsonl"));
  ASSERT_TRUE(rows.has_value());
  ASSERT_EQ(rows->size(), 3u);  // blank lines are skipped
  EXPECT_EQ((*rows)[0]["a"], 1);
  EXPECT_EQ((*rows)[2], "x");

  testing::write_file(dir.file("bad.jsonl"), "{}\n\n{\"a\":}\n");
  try {
    read_jsonl_file(dir.file("bad.jsonl"));
    FAIL() << "expected a DataError";
  } catch (const DataError& e) {
    EXPECT_EQ(e.message().rfind(dir.file("bad.jsonl") + ":3: malformed JSON: ", 0), 0u)
        << e.message();
  }
  testing::write_file(dir.file("bad.json"), "{\n  \"a\": [1,\n  2,,\n]}");
  try {
    read_json_file(dir.file("bad.json"));
    FAIL() << "expected a DataError";
  } catch (const DataError& e) {
    EXPECT_EQ(e.message().rfind(dir.file("bad.json") + ":3: malformed JSON: ", 0), 0u)
        << e.message();
  }
}

TEST(ReportJson, NumbersOfAnyJsonType) {
  json row = json::parse(
      R"({"n": 2.5, "i": 3, "t": true, "null": null, "s": "1e3", "nan": "nan", "inf": "-inf",
          "word": "abc", "empty": "", "list": [1]})");
  EXPECT_EQ(number_of(row, "n"), 2.5);
  EXPECT_EQ(number_of(row, "i"), 3.0);
  EXPECT_EQ(number_of(row, "t"), 1.0);
  EXPECT_EQ(number_of(row, "s"), 1000.0);
  ASSERT_TRUE(number_of(row, "null").has_value());
  EXPECT_TRUE(std::isnan(*number_of(row, "null")));  // a non-finite value written as null
  EXPECT_TRUE(std::isnan(*number_of(row, "nan")));
  EXPECT_EQ(*number_of(row, "inf"), -INFINITY);
  EXPECT_FALSE(number_of(row, "word").has_value());
  EXPECT_FALSE(number_of(row, "empty").has_value());
  EXPECT_FALSE(number_of(row, "list").has_value());
  EXPECT_FALSE(number_of(row, "absent").has_value());
  EXPECT_FALSE(number_of(json::array({1}), "n").has_value());
}

TEST(ReportJson, PathsAndText) {
  json report = json::parse(R"({"a": {"b": {"c": 0.125}}, "s": "text", "big": 12345678901})");
  ASSERT_NE(at(report, {"a", "b", "c"}), nullptr);
  EXPECT_EQ(*at(report, {"a", "b", "c"}), 0.125);
  EXPECT_EQ(at(report, {"a", "x"}), nullptr);
  EXPECT_EQ(at(report, {"s", "x"}), nullptr);  // through a non-object
  EXPECT_EQ(field_text(&report, "s"), "text");
  EXPECT_EQ(field_text(&report, "big"), "12345678901");
  EXPECT_EQ(field_text(&report, "absent"), "not recorded");
  EXPECT_EQ(field_text(nullptr, "s"), "not recorded");
  EXPECT_EQ(value_text(json(1.0 / 3)), "0.3333");
  EXPECT_EQ(value_text(json(false)), "false");
  EXPECT_EQ(value_text(json(nullptr)), "null");
  EXPECT_EQ(value_text(json::parse(R"({"k": [1, "x"]})")), R"({"k":[1,"x"]})");
  EXPECT_EQ(value_text(json(std::vector<int>(200, 7))).size(), 303u);  // 300 bytes and "..."
}

TEST(ReportJson, FlattenedKeys) {
  json value = json::parse(
      R"({"config": {"lr": 5e-7, "types": ["sigmoid", "ipo"], "empty": {}, "none": []},
          "files": [{"path": "a"}, {"path": "b"}]})");
  Rows rows;
  flatten(value, "", rows);
  EXPECT_EQ(
      rows,
      (Rows{
          {"config.lr", "5e-07"},
          {"config.types", "sigmoid, ipo"},
          {"config.empty", "{}"},
          {"config.none", "[]"},
          {"files[0].path", "a"},
          {"files[1].path", "b"}}));
}

TEST(ReportJson, ConversationsAsText) {
  json messages = json::parse(
      R"([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}, 3])");
  EXPECT_EQ(conversation_text(&messages), "system: Be brief.\n\nuser: Hi\n\n3");
  json text = "plain";
  EXPECT_EQ(conversation_text(&text), "plain");
  json null = nullptr;
  EXPECT_EQ(conversation_text(&null), "not recorded");
  EXPECT_EQ(conversation_text(nullptr), "not recorded");
}

TEST(ReportJson, OtherFieldsLeaveOutTheShownOnes) {
  json report = json::parse(R"({"kind": "check", "passed": true, "steps": 10, "x": {"y": 1}})");
  std::string html = other_fields_html(report, {"kind", "passed"});
  EXPECT_NE(html.find("<code>steps</code></td><td>10</td>"), std::string::npos);
  EXPECT_NE(html.find("<code>x.y</code></td><td>1</td>"), std::string::npos);
  EXPECT_EQ(html.find("kind"), std::string::npos);
  EXPECT_EQ(other_fields_html(report, {"kind", "passed", "steps", "x"}), "<p>None.</p>");
}

}  // namespace
}  // namespace dpo::report_html
