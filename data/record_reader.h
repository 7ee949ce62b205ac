// Splits a data file into JSON records without holding the file in memory:
//  - JSONL: one record per line (lines end at \n, \r\n or a lone \r, as Python's universal
//    newlines read them; a missing final newline accepted; blank lines skipped and counted);
//  - a JSON array: one record per element, found by a streaming scan of the brackets.
// Either may be gzip-compressed. A UTF-8 byte order mark at the start is skipped.
// A record longer than the cap is skipped without being held whole and reported as too large.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace dpo {

class ByteSource;

enum class FileLayout { jsonl, json_array };
const char* file_layout_name(FileLayout layout);

// Every record's bytes are followed by at least this many readable bytes, as the JSON
// parser (simdjson) requires.
constexpr size_t kRecordPadding = 64;

enum class RecordProblem {
  none,
  too_large,       // longer than the cap; `text` is empty, `size` is the full length
  malformed_array  // the JSON array's structure is broken here; reading stops after this
};

struct Record {
  std::string_view text;     // the record's bytes, valid until the next call to next()
  uint64_t line = 0;         // 1-based line where the record starts
  int64_t index = -1;        // 0-based position in the JSON array; -1 for JSONL
  uint64_t byte_offset = 0;  // offset of the first byte in the (decompressed) data
  uint64_t size = 0;         // length in bytes, also when too large to keep
  RecordProblem problem = RecordProblem::none;
  std::string problem_detail;  // for malformed_array: what was found where
};

class RecordReader {
 public:
  // Throws IoError when the file cannot be opened.
  RecordReader(const std::string& path, size_t max_record_bytes);
  ~RecordReader();
  RecordReader(const RecordReader&) = delete;
  RecordReader& operator=(const RecordReader&) = delete;

  // Fills `record` with the next record; false at the end of the data.
  bool next(Record& record);

  const std::string& path() const {
    return path_;
  }
  FileLayout layout() const {
    return layout_;
  }
  bool compressed() const;
  bool had_byte_order_mark() const {
    return had_bom_;
  }
  uint64_t blank_lines() const {
    return blank_lines_;
  }
  // JSONL lines that ended with a lone \r (old Mac line ends), for reports.
  uint64_t cr_line_ends() const {
    return cr_line_ends_;
  }
  // Bytes of (decompressed) data consumed so far.
  uint64_t bytes_consumed() const {
    return consumed_before_buffer_ + begin_;
  }

 private:
  bool fill();       // reads more data after end_; false at end of input
  void make_room();  // moves [begin_, end_) to the front, grows the buffer when full
  void detect_layout();
  bool next_line(Record& record);
  const char* find_line_end(const char* from, const char* end, size_t& terminator) const;
  bool next_array_element(Record& record);
  bool finish_array(Record& record);

  std::string path_;
  size_t max_record_bytes_;
  std::unique_ptr<ByteSource> source_;
  std::vector<char> buffer_;  // data capacity + kRecordPadding
  size_t begin_ = 0;          // first unconsumed byte
  size_t end_ = 0;            // one past the last byte read
  bool eof_ = false;
  uint64_t consumed_before_buffer_ = 0;  // stream offset of buffer_[0]
  uint64_t line_ = 1;                    // line number at begin_
  uint64_t blank_lines_ = 0;
  uint64_t cr_line_ends_ = 0;
  bool had_bom_ = false;
  FileLayout layout_ = FileLayout::jsonl;

  // JSON array state.
  enum class ArrayState { expect_first, expect_element, after_element, done };
  ArrayState array_state_ = ArrayState::expect_first;
  int64_t next_index_ = 0;
};

}  // namespace dpo
