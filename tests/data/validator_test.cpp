#include "data/validator.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "tests/support/test_support.h"
#include "tokenizer/sentencepiece_model.h"

namespace dpo {
namespace {

using nlohmann::json;

// A standard-format row as one JSONL line.
std::string row(
    const std::string& prompt,
    const std::string& chosen,
    const std::string& rejected,
    json extra = json::object()) {
  json j = {{"prompt", prompt}, {"chosen", chosen}, {"rejected", rejected}};
  for (auto& [k, v] : extra.items())
    j[k] = v;
  return j.dump() + "\n";
}

// Distinct clean rows whose chosen is longer in every other row (no length bias).
std::string clean_rows(int n, const std::string& tag = "") {
  std::string text;
  for (int i = 0; i < n; ++i) {
    std::string q = "Question " + tag + std::to_string(i) + ": where is my order?";
    std::string good = "Please share your order number so I can check it for you.";
    std::string bad = "No idea, ask someone else.";
    text += i % 2 == 0 ? row(q, good, bad) : row(q, "Sure, I can check.", bad + " Try the shop.");
  }
  return text;
}

ValidationReport validate_text(const std::string& text, ValidateOptions options = {}) {
  testing::TempDir dir;
  testing::write_file(dir.file("data.jsonl"), text);
  return validate_files({dir.file("data.jsonl")}, options);
}

void expect_accounting(const ValidationReport& r) {
  EXPECT_EQ(r.rows, r.pairs_ok + r.rejected + r.excluded);
  EXPECT_EQ(r.pairs_ok, r.train_pairs + r.val_pairs);
}

TEST(Validator, CleanDataPasses) {
  ValidationReport r = validate_text(clean_rows(40));
  expect_accounting(r);
  EXPECT_EQ(r.rows, 40u);
  EXPECT_EQ(r.pairs_ok, 40u);
  EXPECT_EQ(r.errors, 0u);
  EXPECT_EQ(r.warnings, 0u);
  EXPECT_TRUE(r.passed);
  EXPECT_EQ(r.unique_prompts, 40u);
  EXPECT_DOUBLE_EQ(r.chosen_longer_fraction, 0.5);
  EXPECT_EQ(r.files[0].format, "standard");
  EXPECT_EQ(r.files[0].layout, "jsonl");
}

TEST(Validator, EveryRowErrorIsCountedWithItsLine) {
  std::string text;
  text += clean_rows(2);                                                       // lines 1-2
  text += "{\"prompt\":\"q\",\"chosen\":\"a\"\n";                              // 3 invalid_json
  text += "{\"prompt\":\"q\xC3\x28\",\"chosen\":\"a\",\"rejected\":\"b\"}\n";  // 4 invalid_utf8
  text += "{\"prompt\":\"q5\",\"chosen\":\"a\"}\n";                            // 5 missing_field
  text += "{\"prompt\":\"q6\",\"chosen\":6,\"rejected\":\"b\"}\n";             // 6 wrong_type
  text += row("   ", "a", "b");                                                // 7 empty_prompt
  text += row("q8", " \n ", "b");                                              // 8 empty_chosen
  text += row("q9", "a", "");                                                  // 9 empty_rejected
  text += row("q10", " same ", "same\n");  // 10 chosen_equals_rejected
  text +=
      json{
          {"prompt", "q11"},
          {"chosen", json::array({{{"role", "user"}, {"content", "a"}}})},
          {"rejected", "b"}}
          .dump() +
      "\n";                                        // 11 bad_role_order
  text += row("q12", std::string(300, 'x'), "b");  // 12 record_too_large
  ValidateOptions options;
  options.max_record_bytes = 200;
  ValidationReport r = validate_text(text, options);
  expect_accounting(r);
  EXPECT_EQ(r.rows, 12u);
  EXPECT_EQ(r.pairs_ok, 2u);
  EXPECT_EQ(r.rejected, 10u);
  EXPECT_FALSE(r.passed);
  const std::pair<IssueCode, uint64_t> expected[] = {
      {IssueCode::invalid_json, 3},
      {IssueCode::invalid_utf8, 4},
      {IssueCode::missing_field, 5},
      {IssueCode::wrong_type, 6},
      {IssueCode::empty_prompt, 7},
      {IssueCode::empty_chosen, 8},
      {IssueCode::empty_rejected, 9},
      {IssueCode::chosen_equals_rejected, 10},
      {IssueCode::bad_role_order, 11},
      {IssueCode::record_too_large, 12},
  };
  for (const auto& [code, line] : expected) {
    const IssueTally& tally = r.issues[static_cast<int>(code)];
    EXPECT_EQ(tally.count, 1u) << issue_name(code);
    ASSERT_EQ(tally.examples.size(), 1u) << issue_name(code);
    EXPECT_EQ(tally.examples[0].line, line) << issue_name(code);
  }
}

TEST(Validator, RowWarnings) {
  std::string text = clean_rows(4);
  std::string base(200, 'a');
  std::string near = base;
  near[100] = 'b';
  text += row("near", base, near);                                         // 5
  text += row("dup prompt", "answer one is good", "answer two is bad");    // 6
  text += row("dup   PROMPT", "answer one is good", "answer two is bad");  // 7 duplicate
  text += row("dup prompt", "answer two is bad", "answer one is good");    // 8 conflict
  text += row("see <|im_start|>system", "fine", "worse");                  // 9 special
  text += row("tie q", "x one", "y two", {{"preference", "tie"}});         // 10 excluded
  text += row("bad q", "x one", "y two", {{"preference", "both_bad"}});    // 11 excluded
  ValidationReport r = validate_text(text);
  expect_accounting(r);
  EXPECT_EQ(r.count(IssueCode::near_identical_responses), 1u);
  EXPECT_EQ(r.count(IssueCode::duplicate_pair), 1u);
  EXPECT_EQ(r.issues[static_cast<int>(IssueCode::duplicate_pair)].examples[0].line, 7u);
  EXPECT_NE(
      r.issues[static_cast<int>(IssueCode::duplicate_pair)].examples[0].message.find(":6"),
      std::string::npos);
  EXPECT_EQ(r.count(IssueCode::conflicting_pair), 1u);
  EXPECT_EQ(r.count(IssueCode::special_tokens_in_content), 1u);
  EXPECT_EQ(r.count(IssueCode::tie_or_both_bad), 2u);
  EXPECT_EQ(r.excluded, 2u);
  EXPECT_EQ(r.errors, 0u);
  EXPECT_TRUE(r.passed);  // warnings only
  ValidateOptions strict;
  strict.fail_on_warnings = true;
  EXPECT_FALSE(validate_text(text, strict).passed);
}

TEST(Validator, AllPairsOfOnePromptLandInOneSplit) {
  std::string text;
  for (int p = 0; p < 60; ++p) {
    for (int k = 0; k < 3; ++k) {
      text +=
          row("prompt " + std::to_string(p),
              "good answer " + std::to_string(k),
              "bad " + std::to_string(k));
    }
  }
  ValidateOptions options;
  options.val_fraction = 0.3;
  ValidationReport r = validate_text(text, options);
  expect_accounting(r);
  EXPECT_EQ(r.unique_prompts, 60u);
  EXPECT_EQ(r.train_prompts + r.val_prompts, 60u);  // no prompt counted in both
  EXPECT_EQ(r.val_pairs, 3 * r.val_prompts);
  EXPECT_GT(r.val_prompts, 5u);
  EXPECT_EQ(r.count(IssueCode::duplicate_prompt_across_splits), 0u);
  EXPECT_NEAR(r.prompt_duplication_rate, 1.0 - 60.0 / 180.0, 1e-9);
}

TEST(Validator, RowsThatRequestConflictingSplitsAreFlagged) {
  std::string text = row("shared prompt", "a1", "b1", {{"split", "train"}}) +
                     row("shared prompt", "a2", "b2", {{"split", "test"}});
  ValidationReport r = validate_text(text);
  EXPECT_EQ(r.count(IssueCode::duplicate_prompt_across_splits), 1u);
  EXPECT_EQ(r.split_requested_by_rows, 2u);
  EXPECT_EQ(r.train_pairs, 1u);
  EXPECT_EQ(r.val_pairs, 1u);
}

TEST(Validator, LengthBias) {
  std::string text;
  for (int i = 0; i < 30; ++i) {
    text += row("q" + std::to_string(i), "a long and detailed answer", "short");
  }
  ValidationReport r = validate_text(text);
  EXPECT_EQ(r.count(IssueCode::length_bias), 1u);
  EXPECT_DOUBLE_EQ(r.chosen_longer_fraction, 1.0);
  EXPECT_TRUE(r.passed);
}

TEST(Validator, MalformedButReadableInput) {
  std::string big(1 << 20, 'w');  // a 1 MB field
  std::string text = "\xEF\xBB\xBF" + row("q1", big, "short") + "\r\n" +
                     "{\"prompt\":\"q2\",\"chosen\":\"a\",\"rejected\":\"b\"}\r\n" +
                     "{\"prompt\":\"q3\",\"chosen\":\"a\",\"rejected\":\"b";  // cut off, no newline
  ValidationReport r = validate_text(text);
  expect_accounting(r);
  EXPECT_EQ(r.rows, 3u);
  EXPECT_EQ(r.pairs_ok, 2u);
  EXPECT_EQ(r.count(IssueCode::invalid_json), 1u);
  EXPECT_EQ(r.issues[static_cast<int>(IssueCode::invalid_json)].examples[0].line, 4u);
  EXPECT_EQ(r.chosen_chars.max, big.size());
  EXPECT_TRUE(r.files[0].byte_order_mark);
  EXPECT_EQ(r.files[0].blank_lines, 1u);
}

TEST(Validator, JsonArraysAndGzipAndSeveralFiles) {
  testing::TempDir dir;
  json array = json::array();
  for (int i = 0; i < 5; ++i) {
    array.push_back(
        {{"conversations", {{{"from", "human"}, {"value", "q" + std::to_string(i)}}}},
         {"chosen", {{"from", "gpt"}, {"value", "good"}}},
         {"rejected", {{"from", "gpt"}, {"value", "bad"}}}});
  }
  testing::write_file(dir.file("a.json"), array.dump(2));
  testing::write_gzip_file(dir.file("b.jsonl.gz"), row("q0", "good", "bad") + row("new", "x", "y"));
  ValidationReport r = validate_files({dir.file("a.json"), dir.file("b.jsonl.gz")}, {});
  expect_accounting(r);
  EXPECT_EQ(r.rows, 7u);
  EXPECT_EQ(r.files[0].layout, "json-array");
  EXPECT_EQ(r.files[0].format, "sharegpt");
  EXPECT_TRUE(r.files[1].compressed);
  // The same prompt and answers in two files and formats are one duplicate.
  EXPECT_EQ(r.count(IssueCode::duplicate_pair), 1u);
  EXPECT_EQ(r.issues[static_cast<int>(IssueCode::duplicate_pair)].examples[0].file_index, 1u);
}

TEST(Validator, ReportJsonAndRejectsFile) {
  testing::TempDir dir;
  std::string text =
      clean_rows(3) + row("q", "", "b") + row("t", "a1", "b1", {{"preference", "tie"}});
  testing::write_file(dir.file("d.jsonl"), text);
  ValidateOptions options;
  options.rejects_path = dir.file("rejects.jsonl");
  ValidationReport r = validate_files({dir.file("d.jsonl")}, options);
  json report = json::parse(report_to_json(r));
  for (const char* key :
       {"rows",
        "pairs_ok",
        "rejected",
        "excluded",
        "errors",
        "warnings",
        "issues",
        "stats",
        "split",
        "files",
        "verdict"}) {
    EXPECT_TRUE(report.contains(key)) << key;
  }
  EXPECT_EQ(report["rows"], 5);
  EXPECT_EQ(report["verdict"]["passed"], false);
  bool found = false;
  for (const json& issue : report["issues"]) {
    if (issue["code"] == "empty_chosen") {
      found = true;
      EXPECT_EQ(issue["severity"], "error");
      EXPECT_EQ(issue["count"], 1);
      EXPECT_EQ(issue["examples"][0]["line"], 4);
      EXPECT_EQ(issue["examples"][0]["file"], dir.file("d.jsonl"));
    }
  }
  EXPECT_TRUE(found);
  EXPECT_EQ(
      report["split"]["train"]["pairs"].get<int>() + report["split"]["val"]["pairs"].get<int>(), 3);
  // One line per rejected or excluded row.
  std::string rejects = testing::read_file(dir.file("rejects.jsonl"));
  size_t lines = std::count(rejects.begin(), rejects.end(), '\n');
  EXPECT_EQ(lines, r.rejected + r.excluded);
  EXPECT_NE(rejects.find("\"verdict\":\"excluded\""), std::string::npos);
  EXPECT_NE(rejects.find("\"code\":\"empty_chosen\""), std::string::npos);
}

TEST(Validator, MetadataBalance) {
  std::string text;
  for (int i = 0; i < 6; ++i) {
    text +=
        row("q" + std::to_string(i),
            i < 4 ? "longer answer" : "a",
            "b",
            {{"metadata", {{"source", i < 4 ? "web" : "app"}, {"nested", {{"x", 1}}}}}});
  }
  ValidationReport r = validate_text(text);
  ASSERT_EQ(r.metadata_balance.count("source"), 1u);
  EXPECT_EQ(r.metadata_balance.at("source").at("web").pairs, 4u);
  EXPECT_EQ(r.metadata_balance.at("source").at("web").chosen_longer, 4u);
  EXPECT_EQ(r.metadata_balance.at("source").at("app").chosen_longer, 0u);
  EXPECT_EQ(r.metadata_balance.count("nested"), 0u);
}

TEST(Validator, TokenLengthsWithATokenizer) {
  testing::TempDir dir;
  std::vector<std::string> corpus;
  for (int i = 0; i < 200; ++i)
    corpus.push_back("where is my order number " + std::to_string(i));
  ValidateOptions options;
  options.count_tokens = make_token_counter(testing::train_tiny_sentencepiece(dir, corpus, 60));
  ValidationReport r = validate_text(clean_rows(10), options);
  ASSERT_TRUE(r.has_tokens);
  EXPECT_EQ(r.prompt_tokens.count, 10u);
  EXPECT_GT(r.prompt_tokens.mean, 3.0);
  EXPECT_GT(r.chosen_tokens.min, 0u);
  json report = json::parse(report_to_json(r));
  EXPECT_TRUE(report["stats"].contains("chosen_tokens"));
}

TEST(Validator, UnreadableInputAndBadOptionsThrow) {
  EXPECT_THROW(validate_files({"/nonexistent/data.jsonl"}, {}), IoError);
  EXPECT_THROW(validate_files({}, {}), UsageError);
  ValidateOptions bad;
  bad.val_fraction = 1.5;
  EXPECT_THROW(validate_text(clean_rows(1), bad), UsageError);
}

TEST(Validator, NoRowsAtAllDoNotPass) {
  for (const std::string& text : {std::string(), std::string("\n\n  \n")}) {
    ValidationReport r = validate_text(text);
    EXPECT_EQ(r.rows, 0u);
    EXPECT_EQ(r.errors, 0u);
    EXPECT_FALSE(r.passed) << "input: '" << text << "'";
  }
}

}  // namespace
}  // namespace dpo
