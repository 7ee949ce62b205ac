// BPE as the `tokenizers` library's models/bpe/model.rs and word.rs (see bpe_model.h).
#include "tokenizer/bpe_model.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <memory>
#include <queue>

#include "core/error.h"

namespace dpo {
namespace {

std::atomic<uint64_t> next_serial{1};

uint64_t mix(uint64_t key) {
  key ^= key >> 33;
  key *= 0xff51afd7ed558ccdULL;
  key ^= key >> 33;
  key *= 0xc4ceb9fe1a85ec53ULL;
  key ^= key >> 33;
  return key;
}

constexpr uint64_t kEmptyKey = ~uint64_t{0};
constexpr std::string_view kMetaspace = "\xE2\x96\x81";  // "▁"
// Words at least this long are cut at "▁" where that is exact (cut_at_metaspace_).
constexpr size_t kCutLength = 48;

// Words longer than this are not cached (the Rust library's MAX_LENGTH).
constexpr size_t kMaxCachedLength = 256;
constexpr size_t kCacheCapacity = 100000;

struct WordCache {
  std::unordered_map<std::string, std::vector<int32_t>> words;
};

// One cache per model per thread, as the Rust library's BPE_LOCAL_CACHE.
WordCache& thread_cache(uint64_t serial) {
  thread_local std::unordered_map<uint64_t, WordCache> caches;
  auto found = caches.find(serial);
  if (found != caches.end())
    return found->second;
  if (caches.size() >= 16)
    caches.clear();  // models come and go in tests; keep the memory bounded
  return caches[serial];
}

size_t utf8_length(unsigned char lead) {
  if (lead < 0x80)
    return 1;
  if ((lead & 0xE0) == 0xC0)
    return 2;
  if ((lead & 0xF0) == 0xE0)
    return 3;
  if ((lead & 0xF8) == 0xF0)
    return 4;
  return 1;
}

struct Symbol {
  int32_t id;
  int32_t prev;
  int32_t next;
  bool removed;
};

struct Merge {
  uint32_t rank;
  uint32_t pos;
  int32_t new_id;
  // std::priority_queue is a max-heap: the lowest rank, then the lowest position, on top.
  bool operator<(const Merge& other) const {
    if (rank != other.rank)
      return rank > other.rank;
    return pos > other.pos;
  }
};

}  // namespace

BpeModel::BpeModel(
    std::vector<std::pair<std::string, int32_t>> vocab,
    const std::vector<std::pair<std::string, std::string>>& merges,
    BpeOptions options,
    const std::string& where)
    : options_(std::move(options)), serial_(next_serial++) {
  size_ = vocab.size();
  int32_t max_id = -1;
  for (const auto& [token, id] : vocab) {
    if (id < 0 || static_cast<size_t>(id) >= vocab.size()) {
      throw ConfigError(
          where + ": vocabulary id " + std::to_string(id) + " of token '" + token +
              "' is out of range (the vocabulary has " + std::to_string(vocab.size()) +
              " entries, ids 0 to " + std::to_string(vocab.size() - 1) + ")",
          "the model.vocab ids of a tokenizer.json must be 0 to N-1");
    }
    max_id = std::max(max_id, id);
  }
  tokens_.assign(static_cast<size_t>(max_id + 1), std::string());
  has_token_.assign(tokens_.size(), false);
  for (auto& [token, id] : vocab) {
    if (has_token_[static_cast<size_t>(id)]) {
      throw ConfigError(
          where + ": vocabulary id " + std::to_string(id) + " belongs to two tokens, '" +
              tokens_[static_cast<size_t>(id)] + "' and '" + token + "'",
          "every token of model.vocab needs its own id");
    }
    tokens_[static_cast<size_t>(id)] = std::move(token);
    has_token_[static_cast<size_t>(id)] = true;
  }
  vocab_.reserve(tokens_.size());
  for (size_t id = 0; id < tokens_.size(); ++id) {
    if (has_token_[id])
      vocab_.emplace(std::string_view(tokens_[id]), static_cast<int32_t>(id));
  }

  // Merges: (a, b) -> (rank, id of a + b without b's continuing-subword prefix). A pair listed
  // twice keeps its last rank, as the Rust library's HashMap collect does.
  size_t capacity = 16;
  while (capacity < merges.size() * 2 + 16)
    capacity *= 2;
  merge_keys_.assign(capacity, kEmptyKey);
  merge_values_.assign(capacity, 0);
  merge_mask_ = capacity - 1;
  const size_t prefix_length =
      options_.continuing_subword_prefix ? options_.continuing_subword_prefix->size() : 0;
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    // Named references, not a structured binding: lambdas cannot capture those before C++20.
    const std::string& a = merges[rank].first;
    const std::string& b = merges[rank].second;
    auto lookup = [&](const std::string& token) {
      const int32_t id = token_to_id(token);
      if (id < 0) {
        throw ConfigError(
            where + ": merge " + std::to_string(rank + 1) + " ('" + a + "' + '" + b + "') names '" +
                token + "', which is not in the vocabulary",
            "the file is damaged or its vocab and merges do not belong together");
      }
      return id;
    };
    const int32_t a_id = lookup(a);
    const int32_t b_id = lookup(b);
    const std::string merged = a + (b.size() >= prefix_length ? b.substr(prefix_length) : b);
    const int32_t new_id = lookup(merged);
    const uint64_t key =
        (static_cast<uint64_t>(static_cast<uint32_t>(a_id)) << 32) | static_cast<uint32_t>(b_id);
    uint64_t slot = mix(key) & merge_mask_;
    while (merge_keys_[slot] != kEmptyKey && merge_keys_[slot] != key)
      slot = (slot + 1) & merge_mask_;
    merge_keys_[slot] = key;
    merge_values_[slot] = (static_cast<uint64_t>(rank) << 32) | static_cast<uint32_t>(new_id);
  }

