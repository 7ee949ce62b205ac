// The BPE model of a tokenizer.json, as the `tokenizers` library's models::bpe::BPE: a
// vocabulary, merges ranked by their order in the file, and the options byte_fallback,
// ignore_merges, fuse_unk, unk_token, continuing_subword_prefix and end_of_word_suffix
// (dropout is not supported: encoding is deterministic). Words already merged are kept in a
// per-thread cache, so that a word seen before costs one hash lookup.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace dpo {

struct BpeOptions {
  bool byte_fallback = false;
  bool ignore_merges = false;
  bool fuse_unk = false;
  std::optional<std::string> unk_token;
  std::optional<std::string> continuing_subword_prefix;
  std::optional<std::string> end_of_word_suffix;
};

class BpeModel {
 public:
  // `vocab`: (token, id) pairs; `merges`: the pairs in rank order. `where` names the file in
  // messages. Throws ConfigError for a duplicate id, an id out of range, a merge naming a
  // token that is not in the vocabulary, or an unk_token missing from it.
  BpeModel(
      std::vector<std::pair<std::string, int32_t>> vocab,
      const std::vector<std::pair<std::string, std::string>>& merges,
      BpeOptions options,
      const std::string& where);
  BpeModel(const BpeModel&) = delete;
  BpeModel& operator=(const BpeModel&) = delete;

  // Appends the ids of one pre-tokenized word (`tokenize` of the Rust library).
  void tokenize(std::string_view word, std::vector<int32_t>& ids) const;

  // -1 when absent.
  int32_t token_to_id(std::string_view token) const;
  // nullptr when no token has that id.
  const std::string* id_to_token(int32_t id) const;
  // The number of vocabulary entries (the Rust model's get_vocab_size()).
  size_t size() const {
    return size_;
  }
  int32_t max_id() const {
    return static_cast<int32_t>(tokens_.size()) - 1;
  }
  const BpeOptions& options() const {
    return options_;
  }
  // byte_fallback, fuse_unk and unk_token after construction (transformers' LlamaTokenizer
  // rebuilds the model with its own); ConfigError when the unk_token is not in the vocabulary.
  void set_unknown_handling(
      bool byte_fallback,
      bool fuse_unk,
      std::optional<std::string> unk_token,
      const std::string& where);

 private:
  void merge_word(std::string_view word, std::vector<int32_t>& ids) const;
  // merge_word through the per-thread cache.
  void merge_cached(std::string_view word, std::vector<int32_t>& ids) const;

  BpeOptions options_;
  std::vector<std::string> tokens_;  // by id; empty string where no token has the id
  std::vector<bool> has_token_;
  size_t size_ = 0;
  std::unordered_map<std::string_view, int32_t> vocab_;  // views into tokens_
  // (left id << 32 | right id) -> (rank << 32 | new id), an open-addressing table.
  std::vector<uint64_t> merge_keys_;
  std::vector<uint64_t> merge_values_;
  uint64_t merge_mask_ = 0;
  int32_t byte_ids_[256];  // <0xAB> tokens for byte_fallback; -1 when absent
  int32_t unk_id_ = -1;
  uint64_t serial_ = 0;  // tells the per-thread caches of different models apart
  // True when a word may be cut before every "▁" that follows another character without
  // changing its ids: "▁" is a token, no merge joins a left part not ending in "▁" to a right
  // part starting with it, and there is no subword prefix or suffix. Sentencepiece-style files
  // (Metaspace without split, or Prepend + Replace) give BPE whole texts as one word; the cut
  // lets the word cache work on them.
  bool cut_at_metaspace_ = false;

  bool find_merge(int32_t left, int32_t right, uint32_t& rank, int32_t& new_id) const;
};

}  // namespace dpo
