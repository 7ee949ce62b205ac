// The pair keys shared by the validator's split and duplicate checks and by dpo compare's
// matching (data/pair_key.h): matching rules, pinned bytes, and one row giving one key in both.
#include "data/pair_key.h"

#include <gtest/gtest.h>

#include <map>

#include <nlohmann/json.hpp>

#include "data/dataset_diff.h"
#include "data/dataset_split.h"
#include "data/preference_row.h"
#include "data/validator.h"
#include "tests/support/test_support.h"

namespace dpo {
namespace {

using Messages = std::vector<Message>;

TEST(PairKey, PromptKeyFoldsAsciiWhitespaceAndCaseOnly) {
  PairKeyHasher keys;
  const Hash128 plain = keys.prompt_key({{"user", "where is my order?"}});
  // Runs of ASCII whitespace are one space, the ends are trimmed, ASCII letters lower-cased.
  EXPECT_EQ(keys.prompt_key({{"user", "  Where is\tMY\n\n order?\r\n"}}), plain);
  EXPECT_EQ(keys.prompt_key({{"user", "WHERE IS MY ORDER?"}}), plain);
  // Anything else is part of the key: punctuation, non-ASCII case, NBSP, the role.
  EXPECT_NE(keys.prompt_key({{"user", "where is my order"}}), plain);
  EXPECT_NE(keys.prompt_key({{"user", "Émile"}}), keys.prompt_key({{"user", "émile"}}));
  EXPECT_NE(
      keys.prompt_key(
          {{"user",
            "a\xC2\xA0"
            "b"}}),
      keys.prompt_key({{"user", "a b"}}));
  EXPECT_NE(keys.prompt_key({{"system", "where is my order?"}}), plain);
  // Message boundaries count: ("ab", "c") is not ("a", "bc").
  EXPECT_NE(
      keys.prompt_key({{"user", "ab"}, {"user", "c"}}),
      keys.prompt_key({{"user", "a"}, {"user", "bc"}}));
}

TEST(PairKey, CompletionHashTrimsTheEndsAndKeepsTheRest) {
  PairKeyHasher keys;
  const Hash128 plain = keys.completion_hash({{"assistant", "It ships today."}});
  EXPECT_EQ(keys.completion_hash({{"assistant", " \n It ships today.\t "}}), plain);
  EXPECT_NE(keys.completion_hash({{"assistant", "it ships today."}}), plain);
  EXPECT_NE(keys.completion_hash({{"assistant", "It  ships today."}}), plain);
  EXPECT_NE(keys.completion_hash({{"tool", "It ships today."}}), plain);
}

TEST(PairKey, BytesArePinnedBecauseTheSplitDependsOnThem) {
  // Computed by the validator's own key functions before they moved here (commit f99e6cc): the
  // held-out split of every prepared file depends on these exact digests.
  PairKeyHasher keys;
  PreferenceRow row;
  row.prompt = {{"system", "Be brief."}, {"user", "Where is my order?"}};
  row.chosen = {{"assistant", "It ships today."}};
  row.rejected = {{"assistant", "No idea."}};
  const PairHashes h = keys.hashes(row);
  EXPECT_EQ(h.prompt.hex(), "d884632cce5d72c8f2b03776d0dfe0bd");
  EXPECT_EQ(h.chosen.hex(), "2c4cc292a8fe35039404ab8d5cc6b584");
  EXPECT_EQ(h.rejected.hex(), "5af1fc0188f3f15fd345edcf78e8003c");
  EXPECT_EQ(pair_key(h.prompt, h.chosen, h.rejected).hex(), "9281a41c2d8f172ed42ec780dc1cd8bd");
  // The pair key is ordered: a label flip is another key.
  EXPECT_NE(pair_key(h.prompt, h.rejected, h.chosen), pair_key(h.prompt, h.chosen, h.rejected));
  // The hasher keeps no state between rows.
  EXPECT_EQ(keys.hashes(row).prompt, h.prompt);
}

// Rows as JSONL; `variant` rewrites each prompt in whitespace and case only.
std::string rows_jsonl(int n, bool variant) {
  std::string text;
  for (int i = 0; i < n; ++i) {
    std::string prompt = "Where is order " + std::to_string(1000 + i) + "? It was due Monday.";
    if (variant) {
      prompt = "  WHERE  is order\n" + std::to_string(1000 + i) + "?\tit was DUE monday. ";
    }
    nlohmann::json row = {
        {"prompt", prompt},
        {"chosen", "Order " + std::to_string(1000 + i) + " left the warehouse this morning."},
        {"rejected", i % 2 ? "No idea." : "Ask the courier about it, they should know more."}};
    text += row.dump() + "\n";
  }
  return text;
}

TEST(PairKey, OneRowGivesOneKeyInTheSplitAndInCompare) {
  testing::TempDir dir;
  const std::string base = dir.file("v1.jsonl");
  const std::string variant = dir.file("v2.jsonl");
  testing::write_file(base, rows_jsonl(60, false));
  testing::write_file(variant, rows_jsonl(60, true));

  ValidateOptions options;
  options.val_fraction = 0.3;
  options.seed = 11;
  // The validator's split is split_for_prompt of this module's prompt key, row by row; the
  // whitespace/case variant of each prompt lands in the same split.
  std::map<uint64_t, Split> base_splits;
  for (const std::string& file : {base, variant}) {
    PairKeyHasher keys;
    int held_out = 0;
    auto check = [&](const PreferenceRow& row, const RowLocation& where, Split split) {
      const Hash128 key = keys.prompt_key(row.prompt);
      EXPECT_EQ(split, split_for_prompt(key, options.seed, options.val_fraction)) << where.line;
      if (file == base) {
        base_splits[where.line] = split;
      } else {
        EXPECT_EQ(split, base_splits.at(where.line)) << where.line;
      }
      held_out += split == Split::val;
    };
    validate_files({file}, options, check);
    EXPECT_GT(held_out, 0);
    EXPECT_LT(held_out, 60);
  }

  // dpo compare matches every pair of the variant to its row by the same prompt key.
  DatasetDiff diff = diff_datasets({base}, {variant});
  EXPECT_EQ(diff.pairs.matched_by_prompt, 60u);
  EXPECT_EQ(diff.pairs.unchanged.count, 60u);
  EXPECT_EQ(diff.pairs.added.count + diff.pairs.removed.count + diff.pairs.changed.count, 0u);
}

}  // namespace
}  // namespace dpo
