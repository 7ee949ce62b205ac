// BatchLoader: layout and padding, epoch coverage, length grouping, deterministic shuffles, and
// resuming from a saved position bit for bit.
#include "dataloader/batch_loader.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "core/error.h"
#include "dataloader/pair_encoder.h"

namespace dpo {
namespace {

// Pair i: prompt of 1 + i % 5 tokens, chosen of 1 + i % 7, rejected of 2 + i % 3; ids encode
// (pair, part) so any mix-up shows.
std::shared_ptr<PreparedSplit> make_split(int n) {
  auto split = std::make_shared<PreparedSplit>();
  for (int i = 0; i < n; ++i) {
    EncodedPair pair;
    for (int t = 0; t < 1 + i % 5; ++t)
      pair.prompt.push_back(1000 + i);
    for (int t = 0; t < 1 + i % 7; ++t)
      pair.chosen.push_back(2000 + i);
    for (int t = 0; t < 2 + i % 3; ++t)
      pair.rejected.push_back(3000 + i);
    split->add(pair, 0, i + 1, "p" + std::to_string(i));
  }
  return split;
}

BatchLoaderOptions options(int64_t batch_size, int64_t prefetch = 2) {
  BatchLoaderOptions o;
  o.batch_size = batch_size;
  o.seed = 1234;
  o.pad_id = -1;
  o.prefetch = prefetch;
  return o;
}

void expect_same_batch(const Batch& a, const Batch& b) {
  EXPECT_EQ(a.epoch, b.epoch);
  EXPECT_EQ(a.index, b.index);
  EXPECT_EQ(a.length, b.length);
  EXPECT_EQ(a.input_ids, b.input_ids);
  EXPECT_EQ(a.completion_mask, b.completion_mask);
  EXPECT_EQ(a.lengths, b.lengths);
  EXPECT_EQ(a.completion_start, b.completion_start);
  EXPECT_EQ(a.pair_indices, b.pair_indices);
  EXPECT_EQ(a.next, b.next);
}

TEST(PortableShuffle, UsesTheStandardGeneratorAndAnUnbiasedDraw) {
  // The C++ standard fixes mt19937_64's 10000th output for the default seed: the generator is
  // the same everywhere, and so is every shuffle built on it here.
  std::mt19937_64 standard;
  standard.discard(9999);
  EXPECT_EQ(standard(), 9981545732273789042ULL);

  std::mt19937_64 rng(7);
  std::vector<int> histogram(6, 0);
  for (int i = 0; i < 60000; ++i) {
    uint64_t x = uniform_below(rng, 6);
    ASSERT_LT(x, 6u);
    ++histogram[x];
  }
  for (int count : histogram)
    EXPECT_NEAR(count, 10000, 500);

  std::vector<int64_t> a(50), b(50);
  for (int i = 0; i < 50; ++i)
    a[i] = b[i] = i;
  std::mt19937_64 r1(99), r2(99);
  portable_shuffle(a, r1);
  portable_shuffle(b, r2);
  EXPECT_EQ(a, b);
  std::vector<int64_t> sorted = a;
  std::sort(sorted.begin(), sorted.end());
  for (int i = 0; i < 50; ++i)
    EXPECT_EQ(sorted[i], i);
  EXPECT_NE(a, sorted);
}

TEST(BatchLoader, BatchLayoutChosenRowsThenRejectedRows) {
  auto split = make_split(10);
  BatchLoaderOptions o = options(4, 0);
  o.shuffle = false;
  o.group_batches = 1;
  BatchLoader loader(split, o);
  Batch batch = loader.next();
  ASSERT_EQ(batch.pairs, 4);
  EXPECT_EQ(batch.pair_indices, (std::vector<int64_t>{0, 1, 2, 3}));
  // Longest row: pair 3, prompt 4 + chosen 4 = 8 -> T = 8 (already a multiple of 8).
  int64_t longest = 0;
  for (int64_t i : batch.pair_indices) {
    longest = std::max({longest, split->chosen_length(i), split->rejected_length(i)});
  }
  EXPECT_EQ(batch.length, (longest + 7) / 8 * 8);
  ASSERT_EQ(batch.input_ids.size(), static_cast<size_t>(2 * 4 * batch.length));
  for (int64_t row = 0; row < 2 * batch.pairs; ++row) {
    const bool chosen = row < batch.pairs;
    const size_t pair = static_cast<size_t>(batch.pair_indices[row % batch.pairs]);
    PairTokens tokens = split->pair(pair);
    IdSpan completion = chosen ? tokens.chosen : tokens.rejected;
    const int32_t* ids = batch.input_ids.data() + row * batch.length;
    const uint8_t* mask = batch.completion_mask.data() + row * batch.length;
    EXPECT_EQ(batch.completion_start[row], static_cast<int32_t>(tokens.prompt.size));
    EXPECT_EQ(batch.lengths[row], static_cast<int32_t>(tokens.prompt.size + completion.size));
    for (int64_t t = 0; t < batch.length; ++t) {
      int32_t expected = -1;  // pad
      if (t < static_cast<int64_t>(tokens.prompt.size)) {
        expected = tokens.prompt[t];
      } else if (t < batch.lengths[row]) {
        expected = completion[t - tokens.prompt.size];
      }
      EXPECT_EQ(ids[t], expected) << "row " << row << " t " << t;
      EXPECT_EQ(mask[t], t >= batch.completion_start[row] && t < batch.lengths[row]);
    }
  }
  // 10 pairs in batches of 4: 4, 4, 2.
  EXPECT_EQ(loader.batches_per_epoch(), 3);
  loader.next();
  Batch last = loader.next();
  EXPECT_EQ(last.pairs, 2);
  EXPECT_EQ(last.next, (BatchPosition{1, 0}));
}

TEST(BatchLoader, EveryPairOnceAnEpochInADifferentOrderEachEpoch) {
  auto split = make_split(103);
  BatchLoader loader(split, options(8));
  std::vector<int64_t> first, second;
  for (int64_t b = 0; b < loader.batches_per_epoch(); ++b) {
    Batch batch = loader.next();
    EXPECT_EQ(batch.epoch, 0);
    EXPECT_EQ(batch.length % 8, 0);
    first.insert(first.end(), batch.pair_indices.begin(), batch.pair_indices.end());
  }
  EXPECT_EQ(loader.position(), (BatchPosition{1, 0}));
  for (int64_t b = 0; b < loader.batches_per_epoch(); ++b) {
    Batch batch = loader.next();
    EXPECT_EQ(batch.epoch, 1);
    second.insert(second.end(), batch.pair_indices.begin(), batch.pair_indices.end());
  }
  EXPECT_EQ(std::set<int64_t>(first.begin(), first.end()).size(), 103u);
  EXPECT_EQ(first.size(), 103u);
  EXPECT_EQ(std::set<int64_t>(second.begin(), second.end()).size(), 103u);
  EXPECT_NE(first, second);

  // Another seed, another order; drop_last leaves out the partial batch.
  BatchLoaderOptions o = options(8);
  o.seed = 99;
  o.drop_last = true;
  BatchLoader other(split, o);
  EXPECT_EQ(other.batches_per_epoch(), 12);
  EXPECT_NE(other.epoch_plan(0), loader.epoch_plan(0));
  for (const auto& batch : other.epoch_plan(0))
    EXPECT_EQ(batch.size(), 8u);
}

TEST(BatchLoader, LengthGroupingPutsSimilarLengthsTogether) {
  auto split = make_split(64);
  auto longer = [&](int64_t i) {
    return std::max(split->chosen_length(i), split->rejected_length(i));
  };
  auto spread = [&](const std::vector<std::vector<int64_t>>& plan) {
    int64_t total = 0;  // sum over batches of (longest - shortest)
    for (const auto& batch : plan) {
      int64_t lo = 1 << 30, hi = 0;
      for (int64_t i : batch) {
        lo = std::min(lo, longer(i));
        hi = std::max(hi, longer(i));
      }
      total += hi - lo;
    }
    return total;
  };
  BatchLoaderOptions grouped = options(4, 0);
  grouped.group_batches = 16;  // the whole epoch is one window
  BatchLoaderOptions ungrouped = grouped;
  ungrouped.group_batches = 1;
  auto plan = BatchLoader(split, grouped).epoch_plan(0);
  // Within the window the pairs are sorted: consecutive batches of the sorted order.
  std::vector<int64_t> all;
  for (const auto& batch : plan) {
    for (size_t k = 1; k < batch.size(); ++k)
      EXPECT_GE(longer(batch[k - 1]), longer(batch[k]));
    all.insert(all.end(), batch.begin(), batch.end());
  }
  EXPECT_EQ(all.size(), 64u);
  EXPECT_LT(spread(plan), spread(BatchLoader(split, ungrouped).epoch_plan(0)));
}

TEST(BatchLoader, ResumingFromASavedPositionReplaysTheSameBatches) {
  auto split = make_split(37);
  for (int64_t prefetch : {0, 1, 3}) {
    BatchLoader straight(split, options(4, prefetch));
    const int steps = 25;  // crosses two epoch boundaries (10 batches an epoch)
    std::vector<Batch> expected;
    BatchPosition saved;
    for (int s = 0; s < steps; ++s) {
      if (s == 13)
        saved = straight.position();
      expected.push_back(straight.next());
    }
    EXPECT_EQ(saved, (BatchPosition{1, 3}));

    BatchLoader resumed(split, options(4, prefetch), saved);
    for (int s = 13; s < steps; ++s)
      expect_same_batch(resumed.next(), expected[s]);

    // seek() on a running loader does the same, dropping what was prefetched.
    straight.seek(saved);
    for (int s = 13; s < steps; ++s)
      expect_same_batch(straight.next(), expected[s]);
    // And batch_at builds the same bytes without the thread.
    expect_same_batch(straight.batch_at({1, 3}), expected[13]);
  }
}

TEST(BatchLoader, PositionsOutsideTheEpochAreRefused) {
  BatchLoader loader(make_split(10), options(4));
  EXPECT_THROW(loader.seek({0, 4}), UsageError);
  EXPECT_THROW(loader.seek({-1, 0}), UsageError);
  loader.seek({2, 3});  // the end of epoch 2 is the start of epoch 3
  EXPECT_EQ(loader.position(), (BatchPosition{3, 0}));
  EXPECT_EQ(loader.next().epoch, 3);
}

TEST(BatchLoader, ErrorsInThePrefetchThreadReachTheCaller) {
  BatchLoaderOptions o = options(4);
  o.max_sequence_length = 6;  // some pairs are longer
  BatchLoader loader(make_split(40), o);
  EXPECT_THROW(
      {
        for (int i = 0; i < 20; ++i)
          loader.next();
      },
      DataError);
  // The loader can still be repositioned and destroyed cleanly.
  loader.seek({0, 0});
}

TEST(BatchLoader, EmptySplitsAndBadOptionsAreRefused) {
  EXPECT_THROW(BatchLoader(std::make_shared<PreparedSplit>(), options(4)), DataError);
  EXPECT_THROW(BatchLoader(make_split(3), options(0)), UsageError);
  BatchLoaderOptions o = options(4);
  o.drop_last = true;
  EXPECT_THROW(BatchLoader(make_split(3), o), DataError);
}

}  // namespace
}  // namespace dpo

