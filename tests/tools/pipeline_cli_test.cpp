// dpo prepare, inspect, init-model and score run as a user would, on a small real pipeline
// (tests/tools/tiny_pipeline.h): exit codes, messages, files written and left alone.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

#include "dataloader/prepared_dataset.h"
#include "tests/support/test_support.h"
#include "tests/tools/tiny_pipeline.h"
#include "tokenizer/tokenizer.h"

namespace dpo {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using testing::dpo_ok;
using testing::run_command;
using testing::tiny_pipeline;

const std::string kDpo = DPO_BINARY_PATH;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty())
      lines.push_back(line);
  }
  return lines;
}

// ---- prepare ---------------------------------------------------------------------------------

TEST(PrepareCli, RerunIsANoOpUntilAnOptionOrTheDataChanges) {
  const auto& p = tiny_pipeline();
  testing::TempDir dir;
  testing::write_file(dir.file("d.jsonl"), testing::bundled_rows(60));
  std::string args = "prepare --data " + dir.file("d.jsonl") + " --model " + p.model +
                     " --threads 1 --out " + dir.file("p.h5");
  auto first = dpo_ok(args + " --max-length 384");
  EXPECT_TRUE(contains(first.output, "wrote " + dir.file("p.h5"))) << first.output;
  EXPECT_TRUE(
      contains(first.output, "fingerprint " + read_prepared_header(dir.file("p.h5")).fingerprint));
  auto written = fs::last_write_time(dir.file("p.h5"));

  auto again = dpo_ok(args + " --max-length 384");
  EXPECT_TRUE(contains(again.output, "is up to date")) << again.output;
  EXPECT_FALSE(contains(again.output, "wrote ")) << again.output;
  EXPECT_EQ(fs::last_write_time(dir.file("p.h5")), written);

  auto shorter = dpo_ok(args + " --max-length 300");
  EXPECT_TRUE(contains(shorter.output, "wrote ")) << shorter.output;
  PreparedHeader header = read_prepared_header(dir.file("p.h5"));
  EXPECT_EQ(header.max_length, 300);

  testing::write_file(dir.file("d.jsonl"), testing::bundled_rows(61));
  auto more = dpo_ok(args + " --max-length 300");
  EXPECT_TRUE(contains(more.output, "wrote ")) << more.output;
  PreparedDataset data = read_prepared_dataset(dir.file("p.h5"));
  EXPECT_NE(data.header.source_sha256, header.source_sha256);
  EXPECT_NE(data.header.fingerprint, header.fingerprint);
}

TEST(PrepareCli, LengthPolicyCountsAndTemplateErrorsAreReported) {
  const auto& p = tiny_pipeline();
  testing::TempDir dir;
  // Roles that do not alternate: llama2's template raises on this row.
  std::string odd =
      R"({"id": "odd", "prompt": [{"role": "user", "content": "hi"}, {"role": "user", "content": "hi again"}], )"
      R"("chosen": [{"role": "assistant", "content": "yes"}], "rejected": [{"role": "assistant", "content": "no"}]})"
      "\n";
  testing::write_file(dir.file("d.jsonl"), testing::bundled_rows(40) + odd);
  auto result = dpo_ok(
      "prepare --data " + dir.file("d.jsonl") + " --model " + p.model +
      " --template llama2 --max-length 200 --length-policy truncate_completion --threads 1 --out " +
      dir.file("p.h5"));
  EXPECT_TRUE(contains(result.output, "template_error " + dir.file("d.jsonl") + ":41"))
      << result.output;
  EXPECT_TRUE(contains(result.output, "alternate")) << result.output;
  std::smatch match;
  ASSERT_TRUE(std::regex_search(
      result.output, match, std::regex("train: (\\d+) rows .*completion truncated (\\d+)")))
      << result.output;
  EXPECT_GT(std::stoi(match[2]), 0) << result.output;  // support answers do not fit in 200 tokens
  // Every truncated pair is flagged in the file.
  PreparedDataset data = read_prepared_dataset(dir.file("p.h5"));
  size_t flagged = 0;
  for (uint8_t flag : data.train.flags)
    flagged += flag != 0;
  EXPECT_EQ(flagged, static_cast<size_t>(std::stoi(match[2])));
}

