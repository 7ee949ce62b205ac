// Slices and provenance end to end (issue 19): a tiny model trained on generated support pairs
// whose rows carry provenance (rubric, reviewer), with data.slice_by. The val lines of
// metrics.jsonl, eval_pairs.jsonl and evaluate_model's slices are checked against figures
// recomputed by hand from the per-pair file, and the reference margins against the reference
// log-probs cached in the prepared file. Then `dpo check` with per-slice gates.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "dataloader/prepare.h"
#include "dataloader/prepared_dataset.h"
#include "dataloader/tokenizer_training.h"
#include "pipeline/data_gates.h"
#include "pipeline/model_factory.h"
#include "tests/support/test_support.h"
#include "tests/trainer/tiny_world.h"
#include "tests/trainer/trainer_fixture.h"
#include "trainer/config.h"
#include "trainer/dpo_trainer.h"
#include "trainer/evaluation.h"
#include "trainer/prepared_informativeness.h"

namespace dpo {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr int kVocab = 512;
const char* const kRubrics[] = {"concise", "detailed", "legal"};

// support_pairs_jsonl with provenance: rubric by row (i % 3), reviewer by row (i % 2), and
// every fifth row without metadata; a top-level `source` column (i % 2: "app" or "web").
std::string pairs_with_provenance(int count) {
  std::string out;
  std::istringstream in(testing::support_pairs_jsonl(count));
  int i = 0;
  for (std::string line; std::getline(in, line); ++i) {
    json row = json::parse(line);
    if (i % 5 != 4)
      row["metadata"] = {{"rubric", kRubrics[i % 3]}, {"reviewer", "rev-" + std::to_string(i % 2)}};
    row["source"] = i % 2 == 0 ? "app" : "web";
    out += row.dump() + "\n";
  }
  return out;
}

using SliceWorld = testing::TinyWorld;

void build(SliceWorld& w) {
  testing::build_tiny_world(w, pairs_with_provenance(200), 0.25);
}

const SliceWorld& world() {
  static SliceWorld w;
  static bool built = (build(w), true);
  (void)built;
  return w;
}

Config sliced_config(const std::string& prepared, const std::string& out_dir) {
  Config config;
  config.data.prepared = prepared;
  config.data.slice_by = {"metadata.rubric", "metadata.reviewer", "source", "source_file"};
  config.model.path = world().model_dir;
  config.train.out_dir = out_dir;
  config.train.device = DeviceChoice::cpu;
  config.train.threads = 1;
  config.train.seed = 7;
  config.optim.lr = 5e-3;
  config.optim.schedule = ScheduleKind::constant;
  config.train.micro_batch_pairs = 8;
  config.train.max_steps = 12;
  config.train.log_every_steps = 4;
  config.train.save_every_steps = 0;
  config.eval.every_steps = 6;
  config.eval.batch_pairs = 16;
  return config;
}

// The slices of eval_pairs.jsonl lines, recomputed: {key: {value: {pairs, loss, accuracy, margin}}}
// from each line's slice values, loss and margin.
json slices_by_hand(const std::vector<json>& lines, const std::vector<std::string>& keys) {
  json out = json::object();
  for (const std::string& key : keys) {
    std::map<std::string, std::array<double, 4>> sums;  // pairs, loss, accuracy, margin
    for (const json& line : lines) {
      std::array<double, 4>& s = sums[line["slices"][key].get<std::string>()];
      const double margin = line["margin"].get<double>();
      s[0] += 1;
      s[1] += line["loss"].get<double>();
      s[2] += margin > 0 ? 1.0 : (margin == 0 ? 0.5 : 0.0);
      s[3] += margin;
    }
    for (const auto& [value, s] : sums) {
      out[key][value] = {
          {"pairs", s[0]},
          {"loss", s[1] / s[0]},
          {"accuracy", s[2] / s[0]},
          {"margin", s[3] / s[0]}};
    }
  }
  return out;
}

void expect_same_slices(const json& actual, const json& expected) {
  ASSERT_EQ(actual.size(), expected.size()) << actual.dump();
  for (const auto& [key, values] : expected.items()) {
    ASSERT_TRUE(actual.contains(key)) << key;
    ASSERT_EQ(actual[key].size(), values.size()) << actual[key].dump();
    for (const auto& [value, m] : values.items()) {
      ASSERT_TRUE(actual[key].contains(value)) << key << "=" << value;
      const json& a = actual[key][value];
      EXPECT_EQ(a["pairs"].get<double>(), m["pairs"].get<double>()) << key << "=" << value;
      for (const char* figure : {"loss", "accuracy", "margin"})
        EXPECT_NEAR(a[figure].get<double>(), m[figure].get<double>(), 1e-6) << key << "=" << value;
    }
  }
}

TEST(SliceEvaluation, TrainWritesSlicesPerEvaluationAndProvenancePerPair) {
  testing::TempDir dir;
  std::string prepared = dir.file("prepared.h5");
  fs::copy_file(world().prepared_path, prepared);
  Config config = sliced_config(prepared, dir.file("run"));
  TrainResult result = train_dpo(config, RunFlags{});

  // Every val line (steps 0, 6, 12) has the slices; each key's slices cover every held-out pair,
  // and their pair-weighted accuracy is the overall one.
  std::vector<json> val = testing::metrics_lines(dir.file("run/metrics.jsonl"), "val");
  ASSERT_EQ(val.size(), 3u);
  for (const json& line : val) {
    ASSERT_TRUE(line.contains("slices")) << line.dump();
    for (const std::string& key : config.data.slice_by) {
      double pairs = 0, correct = 0;
      for (const auto& [value, m] : line["slices"][key].items()) {
        pairs += m["pairs"].get<double>();
        correct += m["pairs"].get<double>() * m["accuracy"].get<double>();
      }
      EXPECT_EQ(pairs, line["pairs"].get<double>()) << key;
      EXPECT_NEAR(correct / pairs, line["rewards/accuracies"].get<double>(), 1e-6) << key;
    }
  }
  // Three rubrics, two reviewers, and the rows without metadata in "(none)"; the top-level
  // column read as `dpo validate` reads it.
  const json& last = val.back()["slices"];
  EXPECT_TRUE(last["metadata.rubric"].contains("legal")) << last.dump();
  EXPECT_TRUE(last["metadata.rubric"].contains("(none)")) << last.dump();
  EXPECT_TRUE(last["metadata.reviewer"].contains("rev-1")) << last.dump();
  EXPECT_EQ(last["source"].size(), 2u) << last.dump();
  EXPECT_TRUE(last["source"].contains("app")) << last.dump();
  EXPECT_TRUE(last["source"].contains("web")) << last.dump();
  EXPECT_EQ(last["source_file"].size(), 1u) << last.dump();  // one input file, by its name
  EXPECT_TRUE(last["source_file"].contains(world().pairs_path)) << last.dump();

  // eval_pairs.jsonl: each pair's provenance and slice values, and the last val line's slices
  // recomputed from its per-pair loss and margin.
  std::vector<json> pairs = testing::read_jsonl(dir.file("run/eval_pairs.jsonl"));
  ASSERT_EQ(static_cast<int64_t>(pairs.size()), result.final_eval.pairs);
  for (const json& pair : pairs) {
    if (pair["metadata"].is_null()) {
      EXPECT_EQ(pair["slices"]["metadata.rubric"], "(none)");
    } else {
      EXPECT_EQ(pair["slices"]["metadata.rubric"], pair["metadata"]["rubric"]);
      EXPECT_EQ(pair["slices"]["metadata.reviewer"], pair["metadata"]["reviewer"]);
    }
    EXPECT_EQ(pair["slices"]["source"], pair["fields"]["source"]);
  }
  expect_same_slices(last, slices_by_hand(pairs, config.data.slice_by));

  // informativeness.json: the reference margins of every pair (train and val), per slice, as
  // `dpo check` computes them from the prepared file.
  json written = json::parse(testing::read_file(dir.file("run/informativeness.json")));
  std::optional<Informativeness> expected = prepared_informativeness(prepared, config);
  ASSERT_TRUE(expected.has_value());
  EXPECT_EQ(
      written, json::parse(informativeness_to_json(*expected, informativeness_thresholds(config))));
  EXPECT_EQ(
      written["pairs"].get<int64_t>(),
      static_cast<int64_t>(world().val_pairs + world().train_pairs));
  EXPECT_TRUE(written["slices"].contains("metadata.rubric")) << written.dump();

  // The reference margins are the cached reference log-probs' differences.
  PreparedDataset data = read_prepared_dataset(prepared);
  std::vector<std::string> hashes = list_reference_logps(prepared);
  ASSERT_EQ(hashes.size(), 1u);
  ReferenceLogps reference = *read_reference_logps(prepared, hashes[0]);
  for (size_t i = 0; i < pairs.size(); ++i) {
    const double c = reference.val.chosen_logps[i], r = reference.val.rejected_logps[i];
    EXPECT_NEAR(pairs[i]["reference_margin"].get<double>(), c - r, 1e-9) << i;
    EXPECT_NEAR(
        pairs[i]["reference_margin_per_token"].get<double>(),
        c / reference.val.chosen_tokens[i] - r / reference.val.rejected_tokens[i],
        1e-9)
        << i;
  }
}

TEST(SliceEvaluation, AModelAgainstItselfHasChanceFiguresInEverySlice) {
  // Policy = reference: every reward is 0, so every margin is 0 (a tie: accuracy one half) and
  // every sigmoid loss is -log(sigmoid(0)) = ln 2 = 0.693147.
  testing::TempDir dir;
  EvalDetails details;
  details.slice_by = {"metadata.rubric"};
  LossMeans m = evaluate_model(
      world().model_dir,
      world().prepared_path,
      "",
      LossConfig{},
      DeviceChoice::cpu,
      TrainDtype::fp32,
      16,
      dir.file("pairs.jsonl"),
      /*communicator=*/nullptr,
      &details);
  ASSERT_EQ(details.slices.size(), 1u);
  int64_t pairs = 0;
  for (const SliceMetrics& s : details.slices[0].slices) {
    pairs += s.pairs;
    EXPECT_DOUBLE_EQ(s.accuracy, 0.5) << s.value;
    EXPECT_NEAR(s.loss, std::log(2.0), 1e-6) << s.value;
    EXPECT_NEAR(s.margin, 0.0, 1e-9) << s.value;
  }
  EXPECT_EQ(pairs, m.pairs);
  ASSERT_NE(details.slices[0].find("legal"), nullptr);
  // The per-pair file written beside it holds the same slice values.
  std::vector<json> lines = testing::read_jsonl(dir.file("pairs.jsonl"));
  ASSERT_EQ(static_cast<int64_t>(lines.size()), m.pairs);
  EXPECT_TRUE(lines[0]["slices"].contains("metadata.rubric"));
}

TEST(SliceEvaluation, CheckJudgesEachSliceAndReportsInformativeness) {
  testing::TempDir dir;
  CheckRequest request;
  request.files = {world().pairs_path};
  request.model_dir = world().model_dir;
  request.overrides = {
      "train.device=cpu",
      "train.threads=1",
      "train.micro_batch_pairs=8",
      "data.max_length=128",
      "data.val_fraction=0.25",
      "optim.lr=5e-3",
      "optim.schedule=constant",
      "check.min_slice_accuracy=0.01",
      "check.min_slice_pairs=5"};
  request.slice_by = {"metadata.rubric"};
  request.steps = 6;
  request.out_dir = dir.file("check");
  CheckOutcome outcome = run_check(request);
  json report = json::parse(outcome.report_json);

  // One criterion per rubric slice of the held-out split (all of them have >= 5 pairs).
  std::vector<std::string> slice_criteria;
  for (const Criterion& c : outcome.criteria) {
    if (c.name.rfind("slice_accuracy[", 0) == 0)
      slice_criteria.push_back(c.name);
  }
  EXPECT_EQ(
      slice_criteria,
      (std::vector<std::string>{
          "slice_accuracy[metadata.rubric=(none)]",
          "slice_accuracy[metadata.rubric=concise]",
          "slice_accuracy[metadata.rubric=detailed]",
          "slice_accuracy[metadata.rubric=legal]"}));
  ASSERT_TRUE(report.contains("slices")) << report.dump(2);

  // Informativeness over every prepared pair (train and val), from the cached reference.
  ASSERT_TRUE(report.contains("informativeness")) << report.dump(2);
  const json& info = report["informativeness"];
  PreparedDataset data = read_prepared_dataset(dir.file("check/prepared.h5"));
  EXPECT_EQ(info["pairs"].get<size_t>(), data.train.size() + data.val.size());
  double shares = 0;
  for (const auto& [value, s] : info["slices"]["metadata.rubric"].items())
    shares += s["pairs"].get<double>();
  EXPECT_EQ(shares, info["pairs"].get<double>());
  EXPECT_NE(outcome.informativeness.find("informativeness: "), std::string::npos);
  EXPECT_TRUE(report["warnings"].is_array());
}

// ---- A planted slice regression ----------------------------------------------------------------

// Support pairs of two rubrics whose answers differ: "refund" rows (the chosen answer verifies the
// order first) and, every `legal_every`-th row, "legal" rows (the chosen answer hands the case to
// the legal team). `flip_legal`: the legal rows' labels swapped, as a reviewer with a broken
// standard would export them. `offset` makes the prompts of another file distinct.
std::string two_rubric_pairs(int count, int legal_every, bool flip_legal, int offset) {
  static const char* const kNames[] = {"Ana", "Ben", "Chloe", "Dev", "Eli", "Fay", "Gus", "Hana"};
  static const char* const kItems[] = {"jacket", "tent", "backpack", "boots", "lantern", "stove"};
  auto message = [](const std::string& content) {
    return json::array({{{"role", "assistant"}, {"content", content}}});
  };
  std::string out;
  for (int k = 0; k < count; ++k) {
    const int i = k + offset;
    const bool legal = k % legal_every == legal_every - 1;
    const std::string name = kNames[i % 8], item = kItems[(i / 8) % 6];
    const std::string order = std::to_string(20011 + 41 * i);
    json row;
    row["id"] = "p" + std::to_string(i);
    if (legal) {
      row["prompt"] = json::array(
          {{{"role", "user"},
            {"content",
             "This is " + name + ". Your " + item + " hurt me, order " + order +
                 ". I will take you to court."}}});
      row["chosen"] = message("I am sorry, " + name + ". I am passing this to our legal team now.");
      row["rejected"] = message("You have no case against us.");
      row["metadata"] = {{"rubric", "legal"}};
      if (flip_legal)
        std::swap(row["chosen"], row["rejected"]);
    } else {
      row["prompt"] = json::array(
          {{{"role", "user"},
            {"content",
             "Hi, " + name + " here. My " + item + " broke, order " + order +
                 ". Can I get a refund?"}}});
      row["chosen"] = message("Sorry, " + name + ". Let me verify the order number first.");
      row["rejected"] = message("Refund issued right away, no checks.");
      row["metadata"] = {{"rubric", "refund"}};
    }
    out += row.dump() + "\n";
  }
  return out;
}

TEST(SliceEvaluation, CompareCatchesAPlantedSliceRegressionWhileTheAverageBarelyMoves) {
  // Version 2 flips the labels of the legal rubric (1 row in 20). On a common evaluation file of
  // 400 fresh pairs, 20 of them legal, the candidate gets the legal slice wrong (a drop far
  // beyond its standard error on 20 pairs) while the overall accuracy moves by at most 20/400 =
  // 0.05: inside the overall allowed drop set here (0.06), so only the slice verdict fires.
  testing::TempDir dir;
  const std::string v1 = dir.file("v1.jsonl"), v2 = dir.file("v2.jsonl");
  const std::string heldout = dir.file("heldout.jsonl");
  testing::write_file(v1, two_rubric_pairs(400, 20, false, 0));
  testing::write_file(v2, two_rubric_pairs(400, 20, true, 0));
  testing::write_file(heldout, two_rubric_pairs(400, 20, false, 1000));

  TokenizerTrainingOptions tokenizer;
  tokenizer.vocab_size = kVocab;
  tokenizer.user_symbols = testing::chatml_markers();
  std::string tokenizer_path =
      train_tokenizer_on_pairs({v1, heldout}, dir.file("tokenizer"), tokenizer).model_path;
  testing::write_file(dir.file("shape.json"), testing::tiny_model_config_json(kVocab));
  InitModelOptions model;
  model.config_path = dir.file("shape.json");
  model.tokenizer_path = tokenizer_path;
  model.template_spec = "chatml";
  model.added_special_tokens = testing::chatml_markers();
  model.eos_token = "<|im_end|>";
  model.out_dir = dir.file("model");
  model.seed = 1;
  init_model_folder(model);

  CompareRequest request;
  request.baseline = {v1};
  request.candidate = {v2};
  request.eval_data = {heldout};
  request.model_dir = model.out_dir;
  request.slice_by = {"metadata.rubric"};
  request.out_dir = dir.file("compare");
  request.overrides = {
      "train.device=cpu",
      "train.threads=1",
      "train.micro_batch_pairs=8",
      "data.max_length=128",
      "data.val_fraction=0.1",
      "optim.lr=5e-3",
      "optim.schedule=constant",
      "compare.steps=60",
      "compare.max_accuracy_drop=0.06",
      "compare.max_label_flip_fraction=1",  // the flips are the data side's to report
      "compare.min_slice_pairs=20"};
  CompareOutcome outcome = run_compare(request);
  json report = json::parse(outcome.report_json);

  const json& noise = report["noise"];
  EXPECT_LE(noise["drop"].get<double>(), 0.05 + 1e-9) << report.dump(2);
  const json* legal = nullptr;
  for (const json& c : report["slices"]["comparisons"]) {
    if (c["value"] == "legal")
      legal = &c;
  }
  ASSERT_NE(legal, nullptr) << report.dump(2);
  EXPECT_EQ((*legal)["pairs"], 20);
  EXPECT_EQ((*legal)["regression"], true) << legal->dump(2);
  EXPECT_GT((*legal)["drop"].get<double>(), (*legal)["allowed_drop"].get<double>());
  EXPECT_TRUE(outcome.regression);
  ASSERT_EQ(outcome.reasons.size(), 1u) << report.dump(2);
  EXPECT_NE(outcome.reasons[0].find("slice metadata.rubric=legal"), std::string::npos)
      << outcome.reasons[0];
}

}  // namespace
}  // namespace dpo
