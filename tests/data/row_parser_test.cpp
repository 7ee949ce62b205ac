#include "data/row_parser.h"

#include <gtest/gtest.h>

#include "core/error.h"
#include "data/record_reader.h"

namespace dpo {
namespace {

// Parses one JSON text the way the reader hands it over (with padding after it).
struct Parsed {
  bool ok = false;
  PreferenceRow row;
  std::vector<RowError> errors;
  bool has(IssueCode code) const {
    for (const RowError& e : errors) {
      if (e.code == code)
        return true;
    }
    return false;
  }
  std::string messages() const {
    std::string all;
    for (const RowError& e : errors)
      all += std::string(issue_name(e.code)) + ": " + e.message + "\n";
    return all;
  }
};

Parsed parse_with(RowParser& parser, const std::string& json) {
  std::string padded = json + std::string(kRecordPadding, ' ');
  Parsed p;
  p.ok = parser.parse(std::string_view(padded.data(), json.size()), p.row, p.errors);
  return p;
}

Parsed parse(
    const std::string& json, DataFormat format = DataFormat::auto_detect, FieldNames fields = {}) {
  RowParser parser(format, fields);
  return parse_with(parser, json);
}

TEST(RowParser, StandardStrings) {
  Parsed p = parse(R"({"prompt":"Hi?","chosen":"Hello!","rejected":"Go away.","id":"r1"})");
  ASSERT_TRUE(p.ok) << p.messages();
  ASSERT_EQ(p.row.prompt.size(), 1u);
  EXPECT_EQ(p.row.prompt[0].role, "user");
  EXPECT_EQ(p.row.prompt[0].content, "Hi?");
  EXPECT_EQ(p.row.chosen[0].role, "assistant");
  EXPECT_EQ(p.row.chosen[0].content, "Hello!");
  EXPECT_EQ(p.row.rejected[0].content, "Go away.");
  EXPECT_EQ(p.row.id, "r1");
}

TEST(RowParser, ConversationalMessagesWithSystemField) {
  Parsed p = parse(
      R"({"system":"Be kind.","prompt":[{"role":"user","content":"a"},{"role":"assistant","content":"b"},{"role":"user","content":"c"}],)"
      R"("chosen":[{"role":"assistant","content":"yes"}],"rejected":[{"role":"assistant","content":"no"}]})");
  ASSERT_TRUE(p.ok) << p.messages();
  ASSERT_EQ(p.row.prompt.size(), 4u);
  EXPECT_EQ(p.row.prompt[0].role, "system");
  EXPECT_EQ(p.row.prompt[0].content, "Be kind.");
  EXPECT_EQ(p.row.prompt[3].content, "c");
}

TEST(RowParser, ContentAsAListOfTextParts) {
  Parsed p = parse(
      R"({"prompt":[{"role":"user","content":[{"type":"text","text":"part one"},{"type":"text","value":"two"}]}],)"
      R"("chosen":"a","rejected":"b"})");
  ASSERT_TRUE(p.ok) << p.messages();
  EXPECT_EQ(p.row.prompt[0].content, "part one\ntwo");
}

TEST(RowParser, AnImagePartIsRejected) {
  Parsed p = parse(
      R"({"prompt":[{"role":"user","content":[{"type":"image_url","image_url":"x"}]}],"chosen":"a","rejected":"b"})");
  EXPECT_FALSE(p.ok);
  EXPECT_TRUE(p.has(IssueCode::wrong_type)) << p.messages();
}

TEST(RowParser, UltraFeedbackStyleWholeConversationsNextToAPrompt) {
  Parsed p = parse(
      R"({"prompt":"What is 2+2?","chosen":[{"role":"user","content":"What is 2+2?"},{"role":"assistant","content":"4"}],)"
      R"("rejected":[{"role":"user","content":"What is 2+2?"},{"role":"assistant","content":"5"}]})");
  ASSERT_TRUE(p.ok) << p.messages();
  ASSERT_EQ(p.row.chosen.size(), 1u);
  EXPECT_EQ(p.row.chosen[0].content, "4");
  EXPECT_EQ(p.row.rejected[0].content, "5");
}

TEST(RowParser, WholeConversationThatContradictsThePrompt) {
  Parsed p = parse(
      R"({"prompt":"What is 2+2?","chosen":[{"role":"user","content":"Other question"},{"role":"assistant","content":"4"}],"rejected":"5"})");
  EXPECT_FALSE(p.ok);
  EXPECT_TRUE(p.has(IssueCode::prompt_mismatch)) << p.messages();
}

TEST(RowParser, ImplicitPromptFromHhRlhfStrings) {
  Parsed p = parse(
      R"({"chosen":"\n\nHuman: Hi there\n\nAssistant: Hello, how can I help?\n\nHuman: Tell a joke\n\nAssistant: Why did the chicken...",)"
      R"("rejected":"\n\nHuman: Hi there\n\nAssistant: Hello, how can I help?\n\nHuman: Tell a joke\n\nAssistant: No."})");
  ASSERT_TRUE(p.ok) << p.messages();
  EXPECT_EQ(p.row.prompt.size(), 3u);
  EXPECT_EQ(p.row.prompt[0].role, "user");
  EXPECT_EQ(p.row.prompt[0].content, "Hi there");
  EXPECT_EQ(p.row.prompt[1].role, "assistant");
  EXPECT_EQ(p.row.prompt[2].content, "Tell a joke");
  EXPECT_EQ(p.row.chosen[0].content, "Why did the chicken...");
  EXPECT_EQ(p.row.rejected[0].content, "No.");
}

TEST(RowParser, ImplicitPromptFromMessageLists) {
  Parsed p = parse(
      R"({"chosen_messages":[{"role":"system","content":[{"type":"text","value":"S"}]},{"role":"user","content":"Q"},{"role":"assistant","content":"good"}],)"
      R"("rejected_messages":[{"role":"system","content":[{"type":"text","value":"S"}]},{"role":"user","content":"Q"},{"role":"assistant","content":"bad"}]})");
  ASSERT_TRUE(p.ok) << p.messages();
  EXPECT_EQ(p.row.prompt.size(), 2u);
  EXPECT_EQ(p.row.chosen[0].content, "good");
  EXPECT_EQ(p.row.rejected[0].content, "bad");
}

TEST(RowParser, ImplicitPromptsThatDisagree) {
  Parsed p = parse(
      R"({"chosen":[{"role":"user","content":"Q1"},{"role":"assistant","content":"a"}],"rejected":[{"role":"user","content":"Q2"},{"role":"assistant","content":"b"}]})");
  EXPECT_FALSE(p.ok);
  EXPECT_TRUE(p.has(IssueCode::prompt_mismatch)) << p.messages();
}

TEST(RowParser, ImplicitConversationWithoutFinalAssistantTurn) {
  Parsed p = parse(
      R"({"chosen":[{"role":"user","content":"Q"},{"role":"assistant","content":"a"},{"role":"user","content":"more?"}],"rejected":[{"role":"user","content":"Q"},{"role":"assistant","content":"b"}]})");
  EXPECT_FALSE(p.ok);
  EXPECT_TRUE(p.has(IssueCode::bad_role_order)) << p.messages();
}

TEST(RowParser, ImplicitPlainStringsHaveNoPrompt) {
  Parsed p = parse(R"({"chosen":"just text","rejected":"other text"})");
  EXPECT_FALSE(p.ok);
  EXPECT_TRUE(p.has(IssueCode::missing_field)) << p.messages();
}

TEST(RowParser, ShareGptWithHumanGptRoles) {
  Parsed p = parse(
      R"({"conversations":[{"from":"system","value":"S"},{"from":"human","value":"Q"}],"chosen":{"from":"gpt","value":"A"},"rejected":{"from":"gpt","value":"B"}})");
  ASSERT_TRUE(p.ok) << p.messages();
  EXPECT_EQ(p.row.prompt[0].role, "system");
  EXPECT_EQ(p.row.prompt[1].role, "user");
  EXPECT_EQ(p.row.chosen[0].role, "assistant");
  EXPECT_EQ(p.row.chosen[0].content, "A");
}

TEST(RowParser, OpenAiPreferenceFineTuning) {
  Parsed p = parse(
      R"({"input":{"messages":[{"role":"user","content":"Q"}],"tools":[]},"preferred_output":[{"role":"assistant","content":"A"}],"non_preferred_output":[{"role":"assistant","content":"B"}]})");
  ASSERT_TRUE(p.ok) << p.messages();
  EXPECT_EQ(p.row.prompt[0].content, "Q");
  EXPECT_EQ(p.row.chosen[0].content, "A");
  EXPECT_EQ(p.row.rejected[0].content, "B");
}

TEST(RowParser, FieldsMapOtherColumnNames) {
  Parsed p = parse(
      R"({"question":"Q","response_j":"good","response_k":"bad"})",
      DataFormat::auto_detect,
      FieldNames::parse("prompt=question,chosen=response_j,rejected=response_k"));
  ASSERT_TRUE(p.ok) << p.messages();
  EXPECT_EQ(p.row.chosen[0].content, "good");
}

TEST(RowParser, FieldsSpecErrors) {
  EXPECT_THROW(FieldNames::parse("prompt"), UsageError);
  EXPECT_THROW(FieldNames::parse("answer=x"), UsageError);
  EXPECT_THROW(parse_data_format("csv"), UsageError);
  EXPECT_EQ(parse_data_format("implicit"), DataFormat::implicit_prompt);
}

TEST(RowParser, FormatIsDetectedOnceFromTheFirstObject) {
  RowParser parser(DataFormat::auto_detect, {});
  EXPECT_EQ(parser.format(), DataFormat::auto_detect);
  EXPECT_TRUE(parse_with(parser, R"({"prompt":"q","chosen":"a","rejected":"b"})").ok);
  EXPECT_EQ(parser.format(), DataFormat::standard);
  // A ShareGPT row in a standard file lacks the standard fields.
  Parsed p = parse_with(parser, R"({"conversations":[],"chosen":"a","rejected":"b"})");
  EXPECT_FALSE(p.ok);
  EXPECT_TRUE(p.has(IssueCode::missing_field)) << p.messages();
  // Message lists are accepted in a file detected as standard.
  EXPECT_TRUE(
      parse_with(
          parser, R"({"prompt":[{"role":"user","content":"q"}],"chosen":"a","rejected":"b"})")
          .ok);
}

TEST(RowParser, InvalidJson) {
  Parsed p = parse(R"({"prompt":"q","chosen":"a","rejected":"b")");
  EXPECT_FALSE(p.ok);
  EXPECT_TRUE(p.has(IssueCode::invalid_json)) << p.messages();
  EXPECT_TRUE(parse(R"({"prompt":"q","chosen":tru,"rejected":"b"})").has(IssueCode::invalid_json));
}

TEST(RowParser, InvalidUtf8NamesTheByteOffset) {
  Parsed p = parse("{\"prompt\":\"q\xFF\",\"chosen\":\"a\",\"rejected\":\"b\"}");
  EXPECT_FALSE(p.ok);
  ASSERT_TRUE(p.has(IssueCode::invalid_utf8)) << p.messages();
  EXPECT_NE(p.errors[0].message.find("byte 12"), std::string::npos) << p.messages();
}

TEST(RowParser, MissingAndWronglyTypedFields) {
  Parsed missing = parse(R"({"prompt":"q","chosen":"a"})");
  EXPECT_TRUE(missing.has(IssueCode::missing_field)) << missing.messages();
  EXPECT_NE(missing.messages().find("'rejected'"), std::string::npos);

  Parsed number = parse(R"({"prompt":"q","chosen":42,"rejected":"b"})");
  EXPECT_TRUE(number.has(IssueCode::wrong_type)) << number.messages();
  EXPECT_NE(number.messages().find("found a number"), std::string::npos);

  Parsed content = parse(R"({"prompt":[{"role":"user","content":7}],"chosen":"a","rejected":"b"})");
  EXPECT_TRUE(content.has(IssueCode::wrong_type));
  EXPECT_NE(content.messages().find("prompt[0].content"), std::string::npos) << content.messages();

  Parsed array_row = parse(R"(["q","a","b"])");
  EXPECT_TRUE(array_row.has(IssueCode::wrong_type));
}

TEST(RowParser, UnknownRoleIsABadRoleOrder) {
  Parsed p = parse(R"({"prompt":[{"role":"narrator","content":"q"}],"chosen":"a","rejected":"b"})");
  EXPECT_FALSE(p.ok);
  EXPECT_TRUE(p.has(IssueCode::bad_role_order)) << p.messages();
}

TEST(RowParser, DeepNestingIsInvalidJsonNotACrash) {
  std::string deep = std::string(5000, '[') + std::string(5000, ']');
  Parsed p = parse(R"({"prompt":"q","chosen":"a","rejected":"b","metadata":{"x":)" + deep + "}}");
  EXPECT_FALSE(p.ok);
  EXPECT_TRUE(p.has(IssueCode::invalid_json)) << p.messages();
}

TEST(RowParser, OptionalFields) {
  Parsed p = parse(
      R"({"id":17,"prompt":"q","chosen":"a","rejected":"b","preference":"tie","strength":0.5,)"
      R"("split":"validation","metadata":{"source":"web","score":3,"ok":true,"nested":{"x":1}}})");
  ASSERT_TRUE(p.ok) << p.messages();
  EXPECT_EQ(p.row.id, "17");
  EXPECT_EQ(p.row.judgment, Judgment::tie);
  EXPECT_DOUBLE_EQ(*p.row.strength, 0.5);
  EXPECT_EQ(p.row.requested_split, RequestedSplit::val);
  EXPECT_EQ(p.row.metadata_json, R"({"source":"web","score":3,"ok":true,"nested":{"x":1}})");
  ASSERT_EQ(p.row.metadata_values.size(), 3u);
  EXPECT_EQ(p.row.metadata_values[1], (std::pair<std::string, std::string>{"score", "3"}));
}

TEST(RowParser, OptionalFieldErrors) {
  EXPECT_TRUE(parse(R"({"prompt":"q","chosen":"a","rejected":"b","preference":"maybe"})")
                  .has(IssueCode::invalid_value));
  EXPECT_TRUE(parse(R"({"prompt":"q","chosen":"a","rejected":"b","strength":"high"})")
                  .has(IssueCode::wrong_type));
  EXPECT_TRUE(parse(R"({"prompt":"q","chosen":"a","rejected":"b","split":"holdout-2"})")
                  .has(IssueCode::invalid_value));
  EXPECT_TRUE(parse(R"({"prompt":"q","chosen":"a","rejected":"b","metadata":"web"})")
                  .has(IssueCode::wrong_type));
  // The id of a broken row is still read, for the report.
  Parsed p = parse(R"({"id":"x9","prompt":"q","chosen":"a"})");
  EXPECT_EQ(p.row.id, "x9");
}

TEST(RowParser, SystemFieldNextToASystemMessage) {
  Parsed p = parse(
      R"({"system":"A","prompt":[{"role":"system","content":"B"},{"role":"user","content":"q"}],"chosen":"a","rejected":"b"})");
  EXPECT_TRUE(p.has(IssueCode::bad_role_order)) << p.messages();
}

}  // namespace
}  // namespace dpo
