// The command line on hostile inputs of the parsers (issue 20, items 8, 9, 16, 17, 18): every
// refusal exits 2 (or validate's 1) with the file and the place named, never "internal error".
#include <gtest/gtest.h>
#include <unistd.h>

#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/support/test_support.h"

namespace dpo {
namespace {

using testing::run_command;

const std::string kDpo = DPO_BINARY_PATH;

std::string quoted(const std::string& path) {
  return "'" + path + "'";
}

// All rejected rows of `dpo validate --rejects`, keyed by line: "code: message" joined.
std::map<uint64_t, std::string> rejects_by_line(const std::string& path) {
  std::map<uint64_t, std::string> out;
  std::string text = testing::read_file(path);
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos)
      end = text.size();
    nlohmann::json row = nlohmann::json::parse(text.substr(start, end - start));
    std::string reasons;
    for (const auto& reason : row["reasons"])
      reasons +=
          reason["code"].get<std::string>() + ": " + reason["message"].get<std::string>() + "\n";
    out[row["line"].get<uint64_t>()] = reasons;
    start = end + 1;
  }
  return out;
}

TEST(ParserMessagesCli, ValidateNamesDuplicateKeysSurrogatesAndBoms) {
  testing::TempDir dir;
  const std::string good = R"({"prompt":"q1","chosen":"a","rejected":"b"})";
  std::string text;
  text += good + "\n";  // 1
  text += R"({"prompt":"q2","chosen":"a","rejected":"b","prompt":"evil"})"
          "\n";  // 2
  text +=
      "\xEF\xBB\xBF"
      R"({"prompt":"q3","chosen":"a","rejected":"b"})"
      "\n";  // 3
  text += R"({"prompt":"q4\ud800","chosen":"a","rejected":"b"})"
          "\n";  // 4
  text += R"({"prompt":[{"role":"tool","content":"42"}],"chosen":"a","rejected":"b"})"
          "\n";  // 5
  text += R"({"prompt":[{"role":"user","content":"q6","content":"x"}],"chosen":"a","rejected":"b"})"
          "\n";  // 6
  testing::write_file(dir.file("d.jsonl"), text);
  auto result = run_command(
      kDpo + " validate " + quoted(dir.file("d.jsonl")) + " --rejects " +
      quoted(dir.file("r.jsonl")));
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_EQ(result.output.find("internal error"), std::string::npos) << result.output;
  auto rejects = rejects_by_line(dir.file("r.jsonl"));
  EXPECT_EQ(rejects.count(1), 0u);
  EXPECT_EQ(rejects[2], "duplicate_key: duplicate key 'prompt' at column 44 (first at column 2)\n");
  EXPECT_EQ(
      rejects[3],
      "invalid_json: unexpected byte 0xEF (a UTF-8 BOM) where a value was expected at column 1\n");
  EXPECT_NE(
      rejects[4].find("invalid_utf8: lone surrogate \\ud800 in a string at column 14"),
      std::string::npos)
      << rejects[4];
  EXPECT_NE(
      rejects[5].find("bad_role_order: the prompt has no user turn (its turns are: tool)"),
      std::string::npos)
      << rejects[5];
  EXPECT_NE(rejects[6].find("duplicate_key: duplicate key 'prompt[0].content'"), std::string::npos)
      << rejects[6];
  EXPECT_NE(result.output.find("duplicate_key"), std::string::npos) << result.output;
}

TEST(ParserMessagesCli, ValidateReadsCrOnlyFilesAsTheirRows) {
  testing::TempDir dir;
  std::string text;
  for (int i = 0; i < 10; ++i)
    text += R"({"prompt":"question )" + std::to_string(i) +
            R"(","chosen":"a fine answer","rejected":"a poor reply"})"
            "\r";
  testing::write_file(dir.file("mac.jsonl"), text);
  auto result = run_command(
      kDpo + " validate " + quoted(dir.file("mac.jsonl")) + " --report " +
      quoted(dir.file("report.json")));
  EXPECT_EQ(result.output.find("internal error"), std::string::npos) << result.output;
  nlohmann::json report = nlohmann::json::parse(testing::read_file(dir.file("report.json")));
  EXPECT_EQ(report["rows"], 10) << result.output;
  EXPECT_EQ(report["pairs_ok"], 10) << result.output;
}