namespace dpo {
namespace {

// Data parallelism: 3 ranks share global batches of 8 pairs. Every global batch is split into
// disjoint shards (places r, r + 3, ...) whose union is the batch a single loader of 8 builds,
// positions stay global, and a last batch of fewer pairs than ranks leaves a shard empty.
TEST(BatchLoaderShards, ShardsPartitionEachGlobalBatch) {
  auto split = make_split(42);  // 5 batches of 8 and one of 2 (in shuffled order)
  BatchLoader whole(split, options(8, 0));
  int small_batches = 0;
  std::vector<std::unique_ptr<BatchLoader>> shards;
  for (int r = 0; r < 3; ++r) {
    BatchLoaderOptions o = options(8, 0);
    o.shard_count = 3;
    o.shard_index = r;
    shards.push_back(std::make_unique<BatchLoader>(split, o));
  }
  for (int b = 0; b < 6; ++b) {
    const Batch global = whole.next();
    std::vector<int64_t> pairs;
    for (int r = 0; r < 3; ++r) {
      const Batch shard = shards[static_cast<size_t>(r)]->next();
      EXPECT_EQ(shard.global_pairs, global.pairs);
      EXPECT_EQ(shard.next, global.next);  // the global position
      // Places r, r + 3, ... of the global batch.
      for (size_t i = 0; i < shard.pair_indices.size(); ++i)
        EXPECT_EQ(shard.pair_indices[i], global.pair_indices[static_cast<size_t>(r) + 3 * i]);
      pairs.insert(pairs.end(), shard.pair_indices.begin(), shard.pair_indices.end());
      if (global.pairs == 2) {
        EXPECT_EQ(shard.pairs, r < 2 ? 1 : 0) << "rank " << r;
      }
    }
    small_batches += global.pairs == 2 ? 1 : 0;
    std::vector<int64_t> expected = global.pair_indices;
    std::sort(pairs.begin(), pairs.end());
    std::sort(expected.begin(), expected.end());
    EXPECT_EQ(pairs, expected) << "batch " << b;
  }
  EXPECT_EQ(small_batches, 1);
}

TEST(BatchLoaderShards, AShardThatDoesNotExistIsAUsageError) {
  BatchLoaderOptions o = options(4);
  o.shard_count = 2;
  o.shard_index = 2;
  EXPECT_THROW(BatchLoader(make_split(8), o), UsageError);
}

}  // namespace
}  // namespace dpo