TEST(PrepareCli, ATokenizerNeedsATemplate) {
  const auto& p = tiny_pipeline();
  testing::TempDir dir;
  auto result = run_command(
      kDpo + " prepare --data " + p.data + " --tokenizer " + p.tokenizer +
      "/tokenizer.model --max-length 384 --out " + dir.file("p.h5"));
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_TRUE(contains(result.output, "--template")) << result.output;
  EXPECT_FALSE(fs::exists(dir.file("p.h5")));

  auto with_template = dpo_ok(
      "prepare --data " + p.data + " --tokenizer " + p.tokenizer +
      "/tokenizer.model --template chatml --max-length 384 --threads 1 --out " + dir.file("p.h5"));
  EXPECT_TRUE(fs::exists(dir.file("p.h5")));
}

TEST(PrepareCli, NoPairsLeftExits2AndWritesNothing) {
  const auto& p = tiny_pipeline();
  testing::TempDir dir;
  // Every row is rejected: chosen and rejected are the same answer.
  std::string data;
  for (int i = 0; i < 6; ++i) {
    data += R"({"prompt": "question )" + std::to_string(i) +
            R"(", "chosen": "same", "rejected": "same"})"
            "\n";
  }
  testing::write_file(dir.file("d.jsonl"), data);
  auto result = run_command(
      kDpo + " prepare --data " + dir.file("d.jsonl") + " --model " + p.model +
      " --max-length 384 --out " + dir.file("out/p.h5"));
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_TRUE(contains(result.output, "no pair is left")) << result.output;
  // The error says why, row by row: no rows vanish without a reason.
  EXPECT_TRUE(contains(result.output, "chosen_equals_rejected")) << result.output;
  EXPECT_TRUE(contains(result.output, dir.file("d.jsonl") + ":1")) << result.output;
  EXPECT_FALSE(fs::exists(dir.file("out/p.h5")));
  for (const auto& entry : fs::recursive_directory_iterator(dir.path())) {
    EXPECT_FALSE(contains(entry.path().filename().string(), "p.h5")) << entry.path();
  }
}

// ---- inspect ---------------------------------------------------------------------------------

TEST(InspectCli, PrintsAttributesSplitsAndDecodesAPairToItsText) {
  const auto& p = tiny_pipeline();
  PreparedDataset data = read_prepared_dataset(p.prepared);
  auto result = dpo_ok("inspect " + p.prepared + " --pair 0 --model " + p.model);
  const std::string& out = result.output;
  EXPECT_TRUE(contains(out, "fingerprint   " + data.header.fingerprint)) << out;
  EXPECT_TRUE(contains(out, "tokenizer     " + data.header.tokenizer_sha256)) << out;
  EXPECT_TRUE(contains(out, "template      " + data.header.template_sha256)) << out;
  EXPECT_TRUE(contains(out, "max length    384")) << out;
  EXPECT_TRUE(contains(out, "train: " + std::to_string(data.train.size()) + " pairs")) << out;
  EXPECT_TRUE(contains(out, "val: " + std::to_string(data.val.size()) + " pairs")) << out;
  EXPECT_FALSE(contains(out, "warning")) << out;

  // Pair 0 decodes to the text of its source row: every prompt message and both answers.
  std::string id = data.train.row_ids[0];
  EXPECT_TRUE(contains(out, "train pair 0: id '" + id + "'")) << out;
  json row;
  for (const std::string& line : lines_of(testing::read_file(p.data))) {
    json candidate = json::parse(line);
    if (candidate["id"] == id)
      row = candidate;
  }
  ASSERT_FALSE(row.is_null()) << id;
  for (const json& message : row["prompt"]) {
    EXPECT_TRUE(contains(out, message["content"].get<std::string>())) << message;
  }
  EXPECT_TRUE(contains(out, row["chosen"][0]["content"].get<std::string>())) << out;
  EXPECT_TRUE(contains(out, row["rejected"][0]["content"].get<std::string>())) << out;
  EXPECT_TRUE(contains(out, "<|im_start|>assistant")) << out;
}

TEST(InspectCli, APairOutOfRangeExits2) {
  const auto& p = tiny_pipeline();
  auto result = run_command(kDpo + " inspect " + p.prepared + " --pair 99999");
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_TRUE(contains(result.output, "out of range")) << result.output;
}

TEST(InspectCli, ACorruptOrTruncatedFileExits2NamingIt) {
  const auto& p = tiny_pipeline();
  testing::TempDir dir;
  std::string bytes = testing::read_file(p.prepared);
  testing::write_file(dir.file("truncated.h5"), bytes.substr(0, bytes.size() / 2));
  testing::write_file(dir.file("garbage.h5"), "this is not an HDF5 file at all\n");
  std::string flipped = bytes;
  for (size_t i = bytes.size() / 3; i < bytes.size() / 3 + 4096 && i < bytes.size(); ++i)
    flipped[i] = '\xff';
  testing::write_file(dir.file("scribbled.h5"), flipped);
  for (const char* name : {"truncated.h5", "garbage.h5", "scribbled.h5"}) {
    auto result = run_command(kDpo + " inspect " + dir.file(name));
    EXPECT_EQ(result.exit_code, 2) << name << "\n" << result.output;
    EXPECT_TRUE(contains(result.output, dir.file(name))) << name << "\n" << result.output;
  }
}

