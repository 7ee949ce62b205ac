// Hashing: fast 64/128-bit hashes (XXH3) for matching rows, SHA-256 for fingerprints that
// are recorded in files and compared across runs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace dpo {

struct Hash128 {
  uint64_t low = 0;
  uint64_t high = 0;
  bool operator==(const Hash128& other) const {
    return low == other.low && high == other.high;
  }
  bool operator!=(const Hash128& other) const {
    return !(*this == other);
  }
  std::string hex() const;
};

struct Hash128Hasher {
  size_t operator()(const Hash128& h) const {
    return static_cast<size_t>(h.low ^ (h.high * 0x9E3779B97F4A7C15ULL));
  }
};

uint64_t hash64(std::string_view data, uint64_t seed = 0);

// splitmix64's finaliser: spreads a seed (or a seed combined with an epoch or a key) into a
// well-mixed 64-bit value. The held-out split depends on its exact output: do not change it.
inline uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}
Hash128 hash128(std::string_view data, uint64_t seed = 0);

// Incremental XXH3-128, for hashing a sequence of fields without concatenating them.
class Hash128Stream {
 public:
  explicit Hash128Stream(uint64_t seed = 0);
  ~Hash128Stream();
  Hash128Stream(const Hash128Stream&) = delete;
  Hash128Stream& operator=(const Hash128Stream&) = delete;
  void reset(uint64_t seed = 0);
  void update(std::string_view data);
  // Hashes the length first, so that ("ab","c") and ("a","bc") differ.
  void update_field(std::string_view data);
  Hash128 digest() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Incremental SHA-256.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(std::string_view data);
  void update(const void* data, size_t size);
  // Lower-case hex of the digest; the object cannot be updated afterwards.
  std::string hex_digest();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

std::string sha256_hex(std::string_view data);
// SHA-256 of a file's bytes; throws IoError naming the file.
std::string sha256_file_hex(const std::string& path);

}  // namespace dpo