  for (int byte = 0; byte < 256; ++byte) {
    char name[8];
    std::snprintf(name, sizeof(name), "<0x%02X>", byte);
    byte_ids_[byte] = token_to_id(name);
  }
  // The cut at "▁" (see bpe_model.h) is exact when no merge can join across it: a merge
  // (a, b) with b starting with "▁" needs a ending with "▁".
  cut_at_metaspace_ =
      token_to_id(kMetaspace) >= 0 &&
      !(options_.continuing_subword_prefix && !options_.continuing_subword_prefix->empty()) &&
      !(options_.end_of_word_suffix && !options_.end_of_word_suffix->empty());
  for (const auto& [a, b] : merges) {
    if (!cut_at_metaspace_)
      break;
    const bool b_starts = b.compare(0, kMetaspace.size(), kMetaspace) == 0;
    const bool a_ends = a.size() >= kMetaspace.size() &&
                        a.compare(a.size() - kMetaspace.size(), kMetaspace.size(), kMetaspace) == 0;
    if (b_starts && !a_ends)
      cut_at_metaspace_ = false;
  }
  if (options_.unk_token) {
    unk_id_ = token_to_id(*options_.unk_token);
    if (unk_id_ < 0) {
      throw ConfigError(
          where + ": unk_token '" + *options_.unk_token + "' is not in the vocabulary",
          "add it to model.vocab or set model.unk_token to null");
    }
  }
}

void BpeModel::set_unknown_handling(
    bool byte_fallback,
    bool fuse_unk,
    std::optional<std::string> unk_token,
    const std::string& where) {
  options_.byte_fallback = byte_fallback;
  options_.fuse_unk = fuse_unk;
  options_.unk_token = std::move(unk_token);
  unk_id_ = -1;
  if (options_.unk_token) {
    unk_id_ = token_to_id(*options_.unk_token);
    if (unk_id_ < 0) {
      throw ConfigError(
          where + ": unk_token '" + *options_.unk_token + "' is not in the vocabulary",
          "add it to model.vocab or set model.unk_token to null");
    }
  }
  serial_ = next_serial++;  // words cached under the old settings must not be reused
}

int32_t BpeModel::token_to_id(std::string_view token) const {
  auto found = vocab_.find(token);
  return found == vocab_.end() ? -1 : found->second;
}

const std::string* BpeModel::id_to_token(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= tokens_.size() || !has_token_[static_cast<size_t>(id)])
    return nullptr;
  return &tokens_[static_cast<size_t>(id)];
}

