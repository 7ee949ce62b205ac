// The seal of a prepared file: a checksum of the whole HDF5 file, kept in its user block (the
// bytes HDF5 reserves at the start of a file and never reads). libhdf5 trusts the bytes it
// reads: a flipped bit or a truncated copy can make it loop forever or allocate absurd sizes
// (found by tests/fuzz/prepared_file_fuzz.cpp). dpo checks the seal before libhdf5 sees the file.
#pragma once

#include <cstdint>
#include <string>

namespace dpo {

// Bytes reserved at the start of every prepared file (H5Pset_userblock); a power of two >= 512.
constexpr uint64_t kPreparedUserBlockBytes = 512;

// Writes the seal into the user block of an HDF5 file image (the bytes about to be written):
// XXH3-128 and length of every byte after the user block. Returns false and leaves the image as
// it is when it has no user block (a file written by dpo before seals, given a reference cache).
bool seal_prepared_image(std::string& image);

// Checks the seal of the file at `path` before it is opened with libhdf5. Returns true when the
// seal matches, false when the file is not HDF5 at all (the caller says what it is). Throws
// CacheError naming the file when the seal does not match (the file was modified or damaged
// after dpo wrote it) and when an HDF5 file has no seal (written by an older dpo or by another
// tool: libhdf5 can loop forever on a damaged file, so no unverified file reaches it); IoError
// when it cannot be read.
bool verify_prepared_seal(const std::string& path);

}  // namespace dpo
