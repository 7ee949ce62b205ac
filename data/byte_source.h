// Byte sources: a file read sequentially, either as is or through gzip decompression.
// Compression is recognised by the gzip magic bytes, not by the file name.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace dpo {

class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Reads up to `capacity` bytes into `buffer`; returns 0 only at the end of the data.
  // Throws IoError (naming the file and offset) on a read error or corrupt compressed data.
  virtual size_t read(char* buffer, size_t capacity) = 0;
  virtual bool compressed() const = 0;
  // Bytes consumed from the file itself so far (compressed bytes for gzip).
  virtual uint64_t file_offset() const = 0;
};

// Opens `path`; throws IoError naming the file when it cannot be opened.
std::unique_ptr<ByteSource> open_byte_source(const std::string& path);

}  // namespace dpo
