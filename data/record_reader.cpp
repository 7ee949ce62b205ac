#include "data/record_reader.h"

#include <cstring>

#include "core/error.h"
#include "core/text.h"
#include "data/byte_source.h"

namespace dpo {

namespace {
constexpr size_t kChunkBytes = 1 << 20;
}  // namespace

const char* file_layout_name(FileLayout layout) {
  return layout == FileLayout::jsonl ? "jsonl" : "json-array";
}

RecordReader::RecordReader(const std::string& path, size_t max_record_bytes)
    : path_(path), max_record_bytes_(max_record_bytes), source_(open_byte_source(path)) {
  buffer_.resize(kChunkBytes + kRecordPadding);
  detect_layout();
}

RecordReader::~RecordReader() = default;

bool RecordReader::compressed() const {
  return source_->compressed();
}

bool RecordReader::fill() {
  if (eof_)
    return false;
  size_t capacity = buffer_.size() - kRecordPadding;
  if (end_ == capacity)
    make_room();
  capacity = buffer_.size() - kRecordPadding;
  size_t n = source_->read(buffer_.data() + end_, capacity - end_);
  if (n == 0) {
    eof_ = true;
    return false;
  }
  end_ += n;
  return true;
}

void RecordReader::make_room() {
  if (begin_ > 0) {
    std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
    consumed_before_buffer_ += begin_;
    end_ -= begin_;
    begin_ = 0;
  }
  if (end_ == buffer_.size() - kRecordPadding) {
    // A record longer than the buffer: grow it (records are capped by the caller).
    buffer_.resize((buffer_.size() - kRecordPadding) * 2 + kRecordPadding);
  }
}

void RecordReader::detect_layout() {
  while (end_ - begin_ < 3 && fill()) {
  }
  const unsigned char* bytes = reinterpret_cast<const unsigned char*>(buffer_.data());
  if (end_ - begin_ >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF) {
    begin_ += 3;
    had_bom_ = true;
  }
  // Leading whitespace: blank lines in JSONL, indentation before '[' in a JSON file.
  while (true) {
    while (begin_ < end_ && is_ascii_space(static_cast<unsigned char>(buffer_[begin_]))) {
      // \n, \r\n and a lone \r end a line (a \r at the end of the data read so far counts
      // as lone; a rare miscount of one blank line).
      const bool lone_cr =
          buffer_[begin_] == '\r' && (begin_ + 1 == end_ || buffer_[begin_ + 1] != '\n');
      if (buffer_[begin_] == '\n' || lone_cr) {
        ++line_;
        ++blank_lines_;
      }
      ++begin_;
    }
    if (begin_ < end_ || !fill())
      break;
  }
  if (begin_ < end_ && buffer_[begin_] == '[') {
    layout_ = FileLayout::json_array;
    ++begin_;
  }
}

bool RecordReader::next(Record& record) {
  record = Record();
  return layout_ == FileLayout::jsonl ? next_line(record) : next_array_element(record);
}

// The end of the line that starts at or before `from`: the first \n, or \r (a \r\n pair or a
// lone \r, the line end of old Mac files, as Python's universal newlines read it). nullptr when
// [from, end) holds none, or when it ends with a \r whose next byte is not read yet.
// `terminator` is set to the line end's length (1 or 2).
const char* RecordReader::find_line_end(
    const char* from, const char* end, size_t& terminator) const {
  const char* lf = static_cast<const char*>(std::memchr(from, '\n', end - from));
  const char* limit = lf ? lf : end;
  const char* cr = static_cast<const char*>(std::memchr(from, '\r', limit - from));
  if (cr == nullptr) {
    terminator = 1;
    return lf;
  }
  if (cr + 1 == end) {
    if (!eof_)
      return nullptr;  // \r\n split across reads: wait for the next byte
    terminator = 1;
    return cr;
  }
  terminator = cr[1] == '\n' ? 2 : 1;
  return cr;
}

bool RecordReader::next_line(Record& record) {
  size_t scanned = 0;  // bytes after begin_ already known to hold no line end
  while (true) {
    char* base = buffer_.data();
    size_t terminator = 1;
    const char* found = find_line_end(base + begin_ + scanned, base + end_, terminator);
    bool at_end_of_data = found == nullptr && eof_;
    if (found != nullptr || at_end_of_data) {
      if (at_end_of_data && begin_ == end_)
        return false;
      size_t stop = found ? static_cast<size_t>(found - base) : end_;
      size_t start = begin_;
      record.line = line_;
      record.byte_offset = consumed_before_buffer_ + start;
      begin_ = found ? stop + terminator : end_;
      if (found) {
        ++line_;
        if (terminator == 1 && *found == '\r')
          ++cr_line_ends_;
      }
      std::string_view text(base + start, stop - start);
      if (is_blank(text)) {
        ++blank_lines_;
        scanned = 0;
        continue;
      }
      record.size = text.size();
      if (text.size() > max_record_bytes_) {
        record.problem = RecordProblem::too_large;
      } else {
        record.text = text;
      }
      return true;
    }
    scanned = end_ - begin_;
    if (scanned > 0 && base[end_ - 1] == '\r')
      --scanned;  // a \r at the end is looked at again with the byte after it
    if (scanned > max_record_bytes_) {
      // Too large: count the rest of the line without keeping it.
      record.line = line_;
      record.byte_offset = consumed_before_buffer_ + begin_;
      record.problem = RecordProblem::too_large;
      uint64_t size = scanned;
      consumed_before_buffer_ += begin_ + scanned;
      std::memmove(buffer_.data(), buffer_.data() + begin_ + scanned, end_ - begin_ - scanned);
      end_ -= begin_ + scanned;
      begin_ = 0;
      while (true) {
        const bool more = fill();
        const char* line_end = find_line_end(buffer_.data(), buffer_.data() + end_, terminator);
        if (line_end != nullptr) {
          size_t pos = static_cast<size_t>(line_end - buffer_.data());
          size += pos;
          begin_ = pos + terminator;
          ++line_;
          if (terminator == 1 && *line_end == '\r')
            ++cr_line_ends_;
          break;
        }
        if (!more && eof_) {
          size += end_;
          begin_ = end_;
          break;
        }
        // Keep a trailing \r for the next round; drop the rest.
        const size_t keep = end_ > 0 && buffer_[end_ - 1] == '\r' ? 1 : 0;
        size += end_ - keep;
        consumed_before_buffer_ += end_ - keep;
        if (keep)
          buffer_[0] = '\r';
        end_ = keep;
      }
      record.size = size;
      return true;
    }
    make_room();
    fill();
  }
}

bool RecordReader::next_array_element(Record& record) {
  // Skips whitespace (counting lines); false when the data ends first.
  auto skip_whitespace = [this]() {
    while (true) {
      while (begin_ < end_ && is_ascii_space(static_cast<unsigned char>(buffer_[begin_]))) {
        if (buffer_[begin_] == '\n')
          ++line_;
        ++begin_;
      }
      if (begin_ < end_)
        return true;
      if (!fill())
        return false;
    }
  };
  // Reports a broken array structure at the current position; reading stops there.
  auto malformed = [&](const std::string& detail) {
    record.problem = RecordProblem::malformed_array;
    record.problem_detail = detail;
    record.line = line_;
    record.byte_offset = consumed_before_buffer_ + begin_;
    record.index = next_index_;
    array_state_ = ArrayState::done;
    return true;
  };

  if (array_state_ == ArrayState::done)
    return false;
  if (array_state_ == ArrayState::after_element) {
    if (!skip_whitespace()) {
      return malformed("the file ends before the closing ']' of the JSON array");
    }
    char c = buffer_[begin_];
    if (c == ']') {
      ++begin_;
      return finish_array(record);
    }
    if (c != ',') {
      return malformed(
          std::string("expected ',' or ']' after array element ") +
          std::to_string(next_index_ - 1) + ", found '" + excerpt_for_message({&c, 1}) + "'");
    }
    ++begin_;
    array_state_ = ArrayState::expect_element;
  }
  if (!skip_whitespace()) {
    return malformed("the file ends before the closing ']' of the JSON array");
  }
  if (buffer_[begin_] == ']') {
    if (array_state_ == ArrayState::expect_first) {
      ++begin_;
      return finish_array(record);  // an empty array
    }
    return malformed("a trailing ',' before ']' (not allowed in JSON)");
  }
  if (buffer_[begin_] == ',')
    return malformed("an empty array element (two ',' in a row)");

  // Scan one element: strings (with escapes) and bracket depth, until ',' or ']' at depth 0.
  record.line = line_;
  record.byte_offset = consumed_before_buffer_ + begin_;
  record.index = next_index_++;
  uint64_t newlines = 0;
  uint64_t skipped = 0;  // bytes dropped while skipping a too-large element
  bool skipping = false;
  bool in_string = false;
  bool escaped = false;
  int64_t depth = 0;
  // An object or array element ends at its matching bracket; a scalar at ',' or ']'.
  const bool container = buffer_[begin_] == '{' || buffer_[begin_] == '[';
  size_t pos = begin_;
  while (true) {
    if (pos == end_) {
      size_t kept = pos - begin_;
      if (!skipping && kept > max_record_bytes_)
        skipping = true;
      if (skipping) {
        skipped += end_ - begin_;
        consumed_before_buffer_ += end_;
        begin_ = end_ = pos = 0;
      } else {
        make_room();
        pos = begin_ + kept;
      }
      if (!fill()) {
        // Reported at the element's start, which is where a reader of the file should look.
        line_ += newlines;
        record.problem = RecordProblem::malformed_array;
        record.problem_detail = "the file ends inside array element " +
                                std::to_string(record.index) + "; the file is truncated";
        record.size = skipped + (end_ - begin_);
        array_state_ = ArrayState::done;
        return true;
      }
      continue;
    }
    char c = buffer_[pos];
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      } else if (c == '\n') {
        ++newlines;
      }
      ++pos;
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if (c == '}' || c == ']') {
      if (depth == 0)
        break;
      if (--depth == 0 && container) {
        ++pos;
        break;
      }
    } else if (c == ',' && depth == 0) {
      break;
    } else if (c == '\n') {
      ++newlines;
    }
    ++pos;
  }
  size_t stop = pos;
  while (stop > begin_ && is_ascii_space(static_cast<unsigned char>(buffer_[stop - 1])))
    --stop;
  record.size = skipped + (stop - begin_);
  if (skipping || record.size > max_record_bytes_) {
    record.problem = RecordProblem::too_large;
  } else {
    record.text = std::string_view(buffer_.data() + begin_, stop - begin_);
  }
  begin_ = pos;
  line_ += newlines;
  array_state_ = ArrayState::after_element;
  return true;
}

bool RecordReader::finish_array(Record& record) {
  array_state_ = ArrayState::done;
  while (true) {
    while (begin_ < end_ && is_ascii_space(static_cast<unsigned char>(buffer_[begin_]))) {
      if (buffer_[begin_] == '\n')
        ++line_;
      ++begin_;
    }
    if (begin_ < end_) {
      record.problem = RecordProblem::malformed_array;
      record.problem_detail = "content after the closing ']' of the JSON array";
      record.line = line_;
      record.byte_offset = consumed_before_buffer_ + begin_;
      record.index = next_index_;
      return true;
    }
    if (!fill())
      return false;
  }
}

}  // namespace dpo