// ---- init-model ------------------------------------------------------------------------------

TEST(InitModelCli, WritesACompleteHuggingFaceFolder) {
  const auto& p = tiny_pipeline();
  for (const char* file :
       {"config.json",
        "model.safetensors",
        "tokenizer.model",
        "tokenizer_config.json",
        "special_tokens_map.json"}) {
    EXPECT_TRUE(fs::exists(p.model + "/" + file)) << file;
  }
  json config = json::parse(testing::read_file(p.model + "/config.json"));
  EXPECT_EQ(config["architectures"][0], "LlamaForCausalLM");
  EXPECT_EQ(config["vocab_size"], 800);
  json tokenizer_config = json::parse(testing::read_file(p.model + "/tokenizer_config.json"));
  EXPECT_TRUE(contains(tokenizer_config["chat_template"].get<std::string>(), "<|im_start|>"));
  std::set<std::string> added;
  for (const auto& [id, token] : tokenizer_config["added_tokens_decoder"].items()) {
    added.insert(token["content"].get<std::string>());
    EXPECT_TRUE(token["special"].get<bool>()) << token;
  }
  EXPECT_TRUE(added.count("<|im_start|>")) << tokenizer_config.dump(2);
  EXPECT_TRUE(added.count("<|im_end|>")) << tokenizer_config.dump(2);
  EXPECT_EQ(tokenizer_config["eos_token"], "<|im_end|>");
  json special = json::parse(testing::read_file(p.model + "/special_tokens_map.json"));
  EXPECT_TRUE(contains(special.dump(), "<|im_end|>")) << special.dump(2);
  EXPECT_EQ(
      testing::read_file(p.model + "/tokenizer.model"),
      testing::read_file(p.tokenizer + "/tokenizer.model"));
}

TEST(InitModelCli, TheSameSeedGivesTheSameWeights) {
  const auto& p = tiny_pipeline();
  testing::TempDir dir;
  auto init = [&](const std::string& out, int seed) {
    auto result = dpo_ok(
        "init-model --preset tiny --tokenizer " + p.tokenizer + "/tokenizer.model --seed " +
        std::to_string(seed) + " --out " + dir.file(out));
    std::smatch match;
    EXPECT_TRUE(std::regex_search(result.output, match, std::regex("content hash ([0-9a-f]+)")))
        << result.output;
    return match.size() > 1 ? match[1].str() : std::string();
  };
  std::string a = init("a", 7), b = init("b", 7), c = init("c", 8);
  EXPECT_FALSE(a.empty());
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  EXPECT_EQ(
      testing::read_file(dir.file("a/model.safetensors")),
      testing::read_file(dir.file("b/model.safetensors")));
}

TEST(InitModelCli, ASpecialTokenThatIsNotAPieceExits2WithAHint) {
  const auto& p = tiny_pipeline();
  testing::TempDir dir;
  auto result = run_command(
      kDpo + " init-model --preset tiny --tokenizer " + p.tokenizer +
      "/tokenizer.model --special-token '<|not_a_piece|>' --out " + dir.file("m"));
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_TRUE(contains(result.output, "<|not_a_piece|>")) << result.output;
  EXPECT_TRUE(contains(result.output, "--user-symbol")) << result.output;  // how to make it one
  EXPECT_TRUE(fs::is_empty(dir.path()))
      << "left behind: " << fs::directory_iterator(dir.path())->path();
}

// ---- score -----------------------------------------------------------------------------------

