// Slices, reviewer agreement, AI judgments and ages in `dpo validate` (data/provenance.h), and
// the warnings that must not fire on healthy data.
#include "data/provenance.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "data/pair_key.h"
#include "data/row_fields.h"
#include "data/row_parser.h"
#include "data/validator.h"
#include "tests/support/test_support.h"

namespace dpo {
namespace {

using nlohmann::json;

// A standard-format row as one JSONL line, with optional metadata and extra fields.
std::string row(
    const std::string& prompt,
    const std::string& chosen,
    const std::string& rejected,
    json metadata = json(),
    json extra = json::object()) {
  json j = {{"prompt", prompt}, {"chosen", chosen}, {"rejected", rejected}};
  if (!metadata.is_null())
    j["metadata"] = metadata;
  for (auto& [k, v] : extra.items())
    j[k] = v;
  return j.dump() + "\n";
}

ValidationReport validate_text(const std::string& text, ValidateOptions options = {}) {
  testing::TempDir dir;
  testing::write_file(dir.file("data.jsonl"), text);
  return validate_files({dir.file("data.jsonl")}, options);
}

const SliceStats& slice(const ValidationReport& r, size_t key, const std::string& value) {
  for (const auto& [name, stats] : r.slices.at(key).values) {
    if (name == value)
      return stats;
  }
  throw std::runtime_error("no slice value " + value);
}

const ReviewerStats& reviewer(const ValidationReport& r, const std::string& name) {
  for (const ReviewerStats& s : r.reviewers) {
    if (s.reviewer == name)
      return s;
  }
  throw std::runtime_error("no reviewer " + name);
}

// The two responses of a comparison in the order the validator labels them: a judgment that
// chooses `.first` is labelled "first" (hash order of the trimmed completions).
std::pair<std::string, std::string> hash_order(const std::string& x, const std::string& y) {
  RowParser parser(DataFormat::standard, FieldNames{});
  PreferenceRow parsed;
  std::vector<RowError> errors;
  std::string line = json{{"prompt", "p"}, {"chosen", x}, {"rejected", y}}.dump();
  line.append(64, ' ');  // the parser reads padding past the record
  EXPECT_TRUE(parser.parse(std::string_view(line.data(), line.size() - 64), parsed, errors));
  PairKeyHasher keys;
  PairHashes h = keys.hashes(parsed);
  bool x_first = h.chosen.high != h.rejected.high ? h.chosen.high < h.rejected.high
                                                  : h.chosen.low < h.rejected.low;
  return x_first ? std::make_pair(x, y) : std::make_pair(y, x);
}

// A judgment of comparison `item` by `reviewer`: label 0 chooses the first response in hash
// order, 1 the second.
std::string judgment(int item, const std::string& who, int label, json more = json::object()) {
  auto [first, second] = hash_order(
      "Answer A to question " + std::to_string(item) + ", with details.",
      "Answer B to question " + std::to_string(item) + ".");
  json metadata = {{"reviewer", who}};
  for (auto& [k, v] : more.items())
    metadata[k] = v;
  return label == 0 ? row("question " + std::to_string(item), first, second, metadata)
                    : row("question " + std::to_string(item), second, first, metadata);
}

// ---- length bias: pairs of equal length are not a bias --------------------------------------

TEST(LengthBias, EqualLengthsAreCountedApartAndDoNotFire) {
  std::string text;
  for (int i = 0; i < 30; ++i)
    text += row("q" + std::to_string(i), "yes", "no!");  // 3 characters each
  ValidationReport r = validate_text(text);
  EXPECT_EQ(r.equal_length, 30u);
  EXPECT_EQ(r.chosen_longer, 0u);
  EXPECT_EQ(r.count(IssueCode::length_bias), 0u);
  EXPECT_NE(
      report_summary(r).find("all 30 pairs have responses of equal length"), std::string::npos)
      << report_summary(r);
}

TEST(LengthBias, FiresOnTheUnequalPairsOnly) {
  // 20 pairs of equal length and 20 whose chosen is longer: 100% of the unequal ones.
  std::string text;
  for (int i = 0; i < 20; ++i) {
    text += row("tie " + std::to_string(i), "yes", "no!");
    text += row("long " + std::to_string(i), "a long and detailed answer", "short");
  }
  ValidationReport r = validate_text(text);
  EXPECT_EQ(r.equal_length, 20u);
  EXPECT_DOUBLE_EQ(r.chosen_longer_fraction, 1.0);
  ASSERT_EQ(r.count(IssueCode::length_bias), 1u);
  const std::string& message =
      r.issues[static_cast<int>(IssueCode::length_bias)].examples[0].message;
  EXPECT_NE(message.find("100.0% of 20 pairs of unequal length"), std::string::npos) << message;
  EXPECT_NE(message.find("20 pairs of equal length left out"), std::string::npos) << message;
}

TEST(LengthBias, TooFewUnequalPairsCannotShowABias) {
  std::string text;
  for (int i = 0; i < 19; ++i)
    text += row("q" + std::to_string(i), "a long and detailed answer", "short");
  EXPECT_EQ(validate_text(text).count(IssueCode::length_bias), 0u);  // 19 < 20
  text += row("q19", "a long and detailed answer", "short");
  EXPECT_EQ(validate_text(text).count(IssueCode::length_bias), 1u);
}

// ---- other warnings, both ways --------------------------------------------------------------

TEST(NearIdentical, SilentOnShortDistinctAnswersAndFiresOnTrivialEdits) {
  std::string healthy = row("2+2?", "4", "5") + row("Capital of France?", "Paris", "Lyon") +
                        row("Is it safe?", "Yes.", "No.") +
                        row("The answer?", "The answer is 42.", "The answer is 43.");
  EXPECT_EQ(validate_text(healthy).count(IssueCode::near_identical_responses), 0u);
  std::string answer =
      "Thanks for reaching out. Your refund was approved and will reach your card in five to "
      "seven business days.";
  std::string bad = row("refund?", answer, answer + "!");
  EXPECT_EQ(validate_text(bad).count(IssueCode::near_identical_responses), 1u);
}

TEST(DuplicatePrompts, SeveralPairsPerPromptByDesignAreHealthy) {
  // Four ranked responses per prompt give six pairs: not duplicates, not conflicts. Lengths 15,
  // 8, 29, 13: the better answer is the longer one in 3 of the 6 pairs.
  std::string text;
  const char* answers[] = {
      "a decent answer", "ok, done", "a bad and long rambling reply", "no way, sorry"};
  for (int p = 0; p < 10; ++p) {
    for (int a = 0; a < 4; ++a) {
      for (int b = a + 1; b < 4; ++b)
        text += row("prompt " + std::to_string(p), answers[a], answers[b]);
    }
  }
  ValidationReport r = validate_text(text);
  EXPECT_EQ(r.pairs_ok, 60u);
  EXPECT_EQ(r.warnings, 0u);
  EXPECT_EQ(r.count(IssueCode::duplicate_pair), 0u);
  EXPECT_EQ(r.count(IssueCode::conflicting_pair), 0u);
  EXPECT_EQ(r.count(IssueCode::duplicate_prompt_across_splits), 0u);
  EXPECT_NEAR(r.prompt_duplication_rate, 1.0 - 10.0 / 60.0, 1e-12);
}

TEST(DuplicatePrompts, RepeatJudgmentsByAnotherReviewerAreCountedApart) {
  // Ten comparisons, four of them judged again by a second reviewer (one disagreeing), one
  // judged twice by the same reviewer: 15 pairs on 10 prompts. The four double annotations are
  // by design, so the rate is over the 11 other pairs: 1 - 10/11. The same reviewer's second
  // judgment is a duplicate, and stays in the rate.
  std::string text;
  for (int i = 0; i < 10; ++i)
    text += judgment(i, "alice", 0);
  for (int i = 0; i < 4; ++i)
    text += judgment(i, "bob", i == 3 ? 1 : 0);
  text += judgment(5, "alice", 0);
  ValidationReport r = validate_text(text);
  EXPECT_EQ(r.pairs_ok, 15u);
  EXPECT_EQ(r.unique_prompts, 10u);
  EXPECT_EQ(r.repeat_judgments, 4u);
  EXPECT_NEAR(r.prompt_duplication_rate, 1.0 - 10.0 / 11.0, 1e-12);
  EXPECT_EQ(r.count(IssueCode::duplicate_pair), 1u);
  EXPECT_NE(
      report_summary(r).find("4 repeat judgments of a comparison by another reviewer"),
      std::string::npos);
}

TEST(DuplicatePrompts, RowsWithoutAReviewerAreNeverRepeatJudgments) {
  // Without a reviewer field nothing tells a second judgment from a duplicate row.
  std::string text = row("q", "a long answer", "short") + row("q", "a long answer", "short");
  ValidationReport r = validate_text(text);
  EXPECT_EQ(r.repeat_judgments, 0u);
  EXPECT_NEAR(r.prompt_duplication_rate, 0.5, 1e-12);
}

// ---- several judgments of one comparison ----------------------------------------------------

TEST(Judgments, TwoReviewersDisagreeingIsNotAConflictingPair) {
  std::string text = judgment(1, "alice", 0) + judgment(1, "bob", 1);
  ValidationReport r = validate_text(text);
  EXPECT_EQ(r.count(IssueCode::conflicting_pair), 0u);
  ASSERT_EQ(r.count(IssueCode::reviewer_disagreement), 1u);
  const IssueExample& e = r.issues[static_cast<int>(IssueCode::reviewer_disagreement)].examples[0];
  EXPECT_EQ(e.line, 2u);
  EXPECT_NE(e.message.find("bob"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("alice"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find(":1"), std::string::npos) << e.message;
  EXPECT_EQ(r.agreement.items, 1u);
  EXPECT_EQ(r.agreement.disagreeing_items, 1u);
  // Listed with both judgments, in the report and its JSON.
  ASSERT_EQ(r.disagreements.size(), 1u);
  ASSERT_EQ(r.disagreements[0].judgments.size(), 2u);
  EXPECT_EQ(r.disagreements[0].judgments[0].reviewer, "alice");
  EXPECT_EQ(r.disagreements[0].judgments[0].label, "first");
  EXPECT_EQ(r.disagreements[0].judgments[1].line, 2u);
  EXPECT_EQ(r.disagreements[0].judgments[1].label, "second");
  json j = json::parse(report_to_json(r));
  EXPECT_EQ(j["agreement"]["disagreements"][0]["judgments"][1]["reviewer"], "bob");
}

TEST(Judgments, TwoReviewersAgreeingIsNotADuplicate) {
  ValidationReport r = validate_text(judgment(1, "alice", 0) + judgment(1, "bob", 0));
  EXPECT_EQ(r.count(IssueCode::duplicate_pair), 0u);
  EXPECT_EQ(r.warnings, 0u);
  EXPECT_EQ(r.agreement.items, 1u);
  EXPECT_EQ(r.agreement.disagreeing_items, 0u);
  EXPECT_TRUE(r.disagreements.empty());
}

// The line with a row id added.
std::string with_id(const std::string& line, const std::string& id) {
  json j = json::parse(line);
  j["id"] = id;
  return j.dump() + "\n";
}

TEST(Judgments, ListedDisagreementsCarryTheRowIdOfEveryJudgmentWithAReviewer) {
  std::string text = with_id(row("question 0", "Yes, with details.", "No."), "u-0");  // nobody's
  text += judgment(1, "carol", 0);                                                    // no id
  text += with_id(judgment(2, "alice", 0), "a-row-id-longer-than-15-characters");
  text += with_id(judgment(1, "dave", 1), "d-1");
  text += with_id(judgment(2, "bob", 1), "b-2");
  ValidationReport r = validate_text(text);
  ASSERT_EQ(r.disagreements.size(), 2u);
  // In the order their comparisons were first seen: question 1 (line 2), then question 2.
  ASSERT_EQ(r.disagreements[0].judgments.size(), 2u);
  EXPECT_EQ(r.disagreements[0].judgments[0].line, 2u);
  EXPECT_EQ(r.disagreements[0].judgments[0].id, "");
  EXPECT_EQ(r.disagreements[0].judgments[1].id, "d-1");
  ASSERT_EQ(r.disagreements[1].judgments.size(), 2u);
  EXPECT_EQ(r.disagreements[1].judgments[0].reviewer, "alice");
  EXPECT_EQ(r.disagreements[1].judgments[0].id, "a-row-id-longer-than-15-characters");
  EXPECT_EQ(r.disagreements[1].judgments[1].id, "b-2");
}

TEST(Judgments, OneReviewerOrNoneStillGivesDuplicatesAndConflicts) {
  ValidationReport same =
      validate_text(judgment(1, "alice", 0) + judgment(1, "alice", 1) + judgment(1, "alice", 0));
  EXPECT_EQ(same.count(IssueCode::conflicting_pair), 2u);  // rows 2 and 3 contradict each other
  EXPECT_EQ(same.count(IssueCode::duplicate_pair), 1u);    // row 3 repeats row 1
  EXPECT_EQ(same.count(IssueCode::reviewer_disagreement), 0u);
  EXPECT_EQ(same.agreement.items, 0u);  // one reviewer: nothing to agree on
  // A flip between a row with a reviewer and one without cannot be put on two reviewers.
  std::string anonymous = judgment(2, "alice", 0);
  std::string flipped = judgment(2, "x", 1);
  const std::string tag = ",\"metadata\":{\"reviewer\":\"x\"}";
  flipped.replace(flipped.find(tag), tag.size(), "");
  ValidationReport mixed = validate_text(anonymous + flipped);
  EXPECT_EQ(mixed.count(IssueCode::conflicting_pair), 1u);
  EXPECT_EQ(mixed.count(IssueCode::reviewer_disagreement), 0u);
}

// The Wikipedia table through the validator: 50 comparisons judged by reviewers A and B;
// 20 both first, 5 A first / B second, 10 A second / B first, 15 both second: kappa 0.4.
TEST(Judgments, CohenKappaForTwoReviewers) {
  std::string text;
  int item = 0;
  auto add = [&](int count, int a, int b) {
    for (int i = 0; i < count; ++i, ++item)
      text += judgment(item, "A", a) + judgment(item, "B", b);
  };
  add(20, 0, 0);
  add(5, 0, 1);
  add(10, 1, 0);
  add(15, 1, 1);
  ValidateOptions options;
  options.provenance.agreement_min_items = 10;
  ValidationReport r = validate_text(text, options);
  EXPECT_EQ(r.agreement.method, "cohen");
  EXPECT_EQ(r.agreement.items, 50u);
  EXPECT_EQ(r.agreement.judgments, 100u);
  EXPECT_EQ(r.agreement.disagreeing_items, 15u);
  EXPECT_NEAR(r.agreement.kappa, 0.4, 1e-12);
  EXPECT_EQ(r.count(IssueCode::reviewer_disagreement), 15u);
  ASSERT_EQ(r.count(IssueCode::low_agreement), 1u);  // 0.4 < 0.5
  EXPECT_STREQ(agreement_level(r.agreement, 0.7, 0.5), "weak");
  // Each reviewer agrees with the other (the majority of the others) on 35 of 50.
  EXPECT_EQ(reviewer(r, "A").majority_compared, 50u);
  EXPECT_EQ(reviewer(r, "A").majority_agrees, 35u);
  // With the warning threshold at 0.3 the same data is fine.
  options.provenance.agreement_warning = 0.3;
  EXPECT_EQ(validate_text(text, options).count(IssueCode::low_agreement), 0u);
}

// Three reviewers on four comparisons (label counts [3,0], [0,3], [2,1], [1,2]):
// P_i = 1, 1, 1/3, 1/3, P_bar = 2/3; p = (1/2, 1/2), P_e = 1/2; kappa = 1/3.
TEST(Judgments, FleissKappaForMoreReviewers) {
  const int labels[4][3] = {{0, 0, 0}, {1, 1, 1}, {0, 0, 1}, {1, 0, 1}};
  std::string text;
  for (int item = 0; item < 4; ++item) {
    for (int k = 0; k < 3; ++k)
      text += judgment(item, "r" + std::to_string(k), labels[item][k]);
  }
  ValidateOptions options;
  options.provenance.agreement_min_items = 5;
  ValidationReport r = validate_text(text, options);
  EXPECT_EQ(r.agreement.method, "fleiss");
  EXPECT_EQ(r.agreement.items, 4u);
  EXPECT_NEAR(r.agreement.observed, 2.0 / 3.0, 1e-12);
  EXPECT_NEAR(r.agreement.expected, 0.5, 1e-12);
  EXPECT_NEAR(r.agreement.kappa, 1.0 / 3.0, 1e-12);
  EXPECT_EQ(r.count(IssueCode::low_agreement), 0u);  // 4 items < 5: reported, not a warning
  options.provenance.agreement_min_items = 4;
  EXPECT_EQ(validate_text(text, options).count(IssueCode::low_agreement), 1u);
  // r2 against the other two: items 0 and 1 agree, item 2 (others 0, 0; r2 1) does not, item 3
  // has no majority among the others (1, 0) and is not counted.
  EXPECT_EQ(reviewer(r, "r2").majority_compared, 3u);
  EXPECT_EQ(reviewer(r, "r2").majority_agrees, 2u);
}

TEST(Judgments, AgreementPerSliceAndTiesAsACategory) {
  std::string text;
  for (int item = 0; item < 12; ++item) {
    json locale = {{"locale", item < 6 ? "en" : "de"}};
    // en: the two reviewers always agree; de: B calls every comparison a tie.
    text += judgment(item, "A", 0, locale);
    if (item < 6) {
      text += judgment(item, "B", 0, locale);
    } else {
      std::string tie = judgment(item, "B", 0, locale);
      tie.insert(tie.size() - 2, ",\"preference\":\"tie\"");
      text += tie;
    }
  }
  ValidateOptions options;
  options.provenance.slice_by = {"metadata.locale"};
  options.provenance.agreement_min_items = 6;
  ValidationReport r = validate_text(text, options);
  const SliceStats& en = slice(r, 0, "en");
  const SliceStats& de = slice(r, 0, "de");
  EXPECT_EQ(en.agreement.items, 6u);
  EXPECT_EQ(en.agreement.disagreeing_items, 0u);
  EXPECT_EQ(de.agreement.items, 6u);
  EXPECT_EQ(de.agreement.disagreeing_items, 6u);
  EXPECT_EQ(de.ties, 6u);
  EXPECT_EQ(de.pairs, 6u);
  // de: A always "first", B always "tie": p_o = 0, p_e = 0 (no shared label): kappa 0.
  EXPECT_NEAR(de.agreement.kappa, 0.0, 1e-12);
  EXPECT_EQ(r.count(IssueCode::low_agreement), 2u);          // de, and all reviewers together
  EXPECT_EQ(r.count(IssueCode::reviewer_disagreement), 0u);  // a tie is not the opposite choice
  EXPECT_DOUBLE_EQ(static_cast<double>(reviewer(r, "B").ties) / reviewer(r, "B").judgments, 0.5);
}

// ---- reviewers' length preference ------------------------------------------------------------

std::string reviewer_rows(const std::string& who, int n, int chosen_longer, int offset) {
  std::string text;
  for (int i = 0; i < n; ++i) {
    std::string q = who + " question " + std::to_string(offset + i);
    text += i < chosen_longer ? row(q, "a long and detailed answer", "short", {{"reviewer", who}})
                              : row(q, "short", "a long and detailed answer", {{"reviewer", who}});
  }
  return text;
}

TEST(Reviewers, ALengthPreferringReviewerIsFlagged) {
  // ann and bob: chosen longer in 50%; cid: 90% of 40 pairs. Others 50% of 80.
  std::string text = reviewer_rows("ann", 40, 20, 0) + reviewer_rows("bob", 40, 20, 100) +
                     reviewer_rows("cid", 40, 36, 200);
  ValidationReport r = validate_text(text);
  ASSERT_EQ(r.count(IssueCode::reviewer_length_preference), 1u);
  EXPECT_TRUE(reviewer(r, "cid").length_preference);
  EXPECT_FALSE(reviewer(r, "ann").length_preference);
  EXPECT_DOUBLE_EQ(reviewer(r, "cid").rest_chosen_longer, 0.5);
  // ann: others are bob (20 of 40) and cid (36 of 40): 56 / 80 = 0.7.
  EXPECT_DOUBLE_EQ(reviewer(r, "ann").rest_chosen_longer, 0.7);
  const std::string& message =
      r.issues[static_cast<int>(IssueCode::reviewer_length_preference)].examples[0].message;
  EXPECT_NE(
      message.find("reviewer cid chose the longer response in 90.0% of 40 pairs"),
      std::string::npos)
      << message;
}

TEST(Reviewers, SimilarReviewersAndSmallSamplesAreNotFlagged) {
  // 60% against 50%: a gap of 0.1 < 0.2.
  ValidationReport similar = validate_text(
      reviewer_rows("ann", 40, 20, 0) + reviewer_rows("bob", 40, 20, 100) +
      reviewer_rows("cid", 40, 24, 200));
  EXPECT_EQ(similar.count(IssueCode::reviewer_length_preference), 0u);
  // 100% of 10 pairs: too few (fewer than 20) to call it a preference.
  ValidationReport small = validate_text(
      reviewer_rows("ann", 40, 20, 0) + reviewer_rows("bob", 40, 20, 100) +
      reviewer_rows("cid", 10, 10, 200));
  EXPECT_EQ(small.count(IssueCode::reviewer_length_preference), 0u);
}

// ---- AI judgments ------------------------------------------------------------------------------

TEST(AiJudgments, CountedSlicedAndExcludedOnRequest) {
  std::string text;
  for (int i = 0; i < 6; ++i) {
    json metadata = {{"judge", i < 2 ? "AI" : "human"}};
    text += row("q" + std::to_string(i), "a fine answer", "bad", metadata);
  }
  ValidateOptions options;
  options.provenance.slice_by = {"metadata.judge"};
  ValidationReport r = validate_text(text, options);
  EXPECT_EQ(r.ai_judgments, 2u);
  EXPECT_EQ(r.ai_excluded, 0u);
  EXPECT_EQ(r.pairs_ok, 6u);
  EXPECT_EQ(slice(r, 0, "AI").ai_judgments, 2u);
  EXPECT_EQ(slice(r, 0, "human").pairs, 4u);

  testing::TempDir dir;
  testing::write_file(dir.file("d.jsonl"), text);
  options.provenance.exclude_ai_judgments = true;
  options.rejects_path = dir.file("rejects.jsonl");
  ValidationReport excluded = validate_files({dir.file("d.jsonl")}, options);
  EXPECT_EQ(excluded.ai_judgments, 2u);
  EXPECT_EQ(excluded.ai_excluded, 2u);
  EXPECT_EQ(excluded.pairs_ok, 4u);
  EXPECT_EQ(excluded.excluded, 2u);
  EXPECT_EQ(excluded.rows, excluded.pairs_ok + excluded.rejected + excluded.excluded);
  EXPECT_NE(
      testing::read_file(dir.file("rejects.jsonl")).find("excluded_ai_judgment"),
      std::string::npos);
}

// ---- slices ----------------------------------------------------------------------------------

TEST(Slices, CountsLengthBiasTiesAndLabelsPerValue) {
  std::string text;
  // en: 3 pairs, 2 chosen longer, 1 of equal length; 1 tie.
  text += row("e1", "a longer answer", "short", {{"locale", "en"}}, {{"source", "web"}});
  text += row("e2", "a longer answer", "short", {{"locale", "en"}}, {{"source", "app"}});
  text += row("e3", "same", "size", {{"locale", "en"}}, {{"source", "app"}});
  text += row("e4", "x one", "y two", {{"locale", "en"}}, {{"preference", "tie"}});
  // de: 2 pairs, rejected longer in both; 1 both-bad.
  text += row("d1", "short", "a longer answer", {{"locale", "de"}});
  text += row("d2", "short", "a longer answer", {{"locale", "de"}});
  text += row("d3", "x one", "y two", {{"locale", "de"}}, {{"preference", "both_bad"}});
  // no locale.
  text += row("n1", "a longer answer", "short");
  ValidateOptions options;
  options.provenance.slice_by = {"metadata.locale", "source"};
  ValidationReport r = validate_text(text, options);
  ASSERT_EQ(r.slices.size(), 2u);
  EXPECT_EQ(r.slices[0].key, "metadata.locale");
  const SliceStats& en = slice(r, 0, "en");
  EXPECT_EQ(en.judgments, 4u);
  EXPECT_EQ(en.pairs, 3u);
  EXPECT_EQ(en.chosen_longer, 2u);
  EXPECT_EQ(en.equal_length, 1u);
  EXPECT_EQ(en.ties, 1u);
  EXPECT_DOUBLE_EQ(chosen_longer_share(en.pairs, en.chosen_longer, en.equal_length), 1.0);
  const SliceStats& de = slice(r, 0, "de");
  EXPECT_EQ(de.pairs, 2u);
  EXPECT_EQ(de.chosen_longer, 0u);
  EXPECT_EQ(de.both_bad, 1u);
  EXPECT_EQ(slice(r, 0, "(none)").pairs, 1u);
  // A top-level field.
  EXPECT_EQ(slice(r, 1, "app").pairs, 2u);
  EXPECT_EQ(slice(r, 1, "web").pairs, 1u);
  EXPECT_EQ(slice(r, 1, "(none)").judgments, 5u);

  json j = json::parse(report_to_json(r));
  ASSERT_EQ(j["slices"].size(), 2u);
  EXPECT_EQ(j["slices"][0]["key"], "metadata.locale");
  bool found = false;
  for (const json& v : j["slices"][0]["values"]) {
    if (v["value"] == "en") {
      found = true;
      EXPECT_EQ(v["pairs"], 3);
      EXPECT_EQ(v["equal_length"], 1);
      EXPECT_EQ(v["ties"], 1);
      EXPECT_DOUBLE_EQ(v["share_of_pairs"].get<double>(), 3.0 / 6.0);
    }
  }
  EXPECT_TRUE(found);
  std::string summary = report_summary(r);
  EXPECT_NE(summary.find("slice: metadata.locale"), std::string::npos) << summary;
  EXPECT_NE(summary.find("slice: source"), std::string::npos) << summary;
}

TEST(Slices, NestedFieldsAreNamedWithDots) {
  // {"metadata": {"review": {"rubric": ...}}, "annotation": {"locale": ...}}
  std::string text;
  text +=
      row("q1",
          "a longer answer",
          "no",
          json{{"review", {{"rubric", "tone"}}}},
          json{{"annotation", {{"locale", "fr-FR"}}}});
  text +=
      row("q2",
          "a longer answer",
          "no",
          json{{"review", {{"rubric", "tone"}}}},
          json{{"annotation", {{"locale", "de-DE"}}}});
  text += row("q3", "a longer answer", "no", json{{"review", {{"rubric", "policy"}}}});
  ValidateOptions options;
  options.provenance.slice_by = {"metadata.review.rubric", "annotation.locale", "metadata.review"};
  ValidationReport r = validate_text(text, options);
  ASSERT_EQ(r.slices.size(), 3u);
  EXPECT_EQ(slice(r, 0, "tone").pairs, 2u);
  EXPECT_EQ(slice(r, 0, "policy").pairs, 1u);
  EXPECT_EQ(slice(r, 1, "fr-FR").pairs, 1u);
  EXPECT_EQ(slice(r, 1, "de-DE").pairs, 1u);
  EXPECT_EQ(slice(r, 1, "(none)").pairs, 1u);
  // An object is no value.
  EXPECT_EQ(slice(r, 2, "(none)").pairs, 3u);
}

TEST(Slices, SourceFileIsTheInputFile) {
  testing::TempDir dir;
  testing::write_file(dir.file("a.jsonl"), row("q1", "yes", "no") + row("q2", "yes", "no"));
  testing::write_file(dir.file("b.jsonl"), row("q3", "yes", "no"));
  ValidateOptions options;
  options.provenance.slice_by = {"source_file"};
  ValidationReport r = validate_files({dir.file("a.jsonl"), dir.file("b.jsonl")}, options);
  ASSERT_EQ(r.slices.size(), 1u);
  EXPECT_EQ(slice(r, 0, dir.file("a.jsonl")).pairs, 2u);
  EXPECT_EQ(slice(r, 0, dir.file("b.jsonl")).pairs, 1u);
}

TEST(Slices, FieldPathsAreChecked) {
  for (const char* good : {"metadata.rubric", "source", "metadata.review.rubric", "a.b"})
    EXPECT_NO_THROW(check_field_path(good, "--slice-by")) << good;
  for (const char* bad : {"", "metadata.", "metadata..b", "metadata.a.", ".a", "a.", "a..b"})
    EXPECT_THROW(check_field_path(bad, "--slice-by"), UsageError) << bad;
  ValidateOptions options;
  options.provenance.slice_by = {"metadata."};
  EXPECT_THROW(validate_text(row("q", "a", "b"), options), UsageError);
}

// ---- staleness -----------------------------------------------------------------------------

TEST(Staleness, AgesRelativeToAsOf) {
  ValidateOptions options;
  options.provenance.as_of = 1733011200.0;  // 2024-12-01
  options.provenance.slice_by = {"metadata.locale"};
  std::string text;
  text += row("a", "good one", "bad", {{"timestamp", "2024-11-21"}, {"locale", "en"}});  // 10 d
  text += row("b", "good one", "bad", {{"timestamp", "2024-11-11T00:00:00Z"}, {"locale", "en"}});
  text += row("c", "good one", "bad", {{"timestamp", 1733011200 - 400 * 86400}, {"locale", "de"}});
  text += row("d", "good one", "bad", {{"locale", "de"}});  // no timestamp
  ValidationReport r = validate_text(text, options);
  EXPECT_TRUE(r.has_timestamps);
  EXPECT_EQ(r.age.count, 3u);
  EXPECT_DOUBLE_EQ(r.age.min_days, 10.0);
  EXPECT_DOUBLE_EQ(r.age.median_days, 20.0);
  EXPECT_DOUBLE_EQ(r.age.max_days, 400.0);
  EXPECT_EQ(r.age.older_than_max, 1u);
  EXPECT_EQ(r.timestamps_missing, 1u);
  EXPECT_DOUBLE_EQ(slice(r, 0, "en").age.median_days, 15.0);  // (10 + 20) / 2
  EXPECT_EQ(slice(r, 0, "de").age.count, 1u);
  ASSERT_EQ(r.count(IssueCode::stale_pairs), 1u);
  // With a maximum of 500 days nothing is stale.
  options.provenance.max_age_days = 500;
  EXPECT_EQ(validate_text(text, options).count(IssueCode::stale_pairs), 0u);
  json j = json::parse(report_to_json(r));
  EXPECT_EQ(j["staleness"]["as_of"], "2024-12-01T00:00:00Z");
  EXPECT_DOUBLE_EQ(j["staleness"]["age_days"]["median"].get<double>(), 20.0);
}

TEST(Staleness, UnparseableAndFutureTimestampsAreReportedWithTheirLine) {
  ValidateOptions options;
  options.provenance.as_of = 1733011200.0;
  std::string text = row("a", "good one", "bad", {{"timestamp", "2024-11-21"}}) +
                     row("b", "good one", "bad", {{"timestamp", "last tuesday"}}) +
                     row("c", "good one", "bad", {{"timestamp", "2025-06-01"}});
  ValidationReport r = validate_text(text, options);
  EXPECT_EQ(r.timestamps_invalid, 2u);
  EXPECT_EQ(r.age.count, 1u);
  const IssueTally& tally = r.issues[static_cast<int>(IssueCode::invalid_timestamp)];
  ASSERT_EQ(tally.count, 2u);
  EXPECT_EQ(tally.examples[0].line, 2u);
  EXPECT_NE(tally.examples[0].message.find("last tuesday"), std::string::npos);
  EXPECT_EQ(tally.examples[1].line, 3u);
  EXPECT_NE(tally.examples[1].message.find("after the reference date"), std::string::npos);
  // Without the field, nothing about ages is reported or warned.
  ValidationReport none = validate_text(row("a", "good one", "bad"), options);
  EXPECT_FALSE(none.has_timestamps);
  EXPECT_EQ(none.warnings, 0u);
}

}  // namespace
}  // namespace dpo
