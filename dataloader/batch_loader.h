// Batches of preference pairs from a prepared split, for training and evaluation (no
// LibTorch: plain row-major int32 arrays the trainer copies into tensors).
//
// Epoch plan (a pure function of seed, epoch and the split, identical on every platform):
//   1. the pair indices 0..n-1, shuffled with Fisher-Yates driven by std::mt19937_64 seeded
//      from (seed, epoch) and an unbiased bounded draw written here (std::shuffle and
//      std::uniform_int_distribution differ between standard libraries);
//   2. length grouping: within windows of `group_batches` batches, pairs sorted by their
//      longer sequence (stable, longest first), so a batch holds pairs of similar length;
//   3. cut into batches of `batch_size` pairs (the last one smaller unless drop_last);
//   4. the batch order shuffled with the same generator.
// Batch layout: 2B rows of T tokens, rows 0..B-1 the chosen sequences (prompt + chosen
// completion) and rows B..2B-1 the rejected ones, in the same pair order (row i and row B+i
// are one pair, as TRL's concatenated forward). T is the longest row rounded up to a multiple
// of `pad_multiple`; the rest is pad_id.
// A position (epoch, cursor) names the next batch; restoring it replays exactly the batches a
// run without interruption would have seen.
// Data parallelism (shard_count W > 1): the plan above is made for the global micro-batch
// (batch_size = pairs per rank x W), and a rank's loader builds only its shard of each batch:
// the pairs at places shard_index, shard_index + W, ... of the batch (after length grouping, so
// every shard holds pairs of similar length). Plans and positions are the global ones, so a run
// resumes on another number of ranks with the same global batch.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "dataloader/prepared_dataset.h"

namespace dpo {

struct BatchLoaderOptions {
  int64_t batch_size = 8;  // pairs per batch (B)
  uint64_t seed = 0;
  bool shuffle = true;         // false: file order (length grouping still applies)
  int64_t group_batches = 16;  // length-grouping window in batches; 1 = no grouping
  int64_t pad_multiple = 8;
  int32_t pad_id = 0;
  bool drop_last = false;
  int64_t prefetch = 2;  // batches built ahead by a background thread; 0 = no thread
  // When > 0, a sequence longer than this is a DataError (the file was prepared for a longer
  // context than the model has).
  int64_t max_sequence_length = 0;
  int64_t shard_count = 1;  // W: ranks sharing each batch
  int64_t shard_index = 0;  // this rank's shard, in [0, W)
};

struct BatchPosition {
  int64_t epoch = 0;
  int64_t cursor = 0;  // index of the next batch within the epoch
  bool operator==(const BatchPosition& o) const {
    return epoch == o.epoch && cursor == o.cursor;
  }
  bool operator!=(const BatchPosition& o) const {
    return !(*this == o);
  }
};

struct Batch {
  int64_t epoch = 0;
  int64_t index = 0;                      // batch index within the epoch
  int64_t pairs = 0;                      // B: this shard's pairs (all of them when W = 1)
  int64_t global_pairs = 0;               // pairs of the whole batch over all shards
  int64_t length = 0;                     // T
  std::vector<int32_t> input_ids;         // [2B, T] chosen rows, then rejected rows
  std::vector<uint8_t> completion_mask;   // [2B, T] 1 on completion tokens, 0 on prompt and pad
  std::vector<int32_t> lengths;           // [2B] tokens before padding
  std::vector<int32_t> completion_start;  // [2B] = prompt length: first completion position
  std::vector<int64_t> pair_indices;      // [B] index of each pair in the split (row ids, lines)
  BatchPosition next;                     // the position after this batch (save it)
};

// Shuffles `values` in place with Fisher-Yates and an unbiased bounded draw from `rng`: the
// same result on every standard library.
void portable_shuffle(std::vector<int64_t>& values, std::mt19937_64& rng);
// A uniform integer in [0, bound), bound > 0, by rejection (no modulo bias).
uint64_t uniform_below(std::mt19937_64& rng, uint64_t bound);

class BatchLoader {
 public:
  // Starts at `start`; the prefetch thread (if any) starts at once.
  BatchLoader(
      std::shared_ptr<const PreparedSplit> split,
      BatchLoaderOptions options,
      BatchPosition start = {});
  ~BatchLoader();
  BatchLoader(const BatchLoader&) = delete;
  BatchLoader& operator=(const BatchLoader&) = delete;

  // The batch at position(); advances the position (epochs roll over without end). Rethrows
  // an exception raised while building it.
  Batch next();
  // The position of the batch next() returns.
  BatchPosition position() const;
  // Continue from `position` (cursor in [0, batches_per_epoch()]); drops prefetched batches.
  void seek(BatchPosition position);

  int64_t batches_per_epoch() const {
    return batches_per_epoch_;
  }
  size_t pairs() const {
    return split_->size();
  }
  // Pair indices of every batch of `epoch`, in order (deterministic; for tests and logs).
  std::vector<std::vector<int64_t>> epoch_plan(int64_t epoch) const;
  // The batch at `position`, built on the caller's thread (the same bytes next() returns).
  Batch batch_at(BatchPosition position) const;

 private:
  BatchPosition advance(BatchPosition position) const;
  Batch build(BatchPosition position, const std::vector<std::vector<int64_t>>& plan) const;
  void start_thread();
  void stop_thread();
  void produce();

  std::shared_ptr<const PreparedSplit> split_;
  BatchLoaderOptions options_;
  int64_t batches_per_epoch_ = 0;

  // Consumer state.
  BatchPosition position_;
  // Prefetch thread state, guarded by mutex_.
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Batch> queue_;
  std::exception_ptr error_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace dpo
