// The train / held-out split: deterministic, by prompt, so that every pair of one prompt
// lands in the same split and the held-out set never shares a prompt with training.
#pragma once

#include <cstdint>

#include "core/hash.h"

namespace dpo {

enum class Split { train, val };
const char* split_name(Split split);

// u = splitmix64(prompt_key.low ^ splitmix64(seed)) / 2^64; held out when u < val_fraction.
// `prompt_key` is the hash of the prompt's matching key (pair_key.h).
Split split_for_prompt(const Hash128& prompt_key, uint64_t seed, double val_fraction);

}  // namespace dpo
