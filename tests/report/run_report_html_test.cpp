#include "report/run_report_html.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "data/dataset_diff.h"
#include "data/validator.h"
#include "tests/support/test_support.h"

namespace dpo {
namespace {

using nlohmann::json;

size_t count_of(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1))
    ++n;
  return n;
}

// The body of <section id="id"> ... </section>.
std::string section(const std::string& html, const std::string& id) {
  size_t start = html.find("<section id=\"" + id + "\">");
  if (start == std::string::npos)
    return "";
  size_t end = html.find("</section>", start);
  return html.substr(start, end - start);
}

// The <figure> whose caption is `caption`.
std::string figure(const std::string& html, const std::string& caption) {
  size_t start = html.find("<figcaption>" + caption + "</figcaption>");
  if (start == std::string::npos)
    return "";
  return html.substr(start, html.find("</figure>", start) - start);
}

void expect_self_contained(const std::string& html) {
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_EQ(html.find("http://"), std::string::npos);
  EXPECT_EQ(html.find("https://"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
  EXPECT_NE(html.find("</html>"), std::string::npos);
}

// Metrics of a tiny run: train every step, val every 5 steps, an alarm at step 10.
std::string tiny_metrics(int steps = 10) {
  std::string text;
  for (int step = 1; step <= steps; ++step) {
    json train = {
        {"step", step},
        {"epoch", step / 5.0},
        {"split", "train"},
        {"loss", 0.693 - 0.03 * step},
        {"rewards/chosen", 0.01 * step},
        {"rewards/rejected", -0.01 * step},
        {"rewards/margins", 0.02 * step},
        {"rewards/accuracies", 0.5 + 0.04 * step},
        {"logps/chosen", -120.0 + step},
        {"logps/rejected", -125.0 - step},
        {"lr", 1e-6 * std::min(step, 3) / 3.0},
        {"grad_norm", 2.0 / step},
        {"tokens_per_s", 900.0 + step},
        {"seconds", 1.5 * step}};
    text += train.dump() + "\n";
    if (step % 5 == 0) {
      json val = {
          {"step", step},
          {"epoch", step / 5.0},
          {"split", "val"},
          {"loss", 0.68 + 0.001 * step},
          {"rewards/margins", 0.01 * step},
          {"rewards/accuracies", 0.55},
          {"rewards/chosen", 0.0},
          {"rewards/rejected", -0.01 * step}};
      if (step == 10)
        val["alarms"] = {"val_loss_rising"};
      text += val.dump() + "\n";
    }
  }
  return text;
}

std::string eval_pairs_jsonl() {
  std::string text;
  std::vector<double> margins = {0.8, -2.5, 0.1, -0.3};
  for (size_t i = 0; i < margins.size(); ++i) {
    json pair = {
        {"pair_index", i},
        {"id", "pair-" + std::to_string(i)},
        {"source_file", "data/v1.jsonl"},
        {"source_line", 10 + i},
        {"margin", margins[i]},
        {"reward_chosen", margins[i] / 2},
        {"reward_rejected", -margins[i] / 2},
        {"prompt", json::array({{{"role", "user"}, {"content", "Question " + std::to_string(i)}}})},
        {"chosen", "Answer " + std::to_string(i) + " <script>alert(1)</script>"},
        {"rejected", std::string(500, 'x') + " & more"}};
    text += pair.dump() + "\n";
  }
  return text;
}

std::string validate_json(const testing::TempDir& dir) {
  std::string data = dir.file("data.jsonl");
  std::string text;
  for (int i = 0; i < 12; ++i) {
    json row = {
        {"prompt", "Where is order " + std::to_string(i) + "?"},
        {"chosen", i % 2 ? "It ships today, order " + std::to_string(i) : "Tomorrow."},
        {"rejected", i % 2 ? "No." : "I do not know, sorry, order " + std::to_string(i)},
        {"metadata", {{"source", i % 3 ? "web" : "mail"}}}};
    text += row.dump() + "\n";
  }
  testing::write_file(data, text);
  return report_to_json(validate_files({data}, {}));
}

void write_run(const testing::TempDir& dir, const std::string& run, bool with_eval_pairs = true) {
  std::string run_dir = dir.file(run);
  ASSERT_EQ(testing::run_command("mkdir -p '" + run_dir + "'").exit_code, 0);
  json manifest = {
      {"dpo_version", "0.1.0"},
      {"git_commit", "abc1234"},
      {"device", "cpu"},
      {"threads", 2},
      {"config", {{"train", {{"lr", 5e-7}, {"steps", 10}}}, {"loss", {{"types", {"sigmoid"}}}}}}};
  testing::write_file(run_dir + "/manifest.json", manifest.dump(2));
  testing::write_file(run_dir + "/metrics.jsonl", tiny_metrics());
  if (with_eval_pairs)
    testing::write_file(run_dir + "/eval_pairs.jsonl", eval_pairs_jsonl());
  testing::write_file(run_dir + "/validate.json", validate_json(dir));
}

TEST(RunReportHtml, RunDirectoryShowsEverySection) {
  testing::TempDir dir;
  write_run(dir, "run");
  std::string html = render_run_report_html(dir.file("run"));
  expect_self_contained(html);
  for (const char* id : {"summary", "curves", "alarms", "worst-pairs", "data", "manifest"}) {
    EXPECT_FALSE(section(html, id).empty()) << id;
  }
  // Charts: train and val loss as polylines, with axes, ticks and the alarm marker.
  std::string loss = figure(html, "Loss");
  ASSERT_FALSE(loss.empty());
  EXPECT_EQ(count_of(loss, "<polyline"), 2u);
  EXPECT_NE(loss.find("<title>train</title></polyline>"), std::string::npos);
  EXPECT_NE(loss.find("<title>val</title></polyline>"), std::string::npos);
  EXPECT_NE(loss.find("class=\"axis\""), std::string::npos);
  EXPECT_GE(count_of(loss, "class=\"tick\""), 4u);
  EXPECT_NE(loss.find(">step</text>"), std::string::npos);
  EXPECT_NE(loss.find("class=\"alarm\""), std::string::npos);
  EXPECT_NE(loss.find(">val_loss_rising</text>"), std::string::npos);
  for (const char* caption :
       {"Preference accuracy", "Reward margin (chosen - rejected)", "Rewards", "Learning rate"}) {
    EXPECT_NE(figure(html, caption).find("<polyline"), std::string::npos) << caption;
  }
  // The alarm is listed with its step.
  std::string alarms = section(html, "alarms");
  EXPECT_NE(
      alarms.find("<td>10</td><td>val</td><td><code>val_loss_rising</code>"), std::string::npos);
  // The manifest is flattened with dotted keys.
  std::string manifest = section(html, "manifest");
  EXPECT_NE(manifest.find("<code>config.train.lr</code>"), std::string::npos);
  EXPECT_NE(manifest.find("<code>config.loss.types</code></td><td>sigmoid"), std::string::npos);
  // Summary figures come from the metrics.
  std::string summary = section(html, "summary");
  EXPECT_NE(summary.find("10 train, 2 val"), std::string::npos);
  EXPECT_NE(summary.find("0.685 at step 5"), std::string::npos);  // best val loss
  // Data statistics from validate.json.
  std::string data = section(html, "data");
  EXPECT_NE(data.find("<code>chosen_chars</code>"), std::string::npos);
  EXPECT_NE(data.find("metadata.source"), std::string::npos);
  EXPECT_NE(data.find("chosen response longer"), std::string::npos);
}

TEST(RunReportHtml, WorstPairsComeFirstWithEscapedText) {
  testing::TempDir dir;
  write_run(dir, "run");
  std::string pairs = section(render_run_report_html(dir.file("run")), "worst-pairs");
  // Most negative margin first: pair-1 (-2.5), pair-3 (-0.3), pair-2 (0.1), pair-0 (0.8).
  size_t p1 = pairs.find("<code>pair-1</code>"), p3 = pairs.find("<code>pair-3</code>");
  size_t p2 = pairs.find("<code>pair-2</code>"), p0 = pairs.find("<code>pair-0</code>");
  ASSERT_NE(p0, std::string::npos);
  EXPECT_LT(p1, p3);
  EXPECT_LT(p3, p2);
  EXPECT_LT(p2, p0);
  EXPECT_NE(pairs.find("data/v1.jsonl:11"), std::string::npos);
  EXPECT_NE(pairs.find("accuracy 50.0%"), std::string::npos);  // 2 of 4 margins positive
  // Text is escaped; long text is folded.
  EXPECT_NE(pairs.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
  EXPECT_EQ(pairs.find("<script>"), std::string::npos);
  EXPECT_NE(pairs.find("<details><summary>"), std::string::npos);
  EXPECT_NE(pairs.find("x &amp; more"), std::string::npos);
  EXPECT_NE(pairs.find("user: Question 1"), std::string::npos);

  RunReportOptions two;
  two.worst_pairs = 2;
  std::string capped = section(render_run_report_html(dir.file("run"), two), "worst-pairs");
  EXPECT_EQ(count_of(capped, "class=\"pair\""), 2u);
  EXPECT_EQ(capped.find("<code>pair-0</code>"), std::string::npos);
}

TEST(RunReportHtml, MissingFilesAreNotRecorded) {
  testing::TempDir dir;
  write_run(dir, "run", /*with_eval_pairs=*/false);
  std::string html = render_run_report_html(dir.file("run"));
  EXPECT_NE(section(html, "worst-pairs").find("not recorded"), std::string::npos);
  EXPECT_EQ(section(html, "curves").find("not recorded"), std::string::npos);

  // An empty directory: every section says so, no chart is drawn.
  ASSERT_EQ(testing::run_command("mkdir -p '" + dir.file("empty") + "'").exit_code, 0);
  std::string empty = render_run_report_html(dir.file("empty"));
  expect_self_contained(empty);
  for (const char* id : {"curves", "alarms", "worst-pairs", "data", "manifest"}) {
    EXPECT_NE(section(empty, id).find("not recorded"), std::string::npos) << id;
  }
  EXPECT_EQ(empty.find("<polyline"), std::string::npos);
}

TEST(RunReportHtml, MetricsWithMissingKeysAndNonFiniteValues) {
  testing::TempDir dir;
  ASSERT_EQ(testing::run_command("mkdir -p '" + dir.file("run") + "'").exit_code, 0);
  // A null loss (a non-finite value) breaks the train line in two; rows without a key skip it.
  testing::write_file(
      dir.file("run/metrics.jsonl"),
      "{\"step\":1,\"loss\":0.69}\n{\"step\":2,\"loss\":0.6}\n\n"
      "{\"step\":3,\"loss\":null}\n{\"step\":4,\"loss\":\"nan\"}\n"
      "{\"step\":5,\"loss\":0.5}\n{\"step\":6,\"loss\":0.4}\n{\"step\":7}\n");
  std::string html = render_run_report_html(dir.file("run"));
  std::string loss = figure(html, "Loss");
  EXPECT_EQ(count_of(loss, "<title>train</title></polyline>"), 2u);
  EXPECT_EQ(count_of(loss, "<title>val</title></polyline>"), 0u);
  EXPECT_NE(figure(html, "Learning rate").find("not recorded"), std::string::npos);
  EXPECT_NE(section(html, "summary").find("non-finite losses"), std::string::npos);
  EXPECT_NE(section(html, "summary").find("<td>2</td>"), std::string::npos);
}

TEST(RunReportHtml, MalformedJsonNamesFileAndLine) {
  testing::TempDir dir;
  write_run(dir, "run");
  testing::write_file(dir.file("run/metrics.jsonl"), "{\"step\":1}\n\n{\"step\":2,}\n");
  try {
    render_run_report_html(dir.file("run"));
    FAIL() << "expected a DataError";
  } catch (const DataError& e) {
    EXPECT_NE(e.message().find("metrics.jsonl:3: malformed JSON"), std::string::npos)
        << e.message();
  }
  write_run(dir, "run2");
  testing::write_file(
      dir.file("run2/manifest.json"), "{\n  \"a\": 1,\n  \"b\": 2\n  \"c\": 3\n}\n");
  try {
    render_run_report_html(dir.file("run2"));
    FAIL() << "expected a DataError";
  } catch (const DataError& e) {
    EXPECT_NE(e.message().find("manifest.json:4: malformed JSON"), std::string::npos)
        << e.message();
  }
  EXPECT_THROW(render_run_report_html(dir.file("no-such-run")), IoError);
}

TEST(RunReportHtml, CheckReportShowsCriteriaAndTheRun) {
  testing::TempDir dir;
  write_run(dir, "run");
  json report = {
      {"kind", "check"},
      {"passed", false},
      {"criteria",
       {{{"name", "train_accuracy_rises"},
         {"value", 0.9},
         {"threshold", 0.6},
         {"passed", true},
         {"detail", "ok"}},
        {{"name", "val_accuracy_above_chance"},
         {"value", 0.51},
         {"threshold", 0.55},
         {"passed", false},
         {"detail", "held-out accuracy <= chance + margin"}}}},
      {"validate", json::parse(validate_json(dir))},
      {"run_dir", "run"},  // relative to the report's folder
      {"steps", 10}};
  testing::write_file(dir.file("check.json"), report.dump(2));
  std::string html = render_run_report_html(dir.file("check.json"));
  expect_self_contained(html);
  std::string verdict = section(html, "verdict");
  EXPECT_NE(verdict.find("badge fail\">FAIL"), std::string::npos);
  EXPECT_NE(
      verdict.find("<td>val_accuracy_above_chance</td><td>0.51</td><td>0.55</td>"),
      std::string::npos);
  EXPECT_NE(verdict.find("held-out accuracy &lt;= chance + margin"), std::string::npos);
  EXPECT_NE(section(html, "validation").find("<code>prompt_chars</code>"), std::string::npos);
  EXPECT_NE(section(html, "run-curves").find("<polyline"), std::string::npos);
  // The run folder holds the same validation (train copies it there): the page shows it once.
  EXPECT_EQ(html.find("<section id=\"run-data\">"), std::string::npos);
  EXPECT_NE(section(html, "other").find("<code>steps</code>"), std::string::npos);

  // A run_dir that does not exist is reported, not fatal.
  report["run_dir"] = "gone";
  testing::write_file(dir.file("check2.json"), report.dump());
  std::string gone = render_run_report_html(dir.file("check2.json"));
  EXPECT_NE(section(gone, "run-summary").find("not recorded"), std::string::npos);
  EXPECT_EQ(gone.find("<polyline"), std::string::npos);
}

TEST(RunReportHtml, CompareReportShowsBothVersionsSideBySide) {
  testing::TempDir dir;
  write_run(dir, "base");
  write_run(dir, "cand", /*with_eval_pairs=*/false);
  // A real data diff: the candidate flips one label and empties one response.
  std::string v1, v2;
  for (int i = 0; i < 8; ++i) {
    json row = {
        {"id", "p" + std::to_string(i)},
        {"prompt", "Question " + std::to_string(i) + "?"},
        {"chosen", "A helpful answer number " + std::to_string(i)},
        {"rejected", "Nope " + std::to_string(i)}};
    v1 += row.dump() + "\n";
    if (i == 2)
      std::swap(row["chosen"], row["rejected"]);
    if (i == 5)
      row["chosen"] = "";
    v2 += row.dump() + "\n";
  }
  testing::write_file(dir.file("v1.jsonl"), v1);
  testing::write_file(dir.file("v2.jsonl"), v2);
  DatasetDiff diff = diff_datasets({dir.file("v1.jsonl")}, {dir.file("v2.jsonl")});
  json report = {
      {"kind", "compare"},
      {"regression", true},
      {"reasons", {"val accuracy dropped by 0.12 (noise 0.02)"}},
      {"data_diff", json::parse(dataset_diff_to_json(diff))},
      {"baseline",
       {{"run_dir", dir.file("base")}, {"metrics", {{"val_accuracy", 0.7}, {"val_loss", 0.6}}}}},
      {"candidate",
       {{"run_dir", dir.file("cand")}, {"metrics", {{"val_accuracy", 0.58}, {"val_loss", 0.66}}}}},
      {"noise", {{"val_accuracy_std", 0.02}}}};
  testing::write_file(dir.file("compare.json"), report.dump());
  std::string html = render_run_report_html(dir.file("compare.json"));
  expect_self_contained(html);
  EXPECT_NE(section(html, "verdict").find("REGRESSION"), std::string::npos);
  EXPECT_NE(section(html, "verdict").find("val accuracy dropped by 0.12"), std::string::npos);
  std::string metrics = section(html, "metrics");
  EXPECT_NE(
      metrics.find("<code>val_accuracy</code></td><td>0.7</td><td>0.58</td><td><b>-0.12</b>"),
      std::string::npos);
  EXPECT_NE(section(html, "noise").find("val_accuracy_std"), std::string::npos);
  std::string curves = section(html, "curves");
  EXPECT_NE(curves.find("<title>baseline</title></polyline>"), std::string::npos);
  EXPECT_NE(curves.find("<title>candidate</title></polyline>"), std::string::npos);
  std::string data = section(html, "data-diff");
  EXPECT_NE(data.find("DATA REGRESSION"), std::string::npos);
  EXPECT_NE(data.find("<td>label_flips</td><td>1</td>"), std::string::npos);
  EXPECT_NE(data.find("v1.jsonl:3 (p2) &rarr; "), std::string::npos);
  EXPECT_NE(data.find("<code>empty_chosen</code>"), std::string::npos);
  EXPECT_NE(data.find("<h4>Baseline</h4>"), std::string::npos);
  EXPECT_NE(data.find("<h4>Candidate</h4>"), std::string::npos);
  // The candidate has no eval_pairs.jsonl: its column says so, the baseline's lists pairs.
  std::string worst = section(html, "worst-pairs");
  size_t candidate_column = worst.find("<h4>Candidate</h4>");
  ASSERT_NE(candidate_column, std::string::npos);
  EXPECT_NE(worst.find("class=\"pair\""), std::string::npos);
  EXPECT_LT(worst.find("class=\"pair\""), candidate_column);
  EXPECT_NE(worst.find("not recorded", candidate_column), std::string::npos);
  EXPECT_NE(section(html, "manifests").find("<code>config.train.lr</code>"), std::string::npos);
}

// The validate section shows the slices, the reviewer agreement and the per-reviewer table,
// AI judgments and ages when the report has them, and nothing of them when it does not.
TEST(RunReportHtml, ValidateSectionShowsSlicesAgreementAndReviewers) {
  testing::TempDir dir;
  std::string text;
  for (int i = 0; i < 8; ++i) {
    for (const std::string reviewer : {"ann", "bob"}) {
      // bob swaps the last comparison: one disagreement.
      bool swap = i == 7 && reviewer == "bob";
      std::string good = "It ships today, order " + std::to_string(i);
      json row = {
          {"prompt", "Where is order " + std::to_string(i) + "?"},
          {"chosen", swap ? "No." : good},
          {"rejected", swap ? good : "No."},
          {"metadata",
           {{"locale", i < 4 ? "en-US" : "de-DE"},
            {"reviewer", reviewer},
            {"judge", i == 0 ? "ai" : "human"},
            {"timestamp", "2024-11-" + std::to_string(10 + i)}}}};
      text += row.dump() + "\n";
    }
  }
  testing::write_file(dir.file("data.jsonl"), text);
  ValidateOptions options;
  options.provenance.slice_by = {"metadata.locale"};
  options.provenance.as_of = 1733011200.0;  // 2024-12-01
  testing::write_file(
      dir.file("validate.json"), report_to_json(validate_files({dir.file("data.jsonl")}, options)));
  std::string data = section(render_run_report_html(dir.file("validate.json")), "data");
  EXPECT_NE(data.find("<h4>Slices</h4>"), std::string::npos);
  EXPECT_NE(data.find("<code>metadata.locale</code>"), std::string::npos);
  EXPECT_NE(data.find("<td>de-DE</td><td>8</td>"), std::string::npos) << data;
  EXPECT_NE(data.find("<h4>Reviewer agreement</h4>"), std::string::npos);
  EXPECT_NE(data.find("<td>cohen</td>"), std::string::npos) << data;
  EXPECT_NE(
      data.find("<td>reviewer field</td><td><code>metadata.reviewer</code></td>"),
      std::string::npos)
      << data;
  EXPECT_EQ(data.find("&lt;code&gt;"), std::string::npos)
      << data;  // HTML cells are not escaped twice
  EXPECT_NE(data.find("<h4>Reviewers</h4>"), std::string::npos);
  EXPECT_NE(data.find("<td>ann</td><td>8</td>"), std::string::npos) << data;
  EXPECT_NE(data.find("disagree on (first 1 of 1 listed)"), std::string::npos) << data;
  EXPECT_NE(data.find("bob: "), std::string::npos) << data;
  EXPECT_NE(data.find("2024-12-01T00:00:00Z"), std::string::npos) << data;
  EXPECT_NE(data.find("AI judgments"), std::string::npos);

  testing::write_file(dir.file("plain.json"), validate_json(dir));
  std::string plain = section(render_run_report_html(dir.file("plain.json")), "data");
  EXPECT_EQ(plain.find("<h4>Slices</h4>"), std::string::npos);
  EXPECT_EQ(plain.find("Reviewer agreement"), std::string::npos);
  EXPECT_EQ(plain.find("<h4>Provenance</h4>"), std::string::npos);
}

TEST(RunReportHtml, ValidateAndDiffReportsRenderOnTheirOwn) {
  testing::TempDir dir;
  testing::write_file(dir.file("validate.json"), validate_json(dir));
  std::string page = render_run_report_html(dir.file("validate.json"));
  expect_self_contained(page);
  EXPECT_NE(section(page, "data").find("badge pass\">PASS"), std::string::npos);

  testing::write_file(
      dir.file("v.jsonl"),
      "{\"prompt\":\"Hi?\",\"chosen\":\"Hello there.\",\"rejected\":\"Go.\"}\n");
  DatasetDiff diff = diff_datasets({dir.file("v.jsonl")}, {dir.file("v.jsonl")});
  testing::write_file(dir.file("diff.json"), dataset_diff_to_json(diff));
  std::string diff_page = render_run_report_html(dir.file("diff.json"));
  EXPECT_NE(section(diff_page, "data-diff").find("no data regression"), std::string::npos);
  EXPECT_NE(
      section(diff_page, "data-diff").find("<td>unchanged</td><td>1</td>"), std::string::npos);
}

}  // namespace
}  // namespace dpo

namespace dpo {
namespace {

// A run evaluated with data.slice_by = ["metadata.rubric"]: the last val line carries the
// slices, each eval_pairs line its provenance and slice value.
void write_sliced_run(const testing::TempDir& dir, const std::string& run) {
  std::string run_dir = dir.file(run);
  ASSERT_EQ(testing::run_command("mkdir -p '" + run_dir + "'").exit_code, 0);
  json val = {
      {"step", 10},
      {"split", "val"},
      {"loss", 0.5},
      {"rewards/accuracies", 0.75},
      {"slices",
       {{"metadata.rubric",
         {{"concise", {{"pairs", 2}, {"loss", 0.2}, {"accuracy", 1.0}, {"margin", 0.9}}},
          {"detailed", {{"pairs", 2}, {"loss", 0.8}, {"accuracy", 0.5}, {"margin", -0.4}}}}}}}};
  testing::write_file(run_dir + "/metrics.jsonl", val.dump() + "\n");
  std::string pairs;
  const double margins[] = {0.5, 1.3, -1.2, 0.4};
  const char* rubrics[] = {"concise", "concise", "detailed", "detailed"};
  for (int i = 0; i < 4; ++i) {
    json pair = {
        {"pair_index", i},
        {"id", "pair-" + std::to_string(i)},
        {"source_file", "v2.jsonl"},
        {"source_line", i + 1},
        {"metadata", {{"rubric", rubrics[i]}, {"reviewer", "rev-" + std::to_string(i % 2)}}},
        {"slices", {{"metadata.rubric", rubrics[i]}}},
        {"margin", margins[i]},
        {"reference_margin_per_token", 0.01 * i},
        {"prompt", "Q"},
        {"chosen", "A"},
        {"rejected", "B"}};
    pairs += pair.dump() + "\n";
  }
  testing::write_file(run_dir + "/eval_pairs.jsonl", pairs);
}

TEST(RunReportHtml, SlicesTableAndWorstPairsPerSliceWithProvenance) {
  testing::TempDir dir;
  write_sliced_run(dir, "run");
  std::string html = render_run_report_html(dir.file("run"));
  std::string slices = section(html, "slices");
  ASSERT_FALSE(slices.empty()) << html.substr(0, 2000);
  EXPECT_NE(
      slices.find("<td><code>metadata.rubric</code></td><td>detailed</td><td>2</td><td>0.8</td>"
                  "<td>50.0%</td><td>-0.4</td>"),
      std::string::npos)
      << slices;
  // Worst pair of "detailed" first: pair-2 (-1.2) before pair-3 (0.4); with its reviewer.
  size_t p2 = slices.find("<code>pair-2</code>"), p3 = slices.find("<code>pair-3</code>");
  ASSERT_NE(p2, std::string::npos);
  EXPECT_LT(p2, p3);
  EXPECT_NE(slices.find("reviewer=<b>rev-0</b>", p2), std::string::npos);
  // The overall worst-pairs section shows each pair's provenance too.
  EXPECT_NE(
      section(html, "worst-pairs").find("provenance: reviewer=<b>rev-0</b> &middot; rubric=<b>"),
      std::string::npos);

  // A run without slices has no such section (and its pairs no provenance line).
  write_run(dir, "plain");
  std::string plain = render_run_report_html(dir.file("plain"));
  EXPECT_EQ(plain.find("<section id=\"slices\">"), std::string::npos);
  EXPECT_EQ(plain.find("provenance:"), std::string::npos);
}

TEST(RunReportHtml, CheckReportShowsSlicesInformativenessAndWarnings) {
  testing::TempDir dir;
  write_sliced_run(dir, "run");
  json report = {
      {"kind", "check"},
      {"passed", true},
      {"criteria", json::array()},
      {"warnings", {"ambiguous_pairs: the reference cannot tell chosen from rejected"}},
      {"slices",
       {{"metadata.rubric", {{"concise", {{"pairs", 12}, {"loss", 0.3}, {"accuracy", 0.75}}}}}}},
      {"informativeness",
       {{"pairs", 40},
        {"ranked_correctly_share", 0.55},
        {"easy_share", 0.1},
        {"ambiguous_share", 0.25},
        {"easy_margin", 0.5},
        {"ambiguous_margin", 0.02},
        {"margin_per_token", {{"p10", -0.2}, {"p50", 0.01}, {"p90", 0.6}}},
        {"mean_margin_summed", 3.5},
        {"bands",
         {{{"band", "prefers rejected clearly"}, {"pairs", 0}},
          {{"band", "ambiguous"}, {"pairs", 10}},
          {{"band", "easy"}, {"pairs", 4}}}},
        {"slices",
         {{"metadata.rubric",
           {{"concise", {{"pairs", 12}, {"easy_share", 0.5}, {"ambiguous_share", 0.0}}}}}}}}},
      {"run_dir", "run"}};
  testing::write_file(dir.file("check.json"), report.dump());
  std::string html = render_run_report_html(dir.file("check.json"));
  EXPECT_NE(
      section(html, "verdict").find("warning: ambiguous_pairs: the reference cannot tell"),
      std::string::npos);
  EXPECT_NE(
      section(html, "slices").find("<td>concise</td><td>12</td><td>0.3</td><td>75.0%</td>"),
      std::string::npos)
      << section(html, "slices");
  std::string info = section(html, "informativeness");
  EXPECT_NE(
      info.find("<td><b>all pairs</b></td><td></td><td>40</td><td>55.0%</td><td>10.0%</td>"
                "<td>25.0%</td><td>-0.2</td><td>0.01</td><td>0.6</td><td>3.5</td>"),
      std::string::npos)
      << info;
  EXPECT_NE(info.find("<td>concise</td><td>12</td>"), std::string::npos) << info;
  // The band's share cell: a bar, then the share (10 of 40).
  const std::string band_row = "<td>ambiguous</td><td>10</td><td>";
  const size_t cell = info.find(band_row);
  ASSERT_NE(cell, std::string::npos) << info;
  const size_t begin = cell + band_row.size();
  const std::string share = info.substr(begin, info.find("</td>", begin) - begin);
  EXPECT_EQ(share.substr(share.size() - 6), " 25.0%") << share;
  EXPECT_EQ(section(html, "other").find("informativeness"), std::string::npos);
}

TEST(RunReportHtml, RunWithInformativenessJsonShowsItsSection) {
  // `dpo train` with a precomputed reference writes informativeness.json beside the metrics.
  testing::TempDir dir;
  write_run(dir, "run");
  EXPECT_TRUE(section(render_run_report_html(dir.file("run")), "informativeness").empty());
  json info = {
      {"pairs", 20},
      {"ranked_correctly_share", 0.8},
      {"easy_share", 0.6},
      {"ambiguous_share", 0.05},
      {"easy_margin", 0.5},
      {"ambiguous_margin", 0.02},
      {"margin_per_token", {{"p10", -0.1}, {"p50", 0.7}, {"p90", 2.4}}},
      {"mean_margin_summed", 9.5}};
  testing::write_file(dir.file("run/informativeness.json"), info.dump());
  std::string html = section(render_run_report_html(dir.file("run")), "informativeness");
  EXPECT_NE(
      html.find("<td><b>all pairs</b></td><td></td><td>20</td><td>80.0%</td><td>60.0%</td>"
                "<td>5.0%</td><td>-0.1</td><td>0.7</td><td>2.4</td><td>9.5</td>"),
      std::string::npos)
      << html;
}

TEST(RunReportHtml, CompareReportShowsEachSlicesVerdict) {
  testing::TempDir dir;
  json report = {
      {"kind", "compare"},
      {"regression", true},
      {"reasons", {"training: slice metadata.rubric=legal: held-out accuracy dropped by 0.350"}},
      {"warnings", {"small_slice: slice metadata.rubric=tiny: dropped"}},
      {"slices",
       {{"keys", {"metadata.rubric"}},
        {"noise_multiplier", 2.0},
        {"min_pairs", 20},
        {"comparisons",
         {{{"key", "metadata.rubric"},
           {"value", "legal"},
           {"pairs", 40},
           {"baseline_accuracy", 0.9},
           {"candidate_accuracy", 0.55},
           {"drop", 0.35},
           {"standard_error", 0.09984},
           {"allowed_drop", 0.1997},
           {"judged", true},
           {"regression", true},
           {"warning", false}},
          {{"key", "metadata.rubric"},
           {"value", "tiny"},
           {"pairs", 5},
           {"baseline_accuracy", 1.0},
           {"candidate_accuracy", 0.4},
           {"drop", 0.6},
           {"standard_error", 0.3},
           {"allowed_drop", 0.6},
           {"judged", false},
           {"regression", false},
           {"warning", true}}}}}}};
  testing::write_file(dir.file("compare.json"), report.dump());
  std::string html = render_run_report_html(dir.file("compare.json"));
  std::string slices = section(html, "slices");
  EXPECT_NE(
      slices.find("<td>legal</td><td>40</td><td>90.0%</td><td>55.0%</td><td>0.35</td>"
                  "<td>0.09984</td><td>0.1997</td><td><span class=\"badge fail\">REGRESSION"),
      std::string::npos)
      << slices;
  EXPECT_NE(slices.find("dropped; too few pairs to judge"), std::string::npos);
  EXPECT_NE(section(html, "verdict").find("warning: small_slice"), std::string::npos);
}

}  // namespace
}  // namespace dpo
