#include "core/hash.h"

#include <openssl/evp.h>

#include <cstdio>
#include <fstream>
#include <vector>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "core/error.h"

namespace dpo {

std::string Hash128::hex() const {
  char text[33];
  std::snprintf(
      text,
      sizeof(text),
      "%016llx%016llx",
      static_cast<unsigned long long>(high),
      static_cast<unsigned long long>(low));
  return text;
}

uint64_t hash64(std::string_view data, uint64_t seed) {
  return XXH3_64bits_withSeed(data.data(), data.size(), seed);
}

Hash128 hash128(std::string_view data, uint64_t seed) {
  XXH128_hash_t h = XXH3_128bits_withSeed(data.data(), data.size(), seed);
  return Hash128{h.low64, h.high64};
}

struct Hash128Stream::State {
  XXH3_state_t xxh;
};

Hash128Stream::Hash128Stream(uint64_t seed) : state_(new State) {
  reset(seed);
}

Hash128Stream::~Hash128Stream() = default;

void Hash128Stream::reset(uint64_t seed) {
  XXH3_128bits_reset_withSeed(&state_->xxh, seed);
}

void Hash128Stream::update(std::string_view data) {
  XXH3_128bits_update(&state_->xxh, data.data(), data.size());
}

void Hash128Stream::update_field(std::string_view data) {
  uint64_t size = data.size();
  XXH3_128bits_update(&state_->xxh, &size, sizeof(size));
  XXH3_128bits_update(&state_->xxh, data.data(), data.size());
}

Hash128 Hash128Stream::digest() const {
  XXH128_hash_t h = XXH3_128bits_digest(&state_->xxh);
  return Hash128{h.low64, h.high64};
}

struct Sha256::State {
  EVP_MD_CTX* ctx = nullptr;
  ~State() {
    EVP_MD_CTX_free(ctx);
  }
};

Sha256::Sha256() : state_(new State) {
  state_->ctx = EVP_MD_CTX_new();
  if (state_->ctx == nullptr || EVP_DigestInit_ex(state_->ctx, EVP_sha256(), nullptr) != 1) {
    throw Error("SHA-256: OpenSSL could not initialise a digest context");
  }
}

Sha256::~Sha256() = default;

void Sha256::update(std::string_view data) {
  update(data.data(), data.size());
}

void Sha256::update(const void* data, size_t size) {
  EVP_DigestUpdate(state_->ctx, data, size);
}

std::string Sha256::hex_digest() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(state_->ctx, digest, &length);
  static const char kHex[] = "0123456789abcdef";
  std::string text(length * 2, '0');
  for (unsigned int i = 0; i < length; ++i) {
    text[2 * i] = kHex[digest[i] >> 4];
    text[2 * i + 1] = kHex[digest[i] & 15];
  }
  return text;
}

std::string sha256_hex(std::string_view data) {
  Sha256 sha;
  sha.update(data);
  return sha.hex_digest();
}

std::string sha256_file_hex(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw IoError("cannot open '" + path + "' to hash it");
  Sha256 sha;
  std::vector<char> buffer(1 << 20);
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    sha.update(buffer.data(), static_cast<size_t>(in.gcount()));
  }
  if (in.bad())
    throw IoError("read error while hashing '" + path + "'");
  return sha.hex_digest();
}

}  // namespace dpo