TEST(ScoreCli, WritesOneJsonLinePerPairWithFiniteLogProbs) {
  const auto& p = tiny_pipeline();
  testing::TempDir dir;
  PreparedDataset data = read_prepared_dataset(p.prepared);
  dpo_ok(
      "score --model " + p.model + " --data " + p.prepared + " --split val --threads 1 --out " +
      dir.file("s.jsonl"));
  std::vector<std::string> lines = lines_of(testing::read_file(dir.file("s.jsonl")));
  ASSERT_EQ(lines.size(), data.val.size());
  for (size_t i = 0; i < lines.size(); ++i) {
    json line = json::parse(lines[i]);
    EXPECT_EQ(line["split"], "val");
    EXPECT_EQ(line["pair_index"], i);
    EXPECT_EQ(line["id"], data.val.row_ids[i]);
    for (const char* side : {"chosen", "rejected"}) {
      double logps = line[std::string(side) + "_logps"].get<double>();
      int64_t tokens = line[std::string(side) + "_tokens"].get<int64_t>();
      EXPECT_TRUE(std::isfinite(logps)) << line;
      EXPECT_LT(logps, 0) << line;
      EXPECT_GT(tokens, 0) << line;
    }
    EXPECT_EQ(line["chosen_tokens"].get<int64_t>(), data.val.pair(i).chosen.size) << line;
  }
}

// A NUL character inside a message: inspect prints the whole pair, what follows it included.
TEST(InspectCli, ANulCharacterInAMessageDoesNotCutTheOutput) {
  const auto& p = tiny_pipeline();
  testing::TempDir dir;
  testing::write_file(
      dir.file("d.jsonl"),
      R"({"id": "n1", "prompt": [{"role": "user", "content": "Where is my order?"}], )"
      R"("chosen": [{"role": "assistant", "content": "It ships today.\u0000 Tracking by mail."}], )"
      R"("rejected": [{"role": "assistant", "content": "No idea, rejected side."}]})"
      "\n");
  dpo_ok(
      "prepare --data " + dir.file("d.jsonl") + " --model " + p.model +
      " --max-length 384 --val-fraction 0 --threads 1 --out " + dir.file("p.h5"));
  auto result = dpo_ok("inspect " + dir.file("p.h5") + " --pair 0 --model " + p.model);
  EXPECT_TRUE(contains(result.output, "Tracking by mail.")) << result.output;
  EXPECT_TRUE(contains(result.output, "No idea, rejected side.")) << result.output;
}

TEST(ScoreCli, WriteReferenceStoresAGroupThatInspectLists) {
  const auto& p = tiny_pipeline();
  testing::TempDir dir;
  testing::write_file(dir.file("d.jsonl"), testing::bundled_rows(30));
  dpo_ok(
      "prepare --data " + dir.file("d.jsonl") + " --model " + p.model +
      " --max-length 384 --threads 1 --out " + dir.file("p.h5"));
  auto before = dpo_ok("inspect " + dir.file("p.h5"));
  EXPECT_TRUE(contains(before.output, "reference log-probs cached for 0 model(s)"))
      << before.output;

  auto scored = dpo_ok(
      "score --model " + p.model + " --data " + dir.file("p.h5") +
      " --write-reference --threads 1");
  std::vector<std::string> groups = list_reference_logps(dir.file("p.h5"));
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_TRUE(contains(scored.output, groups[0].substr(0, 16))) << scored.output;
  auto after = dpo_ok("inspect " + dir.file("p.h5"));
  EXPECT_TRUE(contains(after.output, "reference log-probs cached for 1 model(s)\n  " + groups[0]))
      << after.output;
  auto stored = read_reference_logps(dir.file("p.h5"), groups[0]);
  ASSERT_TRUE(stored.has_value());
  PreparedDataset data = read_prepared_dataset(dir.file("p.h5"));
  EXPECT_EQ(stored->train.chosen_logps.size(), data.train.size());
  EXPECT_EQ(stored->val.chosen_logps.size(), data.val.size());
}

TEST(ScoreCli, AModelWithAnotherTokenizerExits2NamingBothHashes) {
  const auto& p = tiny_pipeline();
  testing::TempDir dir;
  testing::write_file(dir.file("d.jsonl"), testing::bundled_rows(40));
  dpo_ok(
      "train-tokenizer " + dir.file("d.jsonl") + " --out " + dir.file("t") + " --vocab-size 600");
  dpo_ok(
      "init-model --preset tiny --tokenizer " + dir.file("t/tokenizer.model") +
      " --template chatml --out " + dir.file("m"));
  auto result = run_command(
      kDpo + " score --model " + dir.file("m") + " --data " + p.prepared + " --out " +
      dir.file("s.jsonl"));
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_TRUE(contains(result.output, read_prepared_header(p.prepared).tokenizer_sha256))
      << result.output;
  EXPECT_TRUE(contains(result.output, Tokenizer::from_model_folder(dir.file("m")).sha256()))
      << result.output;
  EXPECT_FALSE(fs::exists(dir.file("s.jsonl")));
}

}  // namespace
}  // namespace dpo
