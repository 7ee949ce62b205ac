#include "dataloader/dataset_split.h"

namespace dpo {

namespace {
uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}
}  // namespace

const char* split_name(Split split) {
  return split == Split::train ? "train" : "val";
}

Split split_for_prompt(const Hash128& prompt_key, uint64_t seed, double val_fraction) {
  uint64_t mixed = splitmix64(prompt_key.low ^ splitmix64(seed));
  double u = static_cast<double>(mixed >> 11) * (1.0 / 9007199254740992.0);  // 53 bits
  return u < val_fraction ? Split::val : Split::train;
}

}  // namespace dpo
