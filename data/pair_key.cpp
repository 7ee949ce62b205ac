#include "data/pair_key.h"

#include <initializer_list>

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
  // The raw bytes of the three digests, in order.
  Hash128Stream stream;
  for (const Hash128* h : {&prompt, &first, &second}) {
    stream.update(std::string_view(reinterpret_cast<const char*>(h), sizeof(Hash128)));
  }
  return stream.digest();
}

}  // namespace dpo
