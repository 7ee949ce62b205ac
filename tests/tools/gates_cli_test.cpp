// The data gates run as CI would run them: `dpo check` (clean data passes, identical responses
// fail), `dpo compare` (30% label flips regress, a shuffled copy does not) and `dpo report` on a
// run they made. Small budgets: 300 rows, a tiny model, a few dozen steps on one thread.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "tests/support/test_support.h"
#include "tests/tools/tiny_pipeline.h"

namespace dpo {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using testing::run_command;
using testing::tiny_pipeline;

const std::string kDpo = DPO_BINARY_PATH;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::vector<json> rows_of(const std::string& path) {
  std::vector<json> rows;
  std::istringstream in(testing::read_file(path));
  for (std::string line; std::getline(in, line);) {
    if (!line.empty())
      rows.push_back(json::parse(line));
  }
  return rows;
}

void write_rows(const std::string& path, const std::vector<json>& rows) {
  std::string text;
  for (const json& row : rows)
    text += row.dump() + "\n";
  testing::write_file(path, text);
}

const json* criterion(const json& report, const std::string& name) {
  for (const json& c : report["criteria"]) {
    if (c["name"] == name)
      return &c;
  }
  return nullptr;
}

// The shipped gate config (lr 5e-4, constant schedule) in short runs on one thread: the
// machine running the tests is small and shared, and two threads there mostly wait on each other.
const std::string kTrainBudget =
    " --config " + std::string(DPO_SOURCE_DIR) +
    "/configs/check.json --set train.threads=1 --set train.micro_batch_pairs=4";

// ---- check -----------------------------------------------------------------------------------

// One short DPO run: the verdict, its JSON report, and the HTML report of the run it made.
TEST(CheckCli, CleanDataPassesAndItsRunRendersAsASelfContainedReport) {
  const auto& p = tiny_pipeline();
  testing::TempDir dir;
  auto clean = run_command(
      kDpo + " check " + p.data + " --model " + p.model + " --steps 20" + kTrainBudget + " --out " +
      dir.file("check") + " --report " + dir.file("check.json"));
  ASSERT_EQ(clean.exit_code, 0) << clean.output;
  EXPECT_TRUE(contains(clean.output, "PASS")) << clean.output;
  json report = json::parse(testing::read_file(dir.file("check.json")));
  EXPECT_EQ(report["kind"], "check");
  EXPECT_EQ(report["passed"], true);
  EXPECT_EQ(report["steps"], 20);
  for (const char* name :
       {"validation_error_rate",
        "pairs_available",
        "truncated_pairs",
        "step0_consistency",
        "non_finite_steps",
        "train_accuracy",
        "val_accuracy",
        "divergence_alarms"}) {
    const json* c = criterion(report, name);
    ASSERT_NE(c, nullptr) << name << "\n" << report.dump(2);
    EXPECT_TRUE(c->contains("value") && c->contains("threshold")) << *c;
    EXPECT_EQ((*c)["passed"], true) << *c;
  }
  // Held-out accuracy is measured, and above chance by the configured margin.
  const json& val = *criterion(report, "val_accuracy");
  EXPECT_GT(val["value"].get<double>(), val["threshold"].get<double>());
  EXPECT_GT(val["threshold"].get<double>(), 0.5);

  // dpo report on the run the check made: inline SVG, nothing fetched from the network.
  std::string run_dir = report["run_dir"];
  ASSERT_TRUE(fs::exists(run_dir + "/metrics.jsonl")) << run_dir;
  auto html = run_command(kDpo + " report " + run_dir + " --out " + dir.file("run.html"));
  ASSERT_EQ(html.exit_code, 0) << html.output;
  std::string page = testing::read_file(dir.file("run.html"));
  EXPECT_TRUE(contains(page, "<svg")) << page.substr(0, 2000);
  EXPECT_FALSE(contains(page, "http://"));
  EXPECT_FALSE(contains(page, "https://"));
  // The run carries the data's validation report (recorded by prepare), and the page shows it.
  ASSERT_TRUE(fs::exists(run_dir + "/validate.json")) << run_dir;
  json validation = json::parse(testing::read_file(run_dir + "/validate.json"));
  EXPECT_EQ(validation["rows"], rows_of(p.data).size());
  EXPECT_TRUE(contains(page, "<h4>Counts</h4>")) << page.substr(0, 2000);

  // The check report itself renders too (default output: beside the JSON).
  auto from_json = run_command(kDpo + " report " + dir.file("check.json"));
  ASSERT_EQ(from_json.exit_code, 0) << from_json.output;
  std::string check_page = testing::read_file(dir.file("check.html"));
  EXPECT_TRUE(contains(check_page, "val_accuracy")) << check_page.substr(0, 2000);
  EXPECT_FALSE(contains(check_page, "https://"));
}

// Slices, provenance and informativeness on the bundled data, whose rows carry metadata
// (category, rule, channel, source): per-slice criteria, the reference margins, each held-out
// pair's provenance, `dpo eval --slice-by`, and the report's sections for them.
TEST(CheckCli, SlicesProvenanceAndInformativenessOnTheBundledData) {
  const auto& p = tiny_pipeline();
  testing::TempDir dir;
  auto check = run_command(
      kDpo + " check " + p.data + " --model " + p.model + " --steps 12" + kTrainBudget +
      " --slice-by metadata.category --set check.min_slice_accuracy=0.01"
      " --set check.min_slice_pairs=3 --out " +
      dir.file("check") + " --report " + dir.file("check.json"));
  ASSERT_NE(check.exit_code, 2) << check.output;
  EXPECT_TRUE(contains(check.output, "slice_accuracy[metadata.category=")) << check.output;
  EXPECT_TRUE(contains(check.output, "informativeness: ")) << check.output;
  json report = json::parse(testing::read_file(dir.file("check.json")));
  ASSERT_TRUE(report.contains("informativeness")) << report.dump(2);
  // Over every prepared pair: "<train> train / <val> held-out pairs".
  std::istringstream available(
      (*criterion(report, "pairs_available"))["detail"].get<std::string>());
  size_t train = 0, val = 0;
  std::string word;
  available >> train >> word >> word >> val;
  EXPECT_EQ(report["informativeness"]["pairs"].get<size_t>(), train + val) << report.dump(2);
  ASSERT_TRUE(report["slices"].contains("metadata.category")) << report.dump(2);

  // Each held-out pair of the run names its provenance and its slice.
  std::string run_dir = report["run_dir"];
  std::vector<json> pairs = rows_of(run_dir + "/eval_pairs.jsonl");
  ASSERT_FALSE(pairs.empty());
  for (const json& pair : pairs) {
    ASSERT_TRUE(pair["metadata"].is_object()) << pair.dump();
    EXPECT_EQ(pair["slices"]["metadata.category"], pair["metadata"]["category"]);
    EXPECT_TRUE(pair["reference_margin_per_token"].is_number());
  }

  auto eval = run_command(
      kDpo + " eval --model " + run_dir + "/final --data " + dir.file("check/prepared.h5") +
      " --reference " + p.model + " --device cpu --slice-by metadata.channel");
  ASSERT_EQ(eval.exit_code, 0) << eval.output;
  EXPECT_TRUE(contains(eval.output, "by metadata.channel:")) << eval.output;
  EXPECT_TRUE(contains(eval.output, "    chat ")) << eval.output;

  auto html = run_command(kDpo + " report " + dir.file("check.json"));
  ASSERT_EQ(html.exit_code, 0) << html.output;
  std::string page = testing::read_file(dir.file("check.html"));
  EXPECT_TRUE(contains(page, "<section id=\"informativeness\">")) << page.substr(0, 2000);
  EXPECT_TRUE(contains(page, "<section id=\"run-slices\">"));
  EXPECT_TRUE(contains(page, "provenance: category=<b>"));
}

TEST(CheckCli, IdenticalResponsesFailOnTheValidationErrorRate) {
  const auto& p = tiny_pipeline();
  testing::TempDir dir;
  std::vector<json> rows = rows_of(p.data);
  for (json& row : rows)
    row["rejected"] = row["chosen"];
  write_rows(dir.file("identical.jsonl"), rows);
  auto result = run_command(
      kDpo + " check " + dir.file("identical.jsonl") + " --model " + p.model + " --steps 20" +
      kTrainBudget + " --out " + dir.file("identical") + " --report " + dir.file("identical.json"));
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_TRUE(contains(result.output, "FAIL")) << result.output;
  json report = json::parse(testing::read_file(dir.file("identical.json")));
  EXPECT_EQ(report["kind"], "check");
  EXPECT_EQ(report["passed"], false);
  const json* errors = criterion(report, "validation_error_rate");
  ASSERT_NE(errors, nullptr) << report.dump(2);
  EXPECT_EQ((*errors)["passed"], false);
  EXPECT_DOUBLE_EQ((*errors)["value"].get<double>(), 1.0);  // every row rejected
  EXPECT_DOUBLE_EQ((*errors)["threshold"].get<double>(), 0.0);
}

// A second check into the same folder measures the data again: it does not pass the validation
// gate on the strength of the prepared file the first run left there.
TEST(CheckCli, ARerunInTheSameFolderValidatesTheDataAgain) {
  const auto& p = tiny_pipeline();
  testing::TempDir dir;
  std::vector<json> rows = rows_of(p.data);
  for (size_t i = 0; i < rows.size(); i += 10)
    rows[i]["rejected"] = rows[i]["chosen"];  // 10% bad rows
  write_rows(dir.file("some_bad.jsonl"), rows);
  const std::string command = kDpo + " check " + dir.file("some_bad.jsonl") + " --model " +
                              p.model + " --steps 4" + kTrainBudget + " --out " + dir.file("gate") +
                              " --report " + dir.file("gate.json");
  for (int attempt = 1; attempt <= 2; ++attempt) {
    auto result = run_command(command);
    EXPECT_EQ(result.exit_code, 1) << "attempt " << attempt << "\n" << result.output;
    json report = json::parse(testing::read_file(dir.file("gate.json")));
    const json* errors = criterion(report, "validation_error_rate");
    ASSERT_NE(errors, nullptr) << report.dump(2);
    EXPECT_EQ((*errors)["passed"], false) << "attempt " << attempt << ": " << *errors;
    EXPECT_NEAR((*errors)["value"].get<double>(), 0.1, 0.01) << "attempt " << attempt;
  }
}

TEST(CheckCli, ABadConfigKeyCannotRunAndExits2) {
  const auto& p = tiny_pipeline();
  testing::TempDir dir;
  auto result = run_command(
      kDpo + " check " + p.data + " --model " + p.model + " --set check.nonsense=1 --out " +
      dir.file("bad"));
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_TRUE(contains(result.output, "check.nonsense")) << result.output;
}

// ---- compare ---------------------------------------------------------------------------------

// Compare trains three short runs per call (two seeds on the baseline, one on the candidate).
// About 50 pairs are held out in both versions, so one pair moves the accuracy by 0.02: the
// allowed drop is raised from 0.02 (one pair) to 0.05. Measured on this data: 30% flips drop
// the accuracy by about 0.12, a shuffled copy moves it by -0.03 to +0.02.
const std::string kCompareBudget =
    kTrainBudget +
    " --set compare.steps=15 --set data.val_fraction=0.2 --set compare.max_accuracy_drop=0.05";

TEST(CompareCli, ThirtyPercentOfLabelsFlippedIsARegression) {
  const auto& p = tiny_pipeline();
  testing::TempDir dir;
  std::vector<json> rows = rows_of(p.data);
  size_t flipped = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    if (i % 10 < 3) {  // a deterministic 30%
      std::swap(rows[i]["chosen"], rows[i]["rejected"]);
      ++flipped;
    }
  }
  write_rows(dir.file("flipped.jsonl"), rows);
  auto result = run_command(
      kDpo + " compare --baseline " + p.data + " --candidate " + dir.file("flipped.jsonl") +
      " --model " + p.model + kCompareBudget + " --out " + dir.file("cmp") + " --report " +
      dir.file("cmp.json"));
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_TRUE(contains(result.output, "REGRESSION")) << result.output;
  json report = json::parse(testing::read_file(dir.file("cmp.json")));
  EXPECT_EQ(report["kind"], "compare");
  EXPECT_EQ(report["regression"], true);
  EXPECT_EQ(report["data_diff"]["pairs"]["label_flips"]["count"].get<size_t>(), flipped)
      << report["data_diff"].dump(2);
  // The flips alone are a data regression (compare.max_label_flip_fraction, 5% by default),
  // whatever the short training runs measure.
  EXPECT_EQ(report["data_diff"]["data_regression"], true);
  EXPECT_TRUE(contains(result.output, "matched pairs have chosen and rejected swapped"))
      << result.output;
}

