#include "data/dataset_split.h"

namespace dpo {

const char* split_name(Split split) {
  return split == Split::train ? "train" : "val";
}

Split split_for_prompt(const Hash128& prompt_key, uint64_t seed, double val_fraction) {
  uint64_t mixed = splitmix64(prompt_key.low ^ splitmix64(seed));
  double u = static_cast<double>(mixed >> 11) * (1.0 / 9007199254740992.0);  // 53 bits
  return u < val_fraction ? Split::val : Split::train;
}

}  // namespace dpo
