// Runs the real dpo binaries: the sentencepiece/protobuf load-order clash only shows at start-up
// of a process that links both LibTorch and sentencepiece (dpo-torch), so library tests cannot
// catch it.
#include <gtest/gtest.h>

#include <map>

#include <nlohmann/json.hpp>

#include "tests/support/test_support.h"

namespace dpo {
namespace {

using testing::run_command;

const std::string kDpo = DPO_BINARY_PATH;
const std::string kExamples = std::string(DPO_SOURCE_DIR) + "/examples/support";

TEST(Cli, VersionStartsAndNamesLibTorch) {
  auto result = run_command(kDpo + " --version");
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("dpo 0."), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("LibTorch"), std::string::npos) << result.output;
}

TEST(Cli, HelpListsCommandsAndExitCodes) {
  auto result = run_command(kDpo + " --help");
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_NE(result.output.find("validate"), std::string::npos);
  EXPECT_NE(result.output.find("Exit codes"), std::string::npos);
  auto sub = run_command(kDpo + " validate --help");
  EXPECT_EQ(sub.exit_code, 0);
  EXPECT_NE(sub.output.find("--fail-on"), std::string::npos);
}

TEST(Cli, UsageErrorsExitWith2) {
  EXPECT_EQ(run_command(kDpo).exit_code, 2);
  EXPECT_EQ(run_command(kDpo + " frobnicate").exit_code, 2);
  EXPECT_EQ(run_command(kDpo + " validate").exit_code, 2);
  auto bad = run_command(kDpo + " validate " + kExamples + "/pairs.jsonl --format csv");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.output.find("unknown data format 'csv'"), std::string::npos) << bad.output;
}

TEST(Cli, UnreadableInputExitsWith2AndNamesTheFile) {
  auto result = run_command(kDpo + " validate /nonexistent/pairs.jsonl");
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.output.find("/nonexistent/pairs.jsonl"), std::string::npos) << result.output;
}

TEST(Cli, ValidateBundledCleanDataPasses) {
  testing::TempDir dir;
  auto result =
      run_command(kDpo + " validate " + kExamples + "/pairs.jsonl --report " + dir.file("r.json"));
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("PASS"), std::string::npos);
  auto report = nlohmann::json::parse(testing::read_file(dir.file("r.json")));
  EXPECT_GE(report["rows"].get<int>(), 1000);
  EXPECT_EQ(report["rows"], report["pairs_ok"]);
  EXPECT_EQ(report["errors"], 0);
}

// dpo-torch holds LibTorch's protobuf; sentencepiece must still load and encode there (and in
// the torch-free dpo).
TEST(Cli, ValidateWithTokenizerReportsTokenLengthsInsideTheTorchProcess) {
  testing::TempDir dir;
  std::string model = testing::train_tiny_sentencepiece(
      dir,
      {"the quick brown fox jumps over the lazy dog",
       "a helpful answer explains why",
       "please summarise the following text",
       "thank you for the clear steps"},
      60);
  for (const std::string& binary : {kDpo, std::string(DPO_TORCH_BINARY_PATH)}) {
    auto result = run_command(
        binary + " validate " + kExamples + "/pairs.jsonl --tokenizer " + model + " --report " +
        dir.file("r.json"));
    ASSERT_EQ(result.exit_code, 0) << binary << "\n" << result.output;
    EXPECT_NE(result.output.find("lengths (tokens)"), std::string::npos) << result.output;
    auto report = nlohmann::json::parse(testing::read_file(dir.file("r.json")));
    EXPECT_GT(report["stats"]["chosen_tokens"]["max"].get<int>(), 0) << report.dump(2);
  }
}

TEST(Cli, ValidateWithAFileThatIsNotATokenizerExitsWith2) {
  testing::TempDir dir;
  testing::write_file(dir.file("tokenizer.model"), "not a protobuf");
  auto result = run_command(
      kDpo + " validate " + kExamples + "/pairs.jsonl --tokenizer " + dir.file("tokenizer.model"));
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("is not a sentencepiece model"), std::string::npos) << result.output;
}

TEST(Cli, ValidateAnEmptyFileFailsWith1) {
  testing::TempDir dir;
  testing::write_file(dir.file("empty.jsonl"), "");
  testing::write_file(dir.file("blank.jsonl"), "\n \n\n");
  for (const char* name : {"empty.jsonl", "blank.jsonl"}) {
    auto result = run_command(kDpo + " validate " + dir.file(name));
    EXPECT_EQ(result.exit_code, 1) << name << ": " << result.output;
    EXPECT_NE(result.output.find("FAIL: no rows"), std::string::npos) << result.output;
  }
}