TEST(CompareCli, AShuffledCopyIsNoRegression) {
  const auto& p = tiny_pipeline();
  testing::TempDir dir;
  std::vector<json> rows = rows_of(p.data);
  std::shuffle(rows.begin(), rows.end(), std::mt19937(42));
  write_rows(dir.file("shuffled.jsonl"), rows);
  auto result = run_command(
      kDpo + " compare --baseline " + p.data + " --candidate " + dir.file("shuffled.jsonl") +
      " --model " + p.model + kCompareBudget + " --out " + dir.file("cmp") + " --report " +
      dir.file("cmp.json"));
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_TRUE(contains(result.output, "PASS")) << result.output;
  json report = json::parse(testing::read_file(dir.file("cmp.json")));
  EXPECT_EQ(report["regression"], false);
  EXPECT_EQ(report["data_diff"]["pairs"]["unchanged"]["count"].get<size_t>(), rows.size());
  EXPECT_EQ(report["data_diff"]["pairs"]["label_flips"]["count"], 0);

  // The report that compare wrote renders with both versions: held-out metrics side by side,
  // and each side's training curves read from the run folders it names.
  for (const char* side : {"baseline", "candidate"}) {
    ASSERT_TRUE(report[side].contains("metrics")) << report.dump(2);
    EXPECT_GT(report[side]["metrics"]["common_val_accuracy"].get<double>(), 0.0) << report[side];
    ASSERT_TRUE(fs::exists(report[side]["run_dir"].get<std::string>() + "/metrics.jsonl"))
        << report[side];
  }
  auto html =
      run_command(kDpo + " report " + dir.file("cmp.json") + " --out " + dir.file("cmp.html"));
  ASSERT_EQ(html.exit_code, 0) << html.output;
  std::string page = testing::read_file(dir.file("cmp.html"));
  EXPECT_TRUE(contains(page, "<code>common_val_accuracy</code></td><td>")) << page.substr(0, 4000);
  EXPECT_TRUE(contains(page, "<title>baseline</title></polyline>"));
  EXPECT_TRUE(contains(page, "<title>candidate</title></polyline>"));
  EXPECT_FALSE(contains(page, "https://"));
}

}  // namespace
}  // namespace dpo