bool BpeModel::find_merge(int32_t left, int32_t right, uint32_t& rank, int32_t& new_id) const {
  const uint64_t key =
      (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
  uint64_t slot = mix(key) & merge_mask_;
  while (true) {
    const uint64_t stored = merge_keys_[slot];
    if (stored == key) {
      rank = static_cast<uint32_t>(merge_values_[slot] >> 32);
      new_id = static_cast<int32_t>(static_cast<uint32_t>(merge_values_[slot]));
      return true;
    }
    if (stored == kEmptyKey)
      return false;
    slot = (slot + 1) & merge_mask_;
  }
}

void BpeModel::tokenize(std::string_view word, std::vector<int32_t>& ids) const {
  if (word.empty())
    return;
  if (options_.ignore_merges) {
    const int32_t id = token_to_id(word);
    if (id >= 0) {
      ids.push_back(id);
      return;
    }
  }
  if (cut_at_metaspace_ && word.size() >= kCutLength) {
    size_t start = 0;
    for (size_t pos = word.find(kMetaspace, 1); pos != std::string_view::npos;
         pos = word.find(kMetaspace, pos + kMetaspace.size())) {
      // Cut before a "▁" whose left neighbour is another character (E2 96 81 only ever
      // encodes "▁", so the three bytes before it tell).
      const bool after_metaspace =
          pos >= kMetaspace.size() &&
          word.compare(pos - kMetaspace.size(), kMetaspace.size(), kMetaspace) == 0;
      if (!after_metaspace) {
        merge_cached(word.substr(start, pos - start), ids);
        start = pos;
      }
    }
    merge_cached(word.substr(start), ids);
    return;
  }
  merge_cached(word, ids);
}

void BpeModel::merge_cached(std::string_view word, std::vector<int32_t>& ids) const {
  WordCache& cache = thread_cache(serial_);
  // C++17 unordered_map has no lookup by string_view; a thread_local key avoids an allocation.
  thread_local std::string key;
  key.assign(word.data(), word.size());
  auto found = cache.words.find(key);
  if (found != cache.words.end()) {
    ids.insert(ids.end(), found->second.begin(), found->second.end());
    return;
  }
  const size_t begin = ids.size();
  merge_word(word, ids);
  if (word.size() < kMaxCachedLength) {
    if (cache.words.size() >= kCacheCapacity)
      cache.words.clear();
    cache.words.emplace(
        key, std::vector<int32_t>(ids.begin() + static_cast<std::ptrdiff_t>(begin), ids.end()));
  }
}

void BpeModel::merge_word(std::string_view word, std::vector<int32_t>& ids) const {
  // 1. One symbol per character (models/bpe/model.rs merge_word).
  thread_local std::vector<Symbol> symbols;
  thread_local std::string piece;
  symbols.clear();
  auto add = [&](int32_t id) {
    const auto index = static_cast<int32_t>(symbols.size());
    symbols.push_back({id, index - 1, -1, false});
    if (index > 0)
      symbols[static_cast<size_t>(index - 1)].next = index;
  };
  bool have_unk = false;
  int32_t pending_unk = -1;
  size_t pos = 0;
  while (pos < word.size()) {
    size_t length = std::min(utf8_length(static_cast<unsigned char>(word[pos])), word.size() - pos);
    const bool is_first = pos == 0;
    const bool is_last = pos + length == word.size();
    std::string_view s = word.substr(pos, length);
    if ((!is_first && options_.continuing_subword_prefix &&
         !options_.continuing_subword_prefix->empty()) ||
        (is_last && options_.end_of_word_suffix && !options_.end_of_word_suffix->empty())) {
      piece.clear();
      if (!is_first && options_.continuing_subword_prefix)
        piece += *options_.continuing_subword_prefix;
      piece.append(s);
      if (is_last && options_.end_of_word_suffix)
        piece += *options_.end_of_word_suffix;
      s = piece;
    }
    pos += length;
    const int32_t id = token_to_id(s);
    if (id >= 0) {
      if (have_unk) {
        add(pending_unk);
        have_unk = false;
      }
      add(id);
      continue;
    }
    if (options_.byte_fallback) {
      bool all = true;
      for (char c : s) {
        if (byte_ids_[static_cast<unsigned char>(c)] < 0) {
          all = false;
          break;
        }
      }
      if (all) {
        for (char c : s)
          add(byte_ids_[static_cast<unsigned char>(c)]);
        continue;
      }
    }
    if (unk_id_ >= 0) {
      // fuse_unk: consecutive unknown characters become one unk token.
      if (have_unk && !options_.fuse_unk)
        add(pending_unk);
      have_unk = true;
      pending_unk = unk_id_;
    }
    // No unk_token: the character is dropped, as in the Rust library.
  }
  if (have_unk)
    add(pending_unk);

  // 2. Merge the lowest-ranked pair first, leftmost on ties (models/bpe/word.rs merge_all).
  thread_local std::vector<Merge> heap_storage;
  heap_storage.clear();
  std::priority_queue<Merge, std::vector<Merge>> queue(std::less<Merge>(), std::move(heap_storage));
  uint32_t rank = 0;
  int32_t new_id = 0;
  for (size_t i = 0; i + 1 < symbols.size(); ++i) {
    if (find_merge(symbols[i].id, symbols[i + 1].id, rank, new_id))
      queue.push({rank, static_cast<uint32_t>(i), new_id});
  }
  while (!queue.empty()) {
    const Merge top = queue.top();
    queue.pop();
    Symbol& current = symbols[top.pos];
    if (current.removed || current.next < 0)
      continue;
    const Symbol right = symbols[static_cast<size_t>(current.next)];
    if (!find_merge(current.id, right.id, rank, new_id) || new_id != top.new_id)
      continue;  // an expired entry
    symbols[static_cast<size_t>(current.next)].removed = true;
    current.id = top.new_id;
    current.next = right.next;
    if (right.next >= 0)
      symbols[static_cast<size_t>(right.next)].prev = static_cast<int32_t>(top.pos);
    if (current.prev >= 0 &&
        find_merge(symbols[static_cast<size_t>(current.prev)].id, current.id, rank, new_id)) {
      queue.push({rank, static_cast<uint32_t>(current.prev), new_id});
    }
    if (current.next >= 0 &&
        find_merge(current.id, symbols[static_cast<size_t>(current.next)].id, rank, new_id)) {
      queue.push({rank, top.pos, new_id});
    }
  }
  for (const Symbol& symbol : symbols) {
    if (!symbol.removed)
      ids.push_back(symbol.id);
  }
}

}  // namespace dpo
