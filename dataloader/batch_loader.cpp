// Batch planning, padding and the prefetch thread (see batch_loader.h).
#include "dataloader/batch_loader.h"

#include <algorithm>

#include "core/error.h"
#include "core/hash.h"

namespace dpo {

uint64_t uniform_below(std::mt19937_64& rng, uint64_t bound) {
  // Accept draws >= 2^64 mod bound: what remains is a whole number of copies of [0, bound).
  const uint64_t threshold = (0 - bound) % bound;
  while (true) {
    uint64_t x = rng();
    if (x >= threshold)
      return x % bound;
  }
}

void portable_shuffle(std::vector<int64_t>& values, std::mt19937_64& rng) {
  for (size_t i = values.size(); i > 1; --i) {
    size_t j = static_cast<size_t>(uniform_below(rng, i));
    std::swap(values[i - 1], values[j]);
  }
}

BatchLoader::BatchLoader(
    std::shared_ptr<const PreparedSplit> split, BatchLoaderOptions options, BatchPosition start)
    : split_(std::move(split)), options_(options) {
  if (!split_ || split_->size() == 0) {
    throw DataError(
        "the prepared split has no pairs to batch",
        "check the prepare report: every pair may have been dropped");
  }
  if (options_.batch_size < 1)
    throw UsageError("batch size must be at least 1");
  if (options_.pad_multiple < 1)
    throw UsageError("pad multiple must be at least 1");
  if (options_.group_batches < 1)
    options_.group_batches = 1;
  if (options_.shard_count < 1 || options_.shard_index < 0 ||
      options_.shard_index >= options_.shard_count) {
    throw UsageError(
        "shard " + std::to_string(options_.shard_index) + " of " +
        std::to_string(options_.shard_count) + " does not exist");
  }
  const int64_t n = static_cast<int64_t>(split_->size());
  batches_per_epoch_ = options_.drop_last ? n / options_.batch_size
                                          : (n + options_.batch_size - 1) / options_.batch_size;
  if (batches_per_epoch_ == 0) {
    throw DataError(
        "the split has " + std::to_string(n) + " pairs, fewer than one batch of " +
            std::to_string(options_.batch_size) + " with drop_last",
        "lower the batch size or turn drop_last off");
  }
  seek(start);
}

BatchLoader::~BatchLoader() {
  stop_thread();
}

std::vector<std::vector<int64_t>> BatchLoader::epoch_plan(int64_t epoch) const {
  const int64_t n = static_cast<int64_t>(split_->size());
  const int64_t b = options_.batch_size;
  std::mt19937_64 rng(splitmix64(options_.seed ^ splitmix64(static_cast<uint64_t>(epoch))));
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    order[static_cast<size_t>(i)] = i;
  if (options_.shuffle)
    portable_shuffle(order, rng);

  if (options_.group_batches > 1) {
    const int64_t window = options_.group_batches * b;
    auto longer = [&](int64_t i) {
      return std::max(
          split_->chosen_length(static_cast<size_t>(i)),
          split_->rejected_length(static_cast<size_t>(i)));
    };
    for (int64_t start = 0; start < n; start += window) {
      auto first = order.begin() + start;
      auto last = order.begin() + std::min(n, start + window);
      std::stable_sort(first, last, [&](int64_t x, int64_t y) { return longer(x) > longer(y); });
    }
  }

  std::vector<std::vector<int64_t>> batches;
  for (int64_t start = 0; start < n; start += b) {
    int64_t end = std::min(n, start + b);
    if (end - start < b && options_.drop_last)
      break;
    batches.emplace_back(order.begin() + start, order.begin() + end);
  }
  if (options_.shuffle && options_.group_batches > 1) {
    // Shuffle the batch order (indices, then apply) with the same generator.
    std::vector<int64_t> permutation(batches.size());
    for (size_t i = 0; i < permutation.size(); ++i)
      permutation[i] = static_cast<int64_t>(i);
    portable_shuffle(permutation, rng);
    std::vector<std::vector<int64_t>> shuffled;
    shuffled.reserve(batches.size());
    for (int64_t index : permutation)
      shuffled.push_back(std::move(batches[static_cast<size_t>(index)]));
    batches = std::move(shuffled);
  }
  return batches;
}

BatchPosition BatchLoader::advance(BatchPosition position) const {
  ++position.cursor;
  if (position.cursor >= batches_per_epoch_) {
    ++position.epoch;
    position.cursor = 0;
  }
  return position;
}

Batch BatchLoader::build(
    BatchPosition position, const std::vector<std::vector<int64_t>>& plan) const {
  const std::vector<int64_t>& global = plan.at(static_cast<size_t>(position.cursor));
  std::vector<int64_t> pairs;  // this shard's: places shard_index, shard_index + W, ...
  for (size_t i = static_cast<size_t>(options_.shard_index); i < global.size();
       i += static_cast<size_t>(options_.shard_count))
    pairs.push_back(global[i]);
  Batch batch;
  batch.global_pairs = static_cast<int64_t>(global.size());
  batch.epoch = position.epoch;
  batch.index = position.cursor;
  batch.pairs = static_cast<int64_t>(pairs.size());
  batch.pair_indices = pairs;
  batch.next = advance(position);
  const int64_t rows = 2 * batch.pairs;

  int64_t longest = 0;
  for (int64_t index : pairs) {
    longest = std::max(
        {longest,
         split_->chosen_length(static_cast<size_t>(index)),
         split_->rejected_length(static_cast<size_t>(index))});
  }
  if (options_.max_sequence_length > 0 && longest > options_.max_sequence_length) {
    throw DataError(
        "batch " + std::to_string(position.cursor) + " of epoch " + std::to_string(position.epoch) +
            " has a sequence of " + std::to_string(longest) + " tokens, more than the model's " +
            std::to_string(options_.max_sequence_length),
        "prepare the dataset again with a --max-length the model supports");
  }
  const int64_t t =
      (longest + options_.pad_multiple - 1) / options_.pad_multiple * options_.pad_multiple;
  batch.length = t;
  batch.input_ids.assign(static_cast<size_t>(rows * t), options_.pad_id);
  batch.completion_mask.assign(static_cast<size_t>(rows * t), 0);
  batch.lengths.resize(static_cast<size_t>(rows));
  batch.completion_start.resize(static_cast<size_t>(rows));

  auto fill = [&](int64_t row, IdSpan prompt, IdSpan completion) {
    int32_t* ids = batch.input_ids.data() + row * t;
    uint8_t* mask = batch.completion_mask.data() + row * t;
    std::copy(prompt.begin(), prompt.end(), ids);
    std::copy(completion.begin(), completion.end(), ids + prompt.size);
    std::fill(mask + prompt.size, mask + prompt.size + completion.size, 1);
    batch.lengths[static_cast<size_t>(row)] = static_cast<int32_t>(prompt.size + completion.size);
    batch.completion_start[static_cast<size_t>(row)] = static_cast<int32_t>(prompt.size);
  };
  for (int64_t i = 0; i < batch.pairs; ++i) {
    PairTokens tokens = split_->pair(static_cast<size_t>(pairs[static_cast<size_t>(i)]));
    fill(i, tokens.prompt, tokens.chosen);
    fill(batch.pairs + i, tokens.prompt, tokens.rejected);
  }
  return batch;
}

Batch BatchLoader::batch_at(BatchPosition position) const {
  return build(position, epoch_plan(position.epoch));
}

void BatchLoader::produce() {
  BatchPosition position;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    position = position_;
  }
  int64_t plan_epoch = -1;
  std::vector<std::vector<int64_t>> plan;
  try {
    while (true) {
      if (plan_epoch != position.epoch) {
        plan = epoch_plan(position.epoch);
        plan_epoch = position.epoch;
      }
      Batch batch = build(position, plan);
      position = batch.next;
      std::unique_lock<std::mutex> lock(mutex_);
      changed_.wait(
          lock, [&] { return stop_ || static_cast<int64_t>(queue_.size()) < options_.prefetch; });
      if (stop_)
        return;
      queue_.push_back(std::move(batch));
      changed_.notify_all();
    }
  } catch (...) {
    std::lock_guard<std::mutex> lock(mutex_);
    error_ = std::current_exception();
    changed_.notify_all();
  }
}

