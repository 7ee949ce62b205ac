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

// The message of the one error with `code`; "" when there is none.
std::string message_for(const Parsed& p, IssueCode code) {
  for (const RowError& e : p.errors) {
    if (e.code == code)
      return e.message;
  }
  return "";
}

TEST(RowParser, DuplicateKeysAreADuplicateKeyErrorWithBothColumns) {
  Parsed p = parse(R"({"prompt":"a","chosen":"b","rejected":"c","prompt":"d"})");
  EXPECT_FALSE(p.ok);
  ASSERT_TRUE(p.has(IssueCode::duplicate_key)) << p.messages();
  EXPECT_EQ(
      message_for(p, IssueCode::duplicate_key),
      "duplicate key 'prompt' at column 43 (first at column 2)");
  EXPECT_EQ(p.errors.size(), 1u) << p.messages();
}

TEST(RowParser, DuplicateKeysInNestedObjectsToo) {
  Parsed content = parse(
      R"({"prompt":[{"role":"user","content":"q","content":"other"}],"chosen":"a","rejected":"b"})");
  EXPECT_NE(
      message_for(content, IssueCode::duplicate_key).find("duplicate key 'prompt[0].content'"),
      std::string::npos)
      << content.messages();
  Parsed role = parse(
      R"({"prompt":"q","chosen":[{"role":"assistant","role":"user","content":"a"}],"rejected":"b"})");
  EXPECT_TRUE(role.has(IssueCode::duplicate_key)) << role.messages();
  Parsed metadata =
      parse(R"({"prompt":"q","chosen":"a","rejected":"b","metadata":{"source":"x","source":"y"}})");
  EXPECT_NE(
      message_for(metadata, IssueCode::duplicate_key).find("'metadata.source'"), std::string::npos)
      << metadata.messages();
  // Keys are compared unescaped: "prompt" and "pr\u006fmpt" are the same key.
  EXPECT_TRUE(parse(R"({"prompt":"q","chosen":"a","rejected":"b","pr\u006fmpt":"z"})")
                  .has(IssueCode::duplicate_key));
  // Many keys (past the inline comparison): still found.
  std::string wide = R"({"prompt":"q","chosen":"a","rejected":"b","metadata":{)";
  for (int i = 0; i < 40; ++i)
    wide += "\"k" + std::to_string(i) + "\":" + std::to_string(i) + ",";
  wide += R"("k7":0}})";
  EXPECT_TRUE(parse(wide).has(IssueCode::duplicate_key));
  // The same key in sibling objects is not a duplicate.
  Parsed fine = parse(
      R"({"prompt":[{"role":"user","content":"q"},{"role":"assistant","content":"r"},{"role":"user","content":"s"}],"chosen":"a","rejected":"b","metadata":{"role":1}})");
  EXPECT_TRUE(fine.ok) << fine.messages();
}

TEST(RowParser, MultiLineRecordsNameTheFileLine) {
  RowParser parser(DataFormat::auto_detect, {});
  const std::string record = "{\"prompt\": \"q\",\n \"chosen\": \"a\",\n \"prompt\": \"b\"}";
  std::string padded = record + std::string(kRecordPadding, ' ');
  PreferenceRow row;
  std::vector<RowError> errors;
  EXPECT_FALSE(parser.parse(std::string_view(padded.data(), record.size()), row, errors, 10));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].code, IssueCode::duplicate_key);
  EXPECT_EQ(
      errors[0].message,
      "duplicate key 'prompt' at line 12, column 2 (first at line 10, column 2)");
  // Unknown line: counted from the record and said so.
  errors.clear();
  EXPECT_FALSE(parser.parse(std::string_view(padded.data(), record.size()), row, errors));
  EXPECT_NE(errors[0].message.find("at line 3, column 2"), std::string::npos) << errors[0].message;
  EXPECT_NE(errors[0].message.find("counted from the record's first line"), std::string::npos);
}

TEST(RowParser, JsonErrorsNameTheRealReasonAndColumn) {
  // A byte order mark in the middle of a file (two files concatenated).
  Parsed bom = parse("\xEF\xBB\xBF{\"prompt\":\"q\",\"chosen\":\"a\",\"rejected\":\"b\"}");
  EXPECT_EQ(
      message_for(bom, IssueCode::invalid_json),
      "unexpected byte 0xEF (a UTF-8 BOM) where a value was expected at column 1");
  Parsed comma = parse(R"({"prompt":"q","chosen":"a" "rejected":"b"})");
  EXPECT_EQ(
      message_for(comma, IssueCode::invalid_json),
      "expected ',' or '}' after the value of 'chosen', found '\"' at column 28 (in the object "
      "opened at column 1)");
  Parsed cut = parse(R"({"prompt":"q","chosen":"a","rejected":"b)");
  EXPECT_NE(
      message_for(cut, IssueCode::invalid_json).find("unterminated string"), std::string::npos)
      << cut.messages();
  Parsed trailing = parse(R"({"prompt":"q","chosen":"a","rejected":"b",})");
  EXPECT_NE(
      message_for(trailing, IssueCode::invalid_json).find("trailing comma before '}'"),
      std::string::npos);
  Parsed two = parse(R"({"prompt":"q","chosen":"a","rejected":"b"}{"prompt":"r"})");
  EXPECT_NE(
      message_for(two, IssueCode::invalid_json).find("after the JSON value at column 43"),
      std::string::npos)
      << two.messages();
}