TEST(ParserMessagesCli, ConfigProblemsAreExit2WithKeyAndPlace) {
  testing::TempDir dir;
  auto overflow = run_command(kDpo + " train --set optim.lr=1e400");
  EXPECT_EQ(overflow.exit_code, 2) << overflow.output;
  EXPECT_NE(overflow.output.find("--set 'optim.lr=1e400'"), std::string::npos) << overflow.output;
  EXPECT_NE(overflow.output.find("out of range"), std::string::npos) << overflow.output;
  EXPECT_EQ(overflow.output.find("internal error"), std::string::npos) << overflow.output;

  testing::write_file(
      dir.file("c.json"),
      "{\n  \"train\": {\n    \"max_steps\": 3,\n    \"max_steps\": 40\n  }\n}\n");
  auto duplicate = run_command(kDpo + " train --config " + quoted(dir.file("c.json")));
  EXPECT_EQ(duplicate.exit_code, 2) << duplicate.output;
  EXPECT_NE(
      duplicate.output.find(
          "cannot parse " + dir.file("c.json") +
          " as JSON: duplicate key 'train.max_steps' at line 4, column 5 "
          "(first at line 3, column 5)"),
      std::string::npos)
      << duplicate.output;

  // printf writes the bytes 0xFF and ESC (the shell is sh, which has no $'...').
  auto bad_bytes = run_command(kDpo + " train --set \"$(printf 'train.out_dir=runs/\\377\\033')\"");
  EXPECT_EQ(bad_bytes.exit_code, 2) << bad_bytes.output;
  EXPECT_NE(bad_bytes.output.find("not valid UTF-8"), std::string::npos) << bad_bytes.output;
  EXPECT_EQ(bad_bytes.output.find('\x1b'), std::string::npos) << bad_bytes.output;
}

TEST(ParserMessagesCli, ModelPathsThatAreNotFoldersSayWhy) {
  testing::TempDir dir;
  testing::write_file(
      dir.file("d.jsonl"),
      R"({"prompt":"q","chosen":"a","rejected":"b"})"
      "\n");
  testing::write_file(dir.file("model.safetensors"), "not a folder");
  ASSERT_EQ(symlink("loop_b", dir.file("loop_a").c_str()), 0);
  ASSERT_EQ(symlink("loop_a", dir.file("loop_b").c_str()), 0);
  const std::string prepare = kDpo + " prepare --data " + quoted(dir.file("d.jsonl")) + " --out " +
                              quoted(dir.file("o.h5")) + " --model ";
  auto file = run_command(prepare + quoted(dir.file("model.safetensors")));
  EXPECT_EQ(file.exit_code, 2) << file.output;
  EXPECT_NE(
      file.output.find(
          "model folder '" + dir.file("model.safetensors") + "' is a file, not a folder"),
      std::string::npos)
      << file.output;
  auto loop = run_command(prepare + quoted(dir.file("loop_a")));
  EXPECT_EQ(loop.exit_code, 2) << loop.output;
  EXPECT_NE(loop.output.find("is a symlink loop (ELOOP"), std::string::npos) << loop.output;
  auto missing = run_command(prepare + quoted(dir.file("absent")));
  EXPECT_EQ(missing.exit_code, 2) << missing.output;
  EXPECT_NE(
      missing.output.find("model folder '" + dir.file("absent") + "' does not exist"),
      std::string::npos)
      << missing.output;
  for (const auto* result : {&file, &loop, &missing})
    EXPECT_EQ(result->output.find("has no tokenizer_config.json"), std::string::npos);
}

}  // namespace
}  // namespace dpo