void BatchLoader::start_thread() {
  if (options_.prefetch <= 0)
    return;
  stop_ = false;
  thread_ = std::thread([this] { produce(); });
}

void BatchLoader::stop_thread() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  changed_.notify_all();
  if (thread_.joinable())
    thread_.join();
  queue_.clear();
  error_ = nullptr;
}

void BatchLoader::seek(BatchPosition position) {
  if (position.epoch < 0 || position.cursor < 0 || position.cursor > batches_per_epoch_) {
    throw UsageError(
        "batch position (epoch " + std::to_string(position.epoch) + ", cursor " +
            std::to_string(position.cursor) + ") is outside the " +
            std::to_string(batches_per_epoch_) + " batches of an epoch",
        "resume with the batch size and dataset the position was saved with");
  }
  if (position.cursor == batches_per_epoch_)
    position = {position.epoch + 1, 0};
  stop_thread();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    position_ = position;
  }
  start_thread();
}

BatchPosition BatchLoader::position() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return position_;
}

Batch BatchLoader::next() {
  if (options_.prefetch <= 0) {
    Batch batch = batch_at(position_);
    position_ = batch.next;
    return batch;
  }
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait(lock, [&] { return !queue_.empty() || error_ != nullptr; });
  if (queue_.empty())
    std::rethrow_exception(error_);  // batches made before the error first
  Batch batch = std::move(queue_.front());
  queue_.pop_front();
  position_ = batch.next;
  changed_.notify_all();
  return batch;
}

}  // namespace dpo