TEST(RowParser, LoneSurrogatesAreInvalidUtf8WithTheColumn) {
  Parsed high = parse(R"({"prompt":"q\ud800","chosen":"a","rejected":"b"})");
  EXPECT_FALSE(high.ok);
  EXPECT_EQ(
      message_for(high, IssueCode::invalid_utf8),
      "lone surrogate \\ud800 in a string at column 13 (a high surrogate must be followed by a "
      "\\udc00-\\udfff escape), byte 12 of the record");
  Parsed low = parse(R"({"prompt":"q","chosen":"\udfff","rejected":"b"})");
  EXPECT_NE(
      message_for(low, IssueCode::invalid_utf8).find("lone surrogate \\udfff"), std::string::npos)
      << low.messages();
  // A valid pair is a character.
  Parsed pair = parse(R"({"prompt":"q\ud83d\ude00","chosen":"a","rejected":"b"})");
  ASSERT_TRUE(pair.ok) << pair.messages();
  EXPECT_EQ(pair.row.prompt[0].content, "q\xF0\x9F\x98\x80");
  // Surrogates written as UTF-8 bytes (CESU-8) are invalid UTF-8 too.
  EXPECT_TRUE(parse("{\"prompt\":\"q\xED\xA0\x80\",\"chosen\":\"a\",\"rejected\":\"b\"}")
                  .has(IssueCode::invalid_utf8));
}

TEST(RowParser, ToolCallsReachTheMessage) {
  Parsed p = parse(
      R"({"prompt":[{"role":"user","content":"Weather in Paris?"}],)"
      R"("chosen":[{"role":"assistant","content":null,"tool_calls":[{"type":"function","function":{"name":"get_weather","arguments":{"city":"Paris"}}}]},)"
      R"({"role":"tool","content":"18C"},{"role":"assistant","content":"18C and sunny."}],)"
      R"("rejected":[{"role":"assistant","content":"No idea."}]})");
  ASSERT_TRUE(p.ok) << p.messages();
  ASSERT_EQ(p.row.chosen.size(), 3u);
  EXPECT_EQ(p.row.chosen[0].content, "");
  EXPECT_EQ(
      p.row.chosen[0].tool_calls_json,
      R"([{"type":"function","function":{"name":"get_weather","arguments":{"city":"Paris"}}}])");
  EXPECT_EQ(p.row.chosen[1].tool_calls_json, "");
  // Content absent, arguments as a JSON string (OpenAI's form), no "type".
  Parsed absent = parse(
      R"({"prompt":"q","chosen":[{"role":"assistant","tool_calls":[{"function":{"name":"f","arguments":"{\"x\": 1}"}}]},{"role":"tool","content":"1"},{"role":"assistant","content":"done"}],"rejected":"b"})");
  ASSERT_TRUE(absent.ok) << absent.messages();
  EXPECT_EQ(absent.row.chosen[0].content, "");
  // Tool calls count when prompts are compared: different calls are a prompt mismatch.
  Parsed implicit = parse(
      R"({"chosen":[{"role":"user","content":"q"},{"role":"assistant","content":null,"tool_calls":[{"function":{"name":"f"}}]},{"role":"tool","content":"1"},{"role":"assistant","content":"a"}],)"
      R"("rejected":[{"role":"user","content":"q"},{"role":"assistant","content":null,"tool_calls":[{"function":{"name":"g"}}]},{"role":"tool","content":"1"},{"role":"assistant","content":"b"}]})");
  EXPECT_TRUE(implicit.has(IssueCode::prompt_mismatch)) << implicit.messages();
}

