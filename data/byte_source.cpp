#include "data/byte_source.h"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "core/error.h"

namespace dpo {

namespace {

class FileDescriptor {
 public:
  explicit FileDescriptor(const std::string& path) : path_(path) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0)
      throw IoError(errno_message("cannot open '" + path + "'", errno));
#ifdef POSIX_FADV_SEQUENTIAL
    ::posix_fadvise(fd_, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
  }
  ~FileDescriptor() {
    if (fd_ >= 0)
      ::close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;

  size_t read(char* buffer, size_t capacity) {
    while (true) {
      ssize_t n = ::read(fd_, buffer, capacity);
      if (n >= 0) {
        offset_ += static_cast<uint64_t>(n);
        return static_cast<size_t>(n);
      }
      if (errno == EINTR)
        continue;
      throw IoError(
          errno_message("read error in '" + path_ + "' at byte " + std::to_string(offset_), errno));
    }
  }
  uint64_t offset() const {
    return offset_;
  }
  const std::string& path() const {
    return path_;
  }

 private:
  std::string path_;
  int fd_ = -1;
  uint64_t offset_ = 0;
};

class PlainSource : public ByteSource {
 public:
  explicit PlainSource(std::unique_ptr<FileDescriptor> file, std::vector<char> already_read)
      : file_(std::move(file)), pending_(std::move(already_read)) {}

  size_t read(char* buffer, size_t capacity) override {
    if (pending_used_ < pending_.size()) {
      size_t n = std::min(capacity, pending_.size() - pending_used_);
      std::memcpy(buffer, pending_.data() + pending_used_, n);
      pending_used_ += n;
      return n;
    }
    return file_->read(buffer, capacity);
  }
  bool compressed() const override {
    return false;
  }
  uint64_t file_offset() const override {
    return file_->offset() - (pending_.size() - pending_used_);
  }

 private:
  std::unique_ptr<FileDescriptor> file_;
  std::vector<char> pending_;  // bytes read while sniffing the format
  size_t pending_used_ = 0;
};

// gzip through zlib's inflate; several concatenated gzip members are read as one stream.
class GzipSource : public ByteSource {
 public:
  GzipSource(std::unique_ptr<FileDescriptor> file, std::vector<char> already_read)
      : file_(std::move(file)), input_(1 << 20) {
    std::memset(&stream_, 0, sizeof(stream_));
    // 15 + 16: a window of 32 KiB and a gzip header.
    if (inflateInit2(&stream_, 15 + 16) != Z_OK) {
      throw IoError("cannot initialise gzip decompression for '" + file_->path() + "'");
    }
    std::memcpy(input_.data(), already_read.data(), already_read.size());
    stream_.next_in = reinterpret_cast<Bytef*>(input_.data());
    stream_.avail_in = static_cast<uInt>(already_read.size());
  }
  ~GzipSource() override {
    inflateEnd(&stream_);
  }

  size_t read(char* buffer, size_t capacity) override {
    size_t produced = 0;
    while (produced == 0 && !finished_) {
      if (stream_.avail_in == 0) {
        size_t n = file_->read(input_.data(), input_.size());
        if (n == 0) {
          if (inside_member_) {
            throw IoError(
                "'" + file_->path() + "' is a truncated gzip file (it ends at compressed byte " +
                    std::to_string(file_->offset()) + " inside a member)",
                "the file was cut short; copy or export it again");
          }
          finished_ = true;
          break;
        }
        consumed_before_buffer_ = file_->offset() - n;
        stream_.next_in = reinterpret_cast<Bytef*>(input_.data());
        stream_.avail_in = static_cast<uInt>(n);
      }
      stream_.next_out = reinterpret_cast<Bytef*>(buffer);
      stream_.avail_out = static_cast<uInt>(std::min<size_t>(capacity, 1u << 30));
      inside_member_ = true;
      int rc = inflate(&stream_, Z_NO_FLUSH);
      produced = static_cast<size_t>(reinterpret_cast<char*>(stream_.next_out) - buffer);
      if (rc == Z_STREAM_END) {
        inside_member_ = false;
        inflateReset(&stream_);  // another member may follow
      } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
        throw IoError(
            "corrupt gzip data in '" + file_->path() + "' near compressed byte " +
            std::to_string(file_offset()) + ": " + (stream_.msg ? stream_.msg : "inflate failed"));
      }
    }
    return produced;
  }
  bool compressed() const override {
    return true;
  }
  uint64_t file_offset() const override {
    return consumed_before_buffer_ +
           static_cast<uint64_t>(reinterpret_cast<const char*>(stream_.next_in) - input_.data());
  }

 private:
  std::unique_ptr<FileDescriptor> file_;
  std::vector<char> input_;
  z_stream stream_;
  uint64_t consumed_before_buffer_ = 0;
  bool inside_member_ = false;
  bool finished_ = false;
};

}  // namespace

std::unique_ptr<ByteSource> open_byte_source(const std::string& path) {
  auto file = std::make_unique<FileDescriptor>(path);
  // Sniff the first two bytes for the gzip magic 1f 8b.
  std::vector<char> head(2);
  size_t got = 0;
  while (got < head.size()) {
    size_t n = file->read(head.data() + got, head.size() - got);
    if (n == 0)
      break;
    got += n;
  }
  head.resize(got);
  bool gzip = got == 2 && static_cast<unsigned char>(head[0]) == 0x1f &&
              static_cast<unsigned char>(head[1]) == 0x8b;
  if (gzip)
    return std::make_unique<GzipSource>(std::move(file), std::move(head));
  return std::make_unique<PlainSource>(std::move(file), std::move(head));
}

}  // namespace dpo
