// The keys under which preference pairs are matched: the prompt key (which decides the train /
// held-out split, see dataset_split.h, and the prompt duplication rate), the completion hash, and
// the key of a whole pair. The validator (duplicates, conflicts, split) and the dataset diff of
// `dpo compare` (matching pairs across two versions) both use these, so that they agree by
// construction: if they diverged, compare would silently match the wrong pairs.
//
// Prompt key: every message's role and matching key (core/text.h append_matching_key: runs of
// ASCII whitespace collapsed, ends trimmed, ASCII letters lower-cased). Completion hash: every
// message's role and content with the ends trimmed of ASCII whitespace, case kept. The bytes
// hashed are part of the split's definition: prepared files' fingerprints depend on them.
#pragma once

#include <string>
#include <vector>

#include "core/hash.h"
#include "core/message.h"

namespace dpo {

struct PreferenceRow;

// The three hashes of one pair.
struct PairHashes {
  Hash128 prompt;
  Hash128 chosen;
  Hash128 rejected;
};

// Computes the keys, reusing its hashing state and scratch buffer across rows (not thread-safe:
// one per thread).
class PairKeyHasher {
 public:
  Hash128 prompt_key(const std::vector<Message>& prompt);
  Hash128 completion_hash(const std::vector<Message>& completion);
  PairHashes hashes(const PreferenceRow& row);

 private:
  Hash128Stream stream_;
  std::string scratch_;
};

// The key of the pair (prompt, first, second): order matters, so a label flip is
// pair_key(prompt, rejected, chosen).
Hash128 pair_key(const Hash128& prompt, const Hash128& first, const Hash128& second);

}  // namespace dpo
