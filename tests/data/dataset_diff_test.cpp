#include "data/dataset_diff.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include <nlohmann/json.hpp>

#include "tests/support/test_support.h"

namespace dpo {
namespace {

using nlohmann::json;

struct Row {
  std::string id;  // empty: no id field
  std::string prompt, chosen, rejected;
};

// Distinct clean rows; the chosen is longer in every other row (no length bias).
std::vector<Row> make_rows(int n, bool with_ids) {
  std::vector<Row> rows;
  for (int i = 0; i < n; ++i) {
    Row r;
    if (with_ids)
      r.id = "pair-" + std::to_string(i);
    r.prompt = "Question " + std::to_string(i) + ": where is my order number " +
               std::to_string(1000 + i) + "?";
    std::string good = "Please share your order number " + std::to_string(i) + " so I can check.";
    std::string bad = "No idea, ask someone else about order " + std::to_string(i) + ".";
    r.chosen = i % 2 == 0 ? good + " Thanks for waiting." : good;
    r.rejected = i % 2 == 0 ? bad : bad + " Try the shop, or the web site.";
    rows.push_back(r);
  }
  return rows;
}

std::string to_jsonl(const std::vector<Row>& rows) {
  std::string text;
  for (const Row& r : rows) {
    json j = {{"prompt", r.prompt}, {"chosen", r.chosen}, {"rejected", r.rejected}};
    if (!r.id.empty())
      j["id"] = r.id;
    text += j.dump() + "\n";
  }
  return text;
}

struct Versions {
  testing::TempDir dir;
  std::string base, cand;
  Versions(const std::vector<Row>& a, const std::vector<Row>& b) {
    base = dir.file("v1.jsonl");
    cand = dir.file("v2.jsonl");
    testing::write_file(base, to_jsonl(a));
    testing::write_file(cand, to_jsonl(b));
  }
  DatasetDiff diff(const DatasetDiffOptions& options = {}) const {
    return diff_datasets({base}, {cand}, options);
  }
};

void expect_balanced(const DatasetDiff& d) {
  const PairDiff& p = d.pairs;
  EXPECT_EQ(
      p.baseline_pairs,
      p.unchanged.count + p.changed.count + p.label_flips.count + p.removed.count);
  EXPECT_EQ(
      p.candidate_pairs, p.unchanged.count + p.changed.count + p.label_flips.count + p.added.count);
  EXPECT_EQ(
      p.matched_by_id + p.matched_by_prompt,
      p.unchanged.count + p.changed.count + p.label_flips.count);
}

TEST(DatasetDiff, IdenticalFilesHaveNoChange) {
  for (bool with_ids : {true, false}) {
    std::vector<Row> rows = make_rows(40, with_ids);
    Versions v(rows, rows);
    DatasetDiff d = v.diff();
    expect_balanced(d);
    EXPECT_EQ(d.pairs.unchanged.count, 40u);
    EXPECT_EQ(d.pairs.added.count + d.pairs.removed.count + d.pairs.changed.count, 0u);
    EXPECT_EQ(d.pairs.label_flips.count, 0u);
    EXPECT_EQ(d.pairs.matched_by_id, with_ids ? 40u : 0u);
    EXPECT_EQ(d.pairs.matched_by_prompt, with_ids ? 0u : 40u);
    EXPECT_FALSE(d.data_regression);
    EXPECT_TRUE(d.reasons.empty());
    for (const NumberDelta& n : d.counts)
      EXPECT_EQ(n.delta(), 0.0) << n.name;
    for (const IssueDelta& i : d.issues)
      EXPECT_EQ(i.baseline, i.candidate);
  }
}

TEST(DatasetDiff, ShuffledCopyIsUnchanged) {
  std::vector<Row> rows = make_rows(50, false);
  std::vector<Row> shuffled = rows;
  std::mt19937 rng(7);
  std::shuffle(shuffled.begin(), shuffled.end(), rng);
  Versions v(rows, shuffled);
  DatasetDiff d = v.diff();
  EXPECT_EQ(d.pairs.unchanged.count, 50u);
  EXPECT_EQ(d.pairs.changed.count + d.pairs.label_flips.count, 0u);
  EXPECT_FALSE(d.data_regression);
}

TEST(DatasetDiff, ThirtyPercentLabelFlipsAreCountedExactly) {
  for (bool with_ids : {true, false}) {
    std::vector<Row> rows = make_rows(40, with_ids);
    std::vector<Row> flipped = rows;
    uint64_t expected = 0;
    for (size_t i = 0; i < flipped.size(); ++i) {
      if (i % 10 < 3) {
        std::swap(flipped[i].chosen, flipped[i].rejected);
        ++expected;
      }
    }
    ASSERT_EQ(expected, 12u);  // 30% of 40
    Versions v(rows, flipped);
    DatasetDiff d = v.diff();
    expect_balanced(d);
    EXPECT_EQ(d.pairs.label_flips.count, expected);
    EXPECT_EQ(d.pairs.unchanged.count, 40u - expected);
    EXPECT_EQ(d.pairs.changed.count, 0u);
    // The first example is the first flipped row (line 1 in both versions).
    ASSERT_FALSE(d.pairs.label_flips.examples.empty());
    const PairDiffExample& e = d.pairs.label_flips.examples[0];
    EXPECT_EQ(e.baseline.line, 1u);
    EXPECT_EQ(e.candidate.line, 1u);
    EXPECT_EQ(e.baseline.file, v.base);
    EXPECT_EQ(e.candidate.file, v.cand);
    EXPECT_EQ(e.matched_by, with_ids ? "id" : "prompt");
    if (with_ids) {
      EXPECT_EQ(e.candidate.id, "pair-0");
    }
    // Flips are not validation errors: the data half alone does not regress by default...
    EXPECT_FALSE(d.data_regression);
    // ...unless a flip fraction is configured.
    DatasetDiffOptions strict;
    strict.thresholds.max_label_flip_fraction = 0.1;
    DatasetDiff s = v.diff(strict);
    EXPECT_TRUE(s.data_regression);
    ASSERT_EQ(s.reasons.size(), 1u);
    EXPECT_NE(s.reasons[0].find("12 of 40"), std::string::npos) << s.reasons[0];
  }
}

TEST(DatasetDiff, AddedAndRemovedRowsWithTheirLines) {
  std::vector<Row> rows = make_rows(40, true);
  std::vector<Row> base(rows.begin(), rows.begin() + 30);  // pairs 0..29
  std::vector<Row> cand(rows.begin() + 10, rows.end());    // pairs 10..39
  Versions v(base, cand);
  DatasetDiff d = v.diff();
  expect_balanced(d);
  EXPECT_EQ(d.pairs.removed.count, 10u);
  EXPECT_EQ(d.pairs.added.count, 10u);
  EXPECT_EQ(d.pairs.unchanged.count, 20u);
  ASSERT_FALSE(d.pairs.removed.examples.empty());
  EXPECT_EQ(d.pairs.removed.examples[0].baseline.line, 1u);
  EXPECT_EQ(d.pairs.removed.examples[0].baseline.id, "pair-0");
  EXPECT_FALSE(d.pairs.removed.examples[0].has_candidate);
  ASSERT_FALSE(d.pairs.added.examples.empty());
  EXPECT_EQ(d.pairs.added.examples[0].candidate.line, 21u);  // pair-30 is line 21 of v2
  EXPECT_EQ(d.pairs.added.examples[0].candidate.id, "pair-30");
  EXPECT_FALSE(d.pairs.added.examples[0].has_baseline);
  // Examples are capped.
  DatasetDiffOptions few;
  few.max_examples = 3;
  DatasetDiff capped = v.diff(few);
  EXPECT_EQ(capped.pairs.added.count, 10u);
  EXPECT_EQ(capped.pairs.added.examples.size(), 3u);
  // The counts deltas follow the files.
  auto rows_delta = std::find_if(
      d.counts.begin(), d.counts.end(), [](const NumberDelta& n) { return n.name == "rows"; });
  ASSERT_NE(rows_delta, d.counts.end());
  EXPECT_EQ(rows_delta->baseline, 30.0);
  EXPECT_EQ(rows_delta->candidate, 30.0);
}

TEST(DatasetDiff, MatchedByIdEvenWhenThePromptChanged) {
  std::vector<Row> base = make_rows(10, true);
  std::vector<Row> cand = base;
  cand[3].prompt = "A rewritten question about order 1003?";
  cand[5].chosen = "A different, better answer about order five.";
  Versions v(base, cand);
  DatasetDiff d = v.diff();
  expect_balanced(d);
  EXPECT_EQ(d.pairs.matched_by_id, 10u);
  EXPECT_EQ(d.pairs.changed.count, 2u);
  EXPECT_EQ(d.pairs.unchanged.count, 8u);
  ASSERT_EQ(d.pairs.changed.examples.size(), 2u);
  EXPECT_EQ(d.pairs.changed.examples[0].candidate.id, "pair-3");
  EXPECT_EQ(d.pairs.changed.examples[0].matched_by, "id");
}

TEST(DatasetDiff, MatchedByPromptWithoutIds) {
  std::vector<Row> base = make_rows(10, false);
  std::vector<Row> cand = base;
  cand[5].chosen = "A different, better answer about order five.";
  // Whitespace and case do not change the prompt key.
  cand[2].prompt = "  QUESTION 2:   where is my order number 1002?  ";
  cand[7].prompt = "A brand new question?";  // a new prompt: removed + added
  Versions v(base, cand);
  DatasetDiff d = v.diff();
  expect_balanced(d);
  EXPECT_EQ(d.pairs.matched_by_id, 0u);
  EXPECT_EQ(d.pairs.matched_by_prompt, 9u);
  EXPECT_EQ(d.pairs.changed.count, 1u);
  EXPECT_EQ(d.pairs.changed.examples[0].candidate.line, 6u);
  EXPECT_EQ(d.pairs.changed.examples[0].matched_by, "prompt");
  EXPECT_EQ(d.pairs.unchanged.count, 8u);
  EXPECT_EQ(d.pairs.added.count, 1u);
  EXPECT_EQ(d.pairs.removed.count, 1u);
  EXPECT_EQ(d.pairs.added.examples[0].candidate.line, 8u);
}

TEST(DatasetDiff, IdsDecideWhenBothHaveThemElsePromptsDo) {
  std::vector<Row> base = make_rows(4, true);
  std::vector<Row> cand = base;
  cand[0].id = "renamed-0";  // both have ids, different ones: not the same pair
  cand[1].id = "";           // the candidate dropped the id: matched by prompt
  Versions v(base, cand);
  DatasetDiff d = v.diff();
  expect_balanced(d);
  EXPECT_EQ(d.pairs.matched_by_id, 2u);
  EXPECT_EQ(d.pairs.matched_by_prompt, 1u);
  EXPECT_EQ(d.pairs.unchanged.count, 3u);
  EXPECT_EQ(d.pairs.added.count, 1u);
  EXPECT_EQ(d.pairs.added.examples[0].candidate.id, "renamed-0");
  EXPECT_EQ(d.pairs.removed.count, 1u);
  EXPECT_EQ(d.pairs.removed.examples[0].baseline.id, "pair-0");
}

TEST(DatasetDiff, DuplicatePromptsPairIdenticalCopiesFirst) {
  // Two pairs share a prompt; the candidate lists them in the other order and flips neither.
  std::vector<Row> base = make_rows(2, false);
  base[1].prompt = base[0].prompt;
  std::vector<Row> cand = {base[1], base[0]};
  Versions v(base, cand);
  DatasetDiff d = v.diff();
  EXPECT_EQ(d.pairs.unchanged.count, 2u);
  EXPECT_EQ(d.pairs.changed.count, 0u);
}

TEST(DatasetDiff, NewErrorsAreADataRegression) {
  std::vector<Row> base = make_rows(20, true);
  std::vector<Row> cand = base;
  cand[4].chosen = "";                // empty_chosen
  cand[9].rejected = cand[9].chosen;  // chosen_equals_rejected
  Versions v(base, cand);
  DatasetDiff d = v.diff();
  EXPECT_TRUE(d.data_regression);
  ASSERT_EQ(d.reasons.size(), 2u);
  EXPECT_NE(d.reasons[0].find("empty_chosen"), std::string::npos) << d.reasons[0];
  EXPECT_NE(d.reasons[1].find("chosen_equals_rejected"), std::string::npos) << d.reasons[1];
  // The rejected rows are not pairs of the candidate: they count as removed.
  EXPECT_EQ(d.pairs.removed.count, 2u);
  EXPECT_EQ(d.candidate.rejected, 2u);
  auto rejected = std::find_if(
      d.counts.begin(), d.counts.end(), [](const NumberDelta& n) { return n.name == "rejected"; });
  ASSERT_NE(rejected, d.counts.end());
  EXPECT_EQ(rejected->delta(), 2.0);

  // A tolerance of two errors per code lets it pass; fewer errors never regress.
  DatasetDiffOptions tolerant;
  tolerant.thresholds.allowed_error_increase = 2;
  EXPECT_FALSE(v.diff(tolerant).data_regression);
  Versions reversed(cand, base);
  EXPECT_FALSE(reversed.diff().data_regression);
}

TEST(DatasetDiff, WarningsRegressOnlyWhenAsked) {
  std::vector<Row> base = make_rows(10, true);
  std::vector<Row> cand = base;
  cand.push_back(base[2]);  // duplicate_pair (a warning)
  cand.back().id = "pair-dup";
  Versions v(base, cand);
  EXPECT_FALSE(v.diff().data_regression);
  DatasetDiffOptions options;
  options.thresholds.include_warnings = true;
  DatasetDiff d = v.diff(options);
  EXPECT_TRUE(d.data_regression);
  ASSERT_EQ(d.reasons.size(), 1u);
  EXPECT_NE(d.reasons[0].find("duplicate_pair"), std::string::npos);
}

TEST(DatasetDiff, MetadataBalanceDeltasCoverBothVersions) {
  testing::TempDir dir;
  std::string a = dir.file("a.jsonl"), b = dir.file("b.jsonl");
  std::vector<Row> rows = make_rows(4, true);
  auto write = [&](const std::string& path, const std::vector<std::string>& sources) {
    std::string text;
    for (size_t i = 0; i < rows.size(); ++i) {
      json j = {
          {"id", rows[i].id},
          {"prompt", rows[i].prompt},
          {"chosen", rows[i].chosen},
          {"rejected", rows[i].rejected},
          {"metadata", {{"source", sources[i]}}}};
      text += j.dump() + "\n";
    }
    testing::write_file(path, text);
  };
  write(a, {"web", "web", "web", "mail"});
  write(b, {"web", "chat", "chat", "chat"});
  DatasetDiff d = diff_datasets({a}, {b});
  ASSERT_EQ(d.balance.size(), 3u);  // chat, mail, web (sorted)
  EXPECT_EQ(d.balance[0].value, "chat");
  EXPECT_EQ(d.balance[0].baseline_pairs, 0u);
  EXPECT_EQ(d.balance[0].candidate_pairs, 3u);
  EXPECT_EQ(d.balance[1].value, "mail");
  EXPECT_EQ(d.balance[1].candidate_pairs, 0u);
  EXPECT_EQ(d.balance[2].baseline_pairs, 3u);
  EXPECT_EQ(d.balance[2].candidate_pairs, 1u);
  EXPECT_EQ(d.pairs.unchanged.count, 4u);  // metadata is not part of a pair's identity
}

// The age shift between versions: median age of each version's dated pairs against one
// reference date. Baseline ages 100, 200, 300 days (median 200); candidate 10, 20, 30, 40
// (median 25): the candidate is 175 days fresher.
TEST(DatasetDiff, AgeShiftBetweenVersions) {
  testing::TempDir dir;
  const double as_of = 1733011200.0;  // 2024-12-01
  auto write = [&](const std::string& path, const std::vector<int>& ages) {
    std::vector<Row> rows = make_rows(static_cast<int>(ages.size()), true);
    std::string text;
    for (size_t i = 0; i < rows.size(); ++i) {
      json j = {
          {"id", rows[i].id},
          {"prompt", rows[i].prompt},
          {"chosen", rows[i].chosen},
          {"rejected", rows[i].rejected},
          {"metadata", {{"timestamp", static_cast<int64_t>(as_of) - ages[i] * 86400}}}};
      text += j.dump() + "\n";
    }
    testing::write_file(path, text);
  };
  write(dir.file("a.jsonl"), {300, 100, 200});
  write(dir.file("b.jsonl"), {40, 10, 30, 20});
  DatasetDiffOptions options;
  options.validate.provenance.as_of = as_of;
  DatasetDiff d = diff_datasets({dir.file("a.jsonl")}, {dir.file("b.jsonl")}, options);
  ASSERT_TRUE(d.age_shift.present);
  EXPECT_DOUBLE_EQ(d.age_shift.baseline_median_days, 200.0);
  EXPECT_DOUBLE_EQ(d.age_shift.candidate_median_days, 25.0);
  EXPECT_DOUBLE_EQ(d.age_shift.shift_days(), -175.0);
  EXPECT_EQ(d.age_shift.candidate_dated, 4u);
  json j = json::parse(dataset_diff_to_json(d));
  EXPECT_DOUBLE_EQ(j["age_shift"]["shift_days"].get<double>(), -175.0);
  EXPECT_NE(dataset_diff_summary(d).find("median age: 200 -> 25 days (-175)"), std::string::npos)
      << dataset_diff_summary(d);
  // Without timestamps in one version there is no shift to report.
  DatasetDiff undated = diff_datasets({dir.file("a.jsonl")}, {dir.file("a.jsonl")});
  EXPECT_TRUE(undated.age_shift.present);
  testing::write_file(dir.file("c.jsonl"), to_jsonl(make_rows(3, true)));
  DatasetDiff none = diff_datasets({dir.file("a.jsonl")}, {dir.file("c.jsonl")}, options);
  EXPECT_FALSE(none.age_shift.present);
  EXPECT_TRUE(json::parse(dataset_diff_to_json(none))["age_shift"]["shift_days"].is_null());
}

TEST(DatasetDiff, JsonHoldsPairsValidationDeltasAndVerdict) {
  std::vector<Row> base = make_rows(10, true);
  std::vector<Row> cand = base;
  std::swap(cand[1].chosen, cand[1].rejected);
  cand[6].chosen = "";
  Versions v(base, cand);
  DatasetDiff d = v.diff();
  json j = json::parse(dataset_diff_to_json(d));
  EXPECT_EQ(j["kind"], "dataset_diff");
  EXPECT_EQ(j["pairs"]["label_flips"]["count"], 1);
  EXPECT_EQ(j["pairs"]["label_flips"]["examples"][0]["candidate"]["line"], 2);
  EXPECT_EQ(j["pairs"]["label_flips"]["examples"][0]["baseline"]["id"], "pair-1");
  EXPECT_EQ(j["pairs"]["removed"]["count"], 1);
  EXPECT_EQ(j["validation"]["baseline"]["rows"], 10);
  EXPECT_EQ(j["validation"]["candidate"]["rejected"], 1);
  EXPECT_EQ(j["validation"]["deltas"]["counts"]["pairs_ok"]["delta"], -1.0);
  bool found = false;
  for (const json& issue : j["validation"]["deltas"]["issues"]) {
    if (issue["code"] == "empty_chosen") {
      found = true;
      EXPECT_EQ(issue["delta"], 1);
      EXPECT_EQ(issue["severity"], "error");
    }
  }
  EXPECT_TRUE(found);
  EXPECT_EQ(j["validation"]["deltas"]["issues"].size(), static_cast<size_t>(kIssueCodeCount));
  EXPECT_TRUE(j["data_regression"].get<bool>());
  EXPECT_EQ(j["reasons"].size(), 1u);
  EXPECT_EQ(j["thresholds"]["allowed_error_increase"], 0);
  EXPECT_NE(dataset_diff_summary(d).find("label flips 1"), std::string::npos);
}

}  // namespace
}  // namespace dpo
