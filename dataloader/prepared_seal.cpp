// The seal of a prepared file: "dpo-seal v1 xxh3-128 <32 hex> bytes <n>\n" at offset 0, the rest
// of the user block NUL bytes.
#include "dataloader/prepared_seal.h"

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string_view>

#include "core/error.h"
#include "core/format.h"
#include "core/hash.h"

namespace dpo {

namespace {

constexpr char kMagic[] = "dpo-seal v1 ";
constexpr std::string_view kHdf5Signature("\x89HDF\r\n\x1a\n", 8);
const char* const kDamagedHint =
    "the file was truncated, modified by another tool, or corrupted on disk; run dpo prepare "
    "again (cached reference log-probs are recomputed by dpo train or dpo score "
    "--write-reference)";

struct FileCloser {
  void operator()(FILE* f) const {
    std::fclose(f);
  }
};
using File = std::unique_ptr<FILE, FileCloser>;

File open_file(const std::string& path, const char* mode, const char* what) {
  File f(std::fopen(path.c_str(), mode));
  if (!f)
    throw IoError(format("cannot open '%s' to %s: %s", path.c_str(), what, std::strerror(errno)));
  return f;
}

// XXH3-128 of every byte after the user block, and how many there are.
Hash128 hash_after_user_block(FILE* f, const std::string& path, uint64_t& length) {
  if (std::fseek(f, static_cast<long>(kPreparedUserBlockBytes), SEEK_SET) != 0)
    throw IoError(format("cannot seek in '%s': %s", path.c_str(), std::strerror(errno)));
  Hash128Stream hasher;
  std::string buffer(1 << 20, '\0');
  length = 0;
  size_t got;
  while ((got = std::fread(buffer.data(), 1, buffer.size(), f)) > 0) {
    hasher.update(std::string_view(buffer.data(), got));
    length += got;
  }
  if (std::ferror(f))
    throw IoError(format("cannot read '%s': %s", path.c_str(), std::strerror(errno)));
  return hasher.digest();
}

bool hdf5_signature_at(FILE* f, uint64_t offset) {
  char signature[kHdf5Signature.size()] = {};
  return std::fseek(f, static_cast<long>(offset), SEEK_SET) == 0 &&
         std::fread(signature, 1, kHdf5Signature.size(), f) == kHdf5Signature.size() &&
         std::string_view(signature, kHdf5Signature.size()) == kHdf5Signature;
}

std::string seal_text(const Hash128& digest, uint64_t length) {
  return format("%sxxh3-128 %s bytes %" PRIu64 "\n", kMagic, digest.hex().c_str(), length);
}

}  // namespace

bool seal_prepared_image(std::string& image) {
  if (image.size() < kPreparedUserBlockBytes + kHdf5Signature.size() ||
      std::string_view(image).substr(kPreparedUserBlockBytes, kHdf5Signature.size()) !=
          kHdf5Signature)
    return false;
  const std::string_view body = std::string_view(image).substr(kPreparedUserBlockBytes);
  Hash128Stream hasher;
  hasher.update(body);
  std::string block = seal_text(hasher.digest(), body.size());
  block.resize(kPreparedUserBlockBytes, '\0');
  image.replace(0, block.size(), block);
  return true;
}

bool verify_prepared_seal(const std::string& path) {
  File f = open_file(path, "rb", "read it");
  std::string block(kPreparedUserBlockBytes, '\0');
  const size_t got = std::fread(block.data(), 1, block.size(), f.get());
  if (got < sizeof(kMagic) - 1 || block.compare(0, sizeof(kMagic) - 1, kMagic) != 0) {
    // No seal. HDF5 data after a user block: only sealed files have one, so the seal was
    // overwritten. HDF5 data at the start: a file of dpo before seals, or of another tool;
    // libhdf5 cannot be trusted with it unchecked, so it is refused too. Anything else is not
    // HDF5 at all, which the caller reports in its own words.
    if (hdf5_signature_at(f.get(), kPreparedUserBlockBytes)) {
      throw CacheError(
          format(
              "'%s' is damaged: the checksum dpo wrote at its start is missing or "
              "overwritten",
              path.c_str()),
          kDamagedHint);
    }
    if (hdf5_signature_at(f.get(), 0)) {
      throw CacheError(
          format(
              "'%s' carries no checksum: it was written by an older dpo (before prepared files "
              "were sealed) or by another tool, and dpo reads only prepared files it can verify "
              "(libhdf5 can hang or crash on a damaged file)",
              path.c_str()),
          "run dpo prepare again to write it with a checksum");
    }
    return false;
  }
  block.resize(std::min(block.find('\0'), got));
  uint64_t length = 0;
  const Hash128 digest = hash_after_user_block(f.get(), path, length);
  if (block != seal_text(digest, length)) {
    while (!block.empty() && (block.back() == '\n' || block.back() == '\r'))
      block.pop_back();
    throw CacheError(
        format(
            "'%s' is damaged: its content no longer matches the checksum dpo wrote into it "
            "(%" PRIu64 " bytes after the header now; sealed: %s)",
            path.c_str(),
            length,
            block.substr(sizeof(kMagic) - 1).c_str()),
        kDamagedHint);
  }
  return true;
}

}  // namespace dpo
