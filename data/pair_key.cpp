#include "data/pair_key.h"

#include <cstring>

#include "core/text.h"
#include "data/preference_row.h"

namespace dpo {

Hash128 PairKeyHasher::prompt_key(const std::vector<Message>& prompt) {
  stream_.reset();
  for (const Message& message : prompt) {
    stream_.update_field(message.role);
    scratch_.clear();
    append_matching_key(message.content, scratch_);
    stream_.update_field(scratch_);
  }
  return stream_.digest();
}

Hash128 PairKeyHasher::completion_hash(const std::vector<Message>& completion) {
  stream_.reset();
  for (const Message& message : completion) {
    stream_.update_field(message.role);
    stream_.update_field(trim_whitespace(message.content));
  }
  return stream_.digest();
}

PairHashes PairKeyHasher::hashes(const PreferenceRow& row) {
  PairHashes out;
  out.prompt = prompt_key(row.prompt);
  out.chosen = completion_hash(row.chosen);
  out.rejected = completion_hash(row.rejected);
  return out;
}

Hash128 pair_key(const Hash128& prompt, const Hash128& first, const Hash128& second) {
  // The raw bytes of the three digests, in order, hashed in one call: the same digest as
  // streaming them, without a Hash128Stream, whose state is a 64-byte-aligned heap block (an
  // aligned allocation per pair left the validator's heap fragmented).
  char bytes[3 * sizeof(Hash128)];
  std::memcpy(bytes, &prompt, sizeof(Hash128));
  std::memcpy(bytes + sizeof(Hash128), &first, sizeof(Hash128));
  std::memcpy(bytes + 2 * sizeof(Hash128), &second, sizeof(Hash128));
  return hash128(std::string_view(bytes, sizeof(bytes)));
}

}  // namespace dpo