TEST(Cli, ValidateBrokenDataFailsWith1AndNamesLines) {
  testing::TempDir dir;
  auto result =
      run_command(kDpo + " validate " + kExamples + "/broken.jsonl --report " + dir.file("r.json"));
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_NE(result.output.find("broken.jsonl:1"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("FAIL"), std::string::npos);
  auto report = nlohmann::json::parse(testing::read_file(dir.file("r.json")));
  EXPECT_EQ(
      report["rows"].get<int>(),
      report["pairs_ok"].get<int>() + report["rejected"].get<int>() +
          report["excluded"].get<int>());
  std::set<std::string> codes;
  for (const auto& issue : report["issues"])
    codes.insert(issue["code"].get<std::string>());
  for (const char* code :
       {"invalid_json",
        "invalid_utf8",
        "missing_field",
        "wrong_type",
        "empty_prompt",
        "empty_chosen",
        "empty_rejected",
        "chosen_equals_rejected",
        "bad_role_order",
        "near_identical_responses",
        "duplicate_pair",
        "conflicting_pair",
        "special_tokens_in_content",
        "tie_or_both_bad"}) {
    EXPECT_TRUE(codes.count(code)) << code;
  }
}

// The bundled data carries provenance (tools/make_example_data.py): slices by locale, 180
// comparisons judged twice (29 disagree), rev-05 prefers longer replies. Disagreement between
// reviewers is not a conflicting pair, and a second judgment that agrees is not a duplicate.
TEST(Cli, ValidateBundledDataShowsSlicesAgreementAndTheLengthPreferringReviewer) {
  testing::TempDir dir;
  auto result = run_command(
      kDpo + " validate " + kExamples + "/pairs.jsonl --slice-by metadata.locale" +
      " --as-of 2026-12-01 --report " + dir.file("r.json"));
  EXPECT_EQ(result.exit_code, 0) << result.output;
  for (const char* text :
       {"slice: metadata.locale",
        "de-DE",
        "fr-FR",
        "agreement (metadata.reviewer): Fleiss' kappa",
        "rev-05",
        "<- length preference",
        "AI judgments (metadata.judge = ai)",
        "ages (metadata.timestamp, as of 2026-12-01)"}) {
    EXPECT_NE(result.output.find(text), std::string::npos) << text << "\n" << result.output;
  }
  auto report = nlohmann::json::parse(testing::read_file(dir.file("r.json")));
  ASSERT_EQ(report["slices"].size(), 1u);
  EXPECT_EQ(report["slices"][0]["key"], "metadata.locale");
  EXPECT_EQ(report["slices"][0]["values"].size(), 4u);
  EXPECT_EQ(report["agreement"]["method"], "fleiss");
  EXPECT_EQ(report["agreement"]["items"], 180);
  EXPECT_EQ(report["agreement"]["disagreeing_items"], 29);
  std::map<std::string, int> codes;
  for (const auto& issue : report["issues"])
    codes[issue["code"].get<std::string>()] = issue["count"].get<int>();
  EXPECT_EQ(codes["reviewer_disagreement"], 29);
  EXPECT_EQ(codes.count("conflicting_pair"), 0u);
  EXPECT_EQ(codes.count("duplicate_pair"), 0u);
  EXPECT_EQ(codes["reviewer_length_preference"], 1);
  for (const auto& r : report["reviewers"])
    EXPECT_EQ(r["length_preference"].get<bool>(), r["reviewer"] == "rev-05") << r.dump();
  EXPECT_GT(report["ai_judgments"]["count"].get<int>(), 0);
  EXPECT_EQ(report["staleness"]["as_of"], "2026-12-01T00:00:00Z");
}

TEST(Cli, ValidateProvenanceOptions) {
  testing::TempDir dir;
  // AI judgments left out: counted as excluded.
  auto excluded = run_command(
      kDpo + " validate " + kExamples + "/pairs.jsonl --exclude-ai-judgments --report " +
      dir.file("x.json"));
  EXPECT_EQ(excluded.exit_code, 0) << excluded.output;
  auto x = nlohmann::json::parse(testing::read_file(dir.file("x.json")));
  EXPECT_GT(x["excluded"].get<int>(), 0);
  EXPECT_EQ(x["excluded"], x["ai_judgments"]["excluded"]);
  // The config's data.slice_by, and a flag on top of it.
  testing::write_file(dir.file("c.json"), R"({"data": {"slice_by": ["metadata.rubric"]}})");
  auto sliced = run_command(
      kDpo + " validate " + kExamples + "/pairs.jsonl --config " + dir.file("c.json") +
      " --slice-by metadata.locale --quiet --report " + dir.file("s.json"));
  EXPECT_EQ(sliced.exit_code, 0) << sliced.output;
  auto s = nlohmann::json::parse(testing::read_file(dir.file("s.json")));
  ASSERT_EQ(s["slices"].size(), 2u);
  EXPECT_EQ(s["slices"][0]["key"], "metadata.rubric");
  EXPECT_EQ(s["slices"][1]["key"], "metadata.locale");
  // Bad values are usage errors.
  for (const char* bad :
       {" --as-of yesterday", " --slice-by metadata.", " --agreement-thresholds 0.4,0.6"}) {
    auto r = run_command(kDpo + " validate " + kExamples + "/pairs.jsonl" + bad);
    EXPECT_EQ(r.exit_code, 2) << bad << "\n" << r.output;
  }
}

TEST(Cli, FailOnWarning) {
  testing::TempDir dir;
  testing::write_file(
      dir.file("w.jsonl"), "{\"prompt\":\"q\",\"chosen\":\"a <s> b\",\"rejected\":\"c\"}\n");
  EXPECT_EQ(run_command(kDpo + " validate " + dir.file("w.jsonl")).exit_code, 0);
  EXPECT_EQ(run_command(kDpo + " validate --fail-on warning " + dir.file("w.jsonl")).exit_code, 1);
}

}  // namespace
}  // namespace dpo