TEST(RowParser, MalformedToolCallsAreNamed) {
  auto with_calls = [](const std::string& calls, const std::string& role = "assistant") {
    return parse(
        R"({"prompt":"q","chosen":[{"role":")" + role + R"(","content":null,"tool_calls":)" +
        calls +
        R"(},{"role":"tool","content":"r"},{"role":"assistant","content":"a"}],"rejected":"b"})");
  };
  EXPECT_NE(
      with_calls(R"({"name":"f"})").messages().find("wrong_type: 'chosen[0].tool_calls' must be"),
      std::string::npos);
  EXPECT_NE(
      with_calls(R"(["f"])").messages().find("'chosen[0].tool_calls[0]' must be an object"),
      std::string::npos);
  EXPECT_NE(
      with_calls(R"([{"type":"function"}])").messages().find("has no 'function' field"),
      std::string::npos);
  EXPECT_NE(
      with_calls(R"([{"function":{"arguments":{}}}])").messages().find("has no 'name' field"),
      std::string::npos);
  EXPECT_NE(
      with_calls(R"([{"function":{"name":3}}])").messages().find(".function.name' must be"),
      std::string::npos);
  EXPECT_NE(
      with_calls(R"([{"function":{"name":"f","arguments":[1]}}])").messages().find(".arguments'"),
      std::string::npos);
  EXPECT_TRUE(
      with_calls(R"([{"type":"code","function":{"name":"f"}}])").has(IssueCode::invalid_value));
  EXPECT_TRUE(with_calls(R"([{"function":{"name":"f"}}])", "user").has(IssueCode::bad_role_order));
  // Without tool calls a null content is still an empty turn and a missing one an error.
  EXPECT_TRUE(parse(R"({"prompt":"q","chosen":[{"role":"assistant"}],"rejected":"b"})")
                  .has(IssueCode::missing_field));
}

TEST(RowParser, APromptWithoutAUserTurnIsABadRoleOrder) {
  for (const char* prompt :
       {R"([{"role":"tool","content":"42"}])",
        R"([{"role":"system","content":"s"},{"role":"tool","content":"42"}])",
        R"([{"role":"assistant","content":"Hi, ask me."}])",
        R"([{"role":"system","content":"s"},{"role":"observation","content":"x"}])"}) {
    Parsed p = parse(std::string(R"({"prompt":)") + prompt + R"(,"chosen":"a","rejected":"b"})");
    EXPECT_FALSE(p.ok) << prompt;
    EXPECT_NE(
        message_for(p, IssueCode::bad_role_order)
            .find("the prompt has no user turn (its turns are: "),
        std::string::npos)
        << prompt << "\n"
        << p.messages();
  }
  // The sharegpt format too.
  Parsed sharegpt = parse(
      R"({"conversations":[{"from":"function","value":"r"}],"chosen":{"from":"gpt","value":"a"},"rejected":{"from":"gpt","value":"b"}})");
  EXPECT_TRUE(sharegpt.has(IssueCode::bad_role_order)) << sharegpt.messages();
  // A system message alone is left to the validator (empty_prompt), and tool turns after a user
  // turn are fine.
  EXPECT_TRUE(
      parse(R"({"prompt":[{"role":"system","content":"s"}],"chosen":"a","rejected":"b"})").ok);
  EXPECT_TRUE(
      parse(
          R"({"prompt":[{"role":"user","content":"q"},{"role":"assistant","content":null,"tool_calls":[{"function":{"name":"f"}}]},{"role":"tool","content":"1"}],"chosen":"a","rejected":"b"})")
          .ok);
}

TEST(RowParser, ConversationInputsRefuseDuplicatesAndNameJsonErrors) {
  try {
    parse_conversation(R"([{"role":"user","content":"a","content":"b"}])", "m.json");
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_NE(
        e.message().find("'m.json' is not valid JSON: duplicate key '[0].content' at line 1"),
        std::string::npos)
        << e.message();
  }
  try {
    parse_conversation("[{\"role\":\"user\",\n \"content\":\"a\\ud800\"}]", "m.json");
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_NE(e.message().find("lone surrogate \\ud800 in a string at line 2"), std::string::npos)
        << e.message();
  }
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
  // Scalars by path, nested objects with dots.
  using Values = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(
      p.row.metadata_values,
      (Values{{"source", "web"}, {"score", "3"}, {"ok", "true"}, {"nested.x", "1"}}));
  EXPECT_TRUE(p.row.fields_json.empty());  // every top-level field is a known one
}

TEST(RowParser, OtherTopLevelFieldsAreKeptForSlices) {
  // A `source` column, a nested annotation object and a `messages` copy of the conversation.
  Parsed p = parse(
      R"({"prompt":"q","chosen":"a","rejected":"b","source":"web","annotation":{"locale":"fr-FR",)"
      R"("round":2},"messages":[{"role":"user","content":"q"}],"note":null,"we\"ird":1})");
  ASSERT_TRUE(p.ok) << p.messages();
  using Values = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(
      p.row.field_values,
      (Values{
          {"source", "web"},
          {"annotation.locale", "fr-FR"},
          {"annotation.round", "2"},
          {"we\"ird", "1"}}));
  // Arrays and null are no slice key and are not kept; keys are escaped again.
  EXPECT_EQ(
      p.row.fields_json,
      R"({"source":"web","annotation":{"locale":"fr-FR","round":2},"we\"ird":1})");
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
