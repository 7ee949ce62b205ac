// A strict recursive-descent JSON parser that builds nlohmann values (see json_file.h). Written
// here rather than on nlohmann's SAX interface because the SAX events carry no position, and a
// duplicate key must be reported with its line and column and those of the first one.
#include "core/json_file.h"

#include <charconv>
#include <nlohmann/json.hpp>
#include <unordered_map>
#include <vector>

#include "core/error.h"
#include "core/format.h"
#include "core/text.h"
#include "core/utf8.h"

namespace dpo {

std::string JsonProblem::describe() const {
  std::string out = reason + (column_only ? " at column " + std::to_string(column)
                                          : " at line " + std::to_string(line) + ", column " +
                                                std::to_string(column));
  if (!note.empty())
    out += " (" + note + ")";
  return out;
}

void json_text_position(std::string_view text, uint64_t offset, uint64_t& line, uint64_t& column) {
  if (offset > text.size())
    offset = text.size();
  line = 1;
  size_t line_start = 0;
  for (size_t i = 0; i < offset; ++i) {
    if (text[i] == '\n' || (text[i] == '\r' && (i + 1 >= text.size() || text[i + 1] != '\n'))) {
      ++line;
      line_start = i + 1;
    }
  }
  column = 1;
  for (size_t i = line_start; i < offset; ++i) {
    if (!is_utf8_continuation(static_cast<unsigned char>(text[i])))
      ++column;
  }
}

namespace {

// Thrown inside the parser only; turned into a JsonProblem at the top.
struct Refusal {
  size_t offset;
  std::string reason;
  std::string note;
};

// What stands at `pos`, for "found ..." and "unexpected ..." messages.
std::string describe_byte_at(std::string_view text, size_t pos) {
  if (pos >= text.size())
    return "the end of the text";
  const unsigned char c = static_cast<unsigned char>(text[pos]);
  if (c == 0xEF && pos + 2 < text.size() && static_cast<unsigned char>(text[pos + 1]) == 0xBB &&
      static_cast<unsigned char>(text[pos + 2]) == 0xBF) {
    return "byte 0xEF (a UTF-8 BOM)";
  }
  if (c >= 0x21 && c < 0x7F)
    return std::string("'") + static_cast<char>(c) + "'";
  if (c >= 0x80) {
    size_t length = 0;
    const uint32_t code = decode_utf8_at(text, pos, length);
    if (code != kInvalidCodePoint) {
      return "character '" + std::string(text.substr(pos, length)) + "' (" +
             format("U+%04X", static_cast<unsigned>(code)) + ")";
    }
    return format("byte 0x%02X (not valid UTF-8)", static_cast<unsigned>(c));
  }
  return format("byte 0x%02X", static_cast<unsigned>(c));
}

template <class J, bool kBuild>
class Parser {
 public:
  Parser(std::string_view text, const JsonParseOptions& options)
      : text_(text), options_(options), column_only_(column_only(text, options)) {}

  static bool column_only(std::string_view text, const JsonParseOptions& options) {
    return options.column_only_when_one_line &&
           text.find_first_of("\r\n") == std::string_view::npos;
  }

  J parse() {
    if (options_.skip_leading_bom && text_.size() >= 3 && text_.substr(0, 3) == "\xEF\xBB\xBF")
      pos_ = 3;  // a BOM at the very start, as nlohmann and Python's utf-8-sig accept
    skip_space();
    if (pos_ >= text_.size()) {
      fail(pos_, pos_ == 0 ? "the text is empty" : "no JSON value (only whitespace)");
    }
    J value = parse_value(0);
    skip_space();
    if (pos_ < text_.size()) {
      fail(pos_, "unexpected " + describe_byte_at(text_, pos_) + " after the JSON value");
    }
    return value;
  }

 private:
  [[noreturn]] void fail(size_t offset, std::string reason, std::string note = "") {
    throw Refusal{offset, std::move(reason), std::move(note)};
  }

  std::string where(size_t offset) const {
    uint64_t line = 0, column = 0;
    json_text_position(text_, offset, line, column);
    if (column_only_)
      return "column " + std::to_string(column);
    return "line " + std::to_string(line + options_.first_line - 1) + ", column " +
           std::to_string(column);
  }

  void skip_space() {
    while (pos_ < text_.size()) {
      const char c = text_[pos_];
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
        ++pos_;
      } else if (c == '/' && options_.allow_comments && pos_ + 1 < text_.size()) {
        if (text_[pos_ + 1] == '/') {
          while (pos_ < text_.size() && text_[pos_] != '\n' && text_[pos_] != '\r')
            ++pos_;
        } else if (text_[pos_ + 1] == '*') {
          const size_t end = text_.find("*/", pos_ + 2);
          if (end == std::string_view::npos)
            fail(pos_, "unterminated /* comment");
          pos_ = end + 2;
        } else {
          return;
        }
      } else {
        return;
      }
    }
  }

  J parse_value(int depth) {
    if (pos_ >= text_.size())
      fail(pos_, "the text ends where a value was expected");
    const char c = text_[pos_];
    switch (c) {
      case '{':
        return parse_object(depth + 1);
      case '[':
        return parse_array(depth + 1);
      case '"': {
        std::string s = parse_string();
        if constexpr (kBuild)
          return J(std::move(s));
        return J();
      }
      case 't':
        return parse_literal("true", J(true));
      case 'f':
        return parse_literal("false", J(false));
      case 'n':
        return parse_literal("null", J(nullptr));
      default:
        if (c == '-' || (c >= '0' && c <= '9'))
          return parse_number();
    }
    if (c == '\'')
      fail(pos_, "a string in single quotes (JSON strings use double quotes)");
    if (c == ']' || c == '}')
      fail(pos_, std::string("unexpected '") + c + "' where a value was expected");
    fail(pos_, "unexpected " + describe_byte_at(text_, pos_) + " where a value was expected");
  }

  J parse_literal(std::string_view word, J value) {
    if (text_.substr(pos_, word.size()) != word) {
      size_t end = pos_;
      while (end < text_.size() && end - pos_ < 20 &&
             std::isalnum(static_cast<unsigned char>(text_[end])))
        ++end;
      fail(
          pos_,
          "invalid literal '" + printable(text_.substr(pos_, end - pos_)) +
              "' (expected true, false or null)");
    }
    pos_ += word.size();
    return value;
  }

  void enter(size_t open, int depth) {
    if (depth > options_.max_depth) {
      fail(open, "arrays and objects nested deeper than " + std::to_string(options_.max_depth));
    }
  }

  J parse_object(int depth) {
    const size_t open = pos_;
    enter(open, depth);
    ++pos_;
    J object = kBuild ? J::object() : J();
    std::unordered_map<std::string, size_t> seen;  // key -> offset of its opening quote
    skip_space();
    if (pos_ < text_.size() && text_[pos_] == '}') {
      ++pos_;
      return object;
    }
    while (true) {
      skip_space();
      if (pos_ >= text_.size())
        fail(pos_, "the text ends inside an object", "opened at " + where(open));
      if (text_[pos_] != '"') {
        if (text_[pos_] == '}')
          fail(pos_, "a trailing comma before '}' (not allowed in JSON)");
        fail(
            pos_,
            "expected a key in double quotes, found " + describe_byte_at(text_, pos_),
            "in the object opened at " + where(open));
      }
      const size_t key_offset = pos_;
      std::string key = parse_string();
      const auto [it, inserted] = seen.emplace(key, key_offset);
      if (!inserted) {
        fail(
            key_offset,
            "duplicate key '" + printable(path_with(key)) + "'",
            "first at " + where(it->second));
      }
      skip_space();
      if (pos_ >= text_.size() || text_[pos_] != ':') {
        fail(
            pos_,
            "expected ':' after the key '" + printable(key) + "', found " +
                describe_byte_at(text_, pos_));
      }
      ++pos_;
      skip_space();
      path_.push_back(key);
      J value = parse_value(depth);
      path_.pop_back();
      if constexpr (kBuild)
        object[std::move(key)] = std::move(value);
      skip_space();
      if (pos_ >= text_.size())
        fail(pos_, "the text ends inside an object", "opened at " + where(open));
      if (text_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (text_[pos_] == '}') {
        ++pos_;
        return object;
      }
      fail(
          pos_,
          "expected ',' or '}' after the value of '" + printable(path_with(key)) + "', found " +
              describe_byte_at(text_, pos_),
          "in the object opened at " + where(open));
    }
  }

  J parse_array(int depth) {
    const size_t open = pos_;
    enter(open, depth);
    ++pos_;
    J array = kBuild ? J::array() : J();
    skip_space();
    if (pos_ < text_.size() && text_[pos_] == ']') {
      ++pos_;
      return array;
    }
    for (size_t index = 0;; ++index) {
      skip_space();
      if (pos_ >= text_.size())
        fail(pos_, "the text ends inside an array", "opened at " + where(open));
      if (text_[pos_] == ']')
        fail(pos_, "a trailing comma before ']' (not allowed in JSON)");
      path_.push_back("[" + std::to_string(index) + "]");
      J value = parse_value(depth);
      path_.pop_back();
      if constexpr (kBuild)
        array.push_back(std::move(value));
      skip_space();
      if (pos_ >= text_.size())
        fail(pos_, "the text ends inside an array", "opened at " + where(open));
      if (text_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (text_[pos_] == ']') {
        ++pos_;
        return array;
      }
      fail(
          pos_,
          "expected ',' or ']' after array element " + std::to_string(index) + ", found " +
              describe_byte_at(text_, pos_),
          "in the array opened at " + where(open));
    }
  }

  // "train.max_steps", "messages[1].content": the path of `key` inside the current value.
  std::string path_with(const std::string& key) const {
    std::string out;
    for (const std::string& part : path_) {
      if (!out.empty() && part[0] != '[')
        out += '.';
      out += part;
    }
    if (!out.empty())
      out += '.';
    return out + key;
  }

  unsigned hex4(size_t at) {
    if (at + 4 > text_.size())
      fail(at - 2, "unterminated \\u escape");
    unsigned value = 0;
    for (size_t i = at; i < at + 4; ++i) {
      const char c = text_[i];
      value <<= 4;
      if (c >= '0' && c <= '9')
        value |= unsigned(c - '0');
      else if (c >= 'a' && c <= 'f')
        value |= unsigned(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F')
        value |= unsigned(c - 'A' + 10);
      else
        fail(
            at - 2, "\\u must be followed by four hex digits, found " + describe_byte_at(text_, i));
    }
    return value;
  }

  std::string parse_string() {
    const size_t open = pos_;
    ++pos_;
    std::string out;
    while (true) {
      if (pos_ >= text_.size())
        fail(open, "unterminated string (no closing '\"' before the end of the text)");
      const unsigned char c = static_cast<unsigned char>(text_[pos_]);
      if (c == '"') {
        ++pos_;
        return out;
      }
      if (c == '\\') {
        const size_t escape = pos_;
        if (pos_ + 1 >= text_.size())
          fail(open, "unterminated string (no closing '\"' before the end of the text)");
        const char e = text_[pos_ + 1];
        pos_ += 2;
        switch (e) {
          case '"':
            out += '"';
            break;
          case '\\':
            out += '\\';
            break;
          case '/':
            out += '/';
            break;
          case 'b':
            out += '\b';
            break;
          case 'f':
            out += '\f';
            break;
          case 'n':
            out += '\n';
            break;
          case 'r':
            out += '\r';
            break;
          case 't':
            out += '\t';
            break;
          case 'u': {
            uint32_t code = hex4(pos_);
            pos_ += 4;
            if (code >= 0xDC00 && code <= 0xDFFF) {
              fail(
                  escape,
                  format("lone surrogate \\u%04x in a string", code),
                  "a low surrogate without a high one before it is not a character");
            }
            if (code >= 0xD800 && code <= 0xDBFF) {
              const bool pair =
                  pos_ + 1 < text_.size() && text_[pos_] == '\\' && text_[pos_ + 1] == 'u';
              const uint32_t low = pair ? hex4(pos_ + 2) : 0;
              if (!pair || low < 0xDC00 || low > 0xDFFF) {
                fail(
                    escape,
                    format("lone surrogate \\u%04x in a string", code),
                    "a high surrogate must be followed by a \\udc00-\\udfff escape");
              }
              pos_ += 6;
              code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
            }
            append_utf8(code, out);
            break;
          }
          default:
            fail(
                escape,
                "invalid escape '\\" + printable(text_.substr(pos_ - 1, 1)) +
                    "' in a string (allowed: \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)");
        }
        continue;
      }
      if (c < 0x20) {
        if (c == '\n' || c == '\r') {
          fail(
              pos_,
              "a line break inside a string (write \\n), or an unterminated string",
              "the string starts at " + where(open));
        }
        fail(pos_, format("unescaped control character 0x%02X in a string", unsigned(c)));
      }
      if (c < 0x80) {
        out += static_cast<char>(c);
        ++pos_;
        continue;
      }
      size_t length = 0;
      if (decode_utf8_at(text_, pos_, length) == kInvalidCodePoint) {
        if (c == 0xED && pos_ + 1 < text_.size() &&
            static_cast<unsigned char>(text_[pos_ + 1]) >= 0xA0) {
          fail(pos_, "a UTF-16 surrogate encoded as UTF-8 bytes in a string (not valid UTF-8)");
        }
        fail(pos_, format("invalid UTF-8 byte 0x%02X in a string", unsigned(c)));
      }
      out.append(text_.substr(pos_, length));
      pos_ += length;
    }
  }

  J parse_number() {
    const size_t start = pos_;
    bool negative = false;
    if (text_[pos_] == '-') {
      negative = true;
      ++pos_;
    }
    auto digits = [&]() {
      const size_t begin = pos_;
      while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9')
        ++pos_;
      return pos_ - begin;
    };
    const size_t int_begin = pos_;
    const size_t int_digits = digits();
    if (int_digits == 0)
      fail(start, "a '-' not followed by digits");
    if (int_digits > 1 && text_[int_begin] == '0')
      fail(start, "a number with a leading zero (not allowed in JSON)");
    bool integral = true;
    bool negative_exponent = false;
    if (pos_ < text_.size() && text_[pos_] == '.') {
      integral = false;
      ++pos_;
      if (digits() == 0)
        fail(start, "a number with no digits after '.'");
    }
    if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
      integral = false;
      ++pos_;
      if (pos_ < text_.size() && (text_[pos_] == '+' || text_[pos_] == '-')) {
        negative_exponent = text_[pos_] == '-';
        ++pos_;
      }
      if (digits() == 0)
        fail(start, "a number with no digits in its exponent");
    }
    const char* first = text_.data() + start;
    const char* last = text_.data() + pos_;
    if constexpr (!kBuild) {
      if (integral)
        return J();
    }
    if (integral) {
      // As nlohmann: non-negative integers are unsigned, negative ones signed, and an integer
      // too large for 64 bits becomes a double.
      if (negative) {
        int64_t value = 0;
        if (std::from_chars(first, last, value).ec == std::errc())
          return J(value);
      } else {
        uint64_t value = 0;
        if (std::from_chars(first, last, value).ec == std::errc())
          return J(value);
      }
    }
    double value = 0;
    const auto result = std::from_chars(first, last, value);
    if (result.ec == std::errc::result_out_of_range) {
      // Underflow reads as zero, as strtod and nlohmann do; overflow is refused.
      const bool underflow = negative_exponent || text_[int_begin] == '0';
      if (!underflow) {
        fail(
            start,
            "number " + std::string(first, std::min<size_t>(last - first, 40)) +
                " is out of range (larger than a double can hold)");
      }
      value = negative ? -0.0 : 0.0;
    } else if (result.ec != std::errc()) {
      fail(start, "invalid number");
    }
    if constexpr (kBuild)
      return J(value);
    return J();
  }

  std::string_view text_;
  const JsonParseOptions& options_;
  const bool column_only_;
  size_t pos_ = 0;
  std::vector<std::string> path_;
};

template <class J, bool kBuild>
bool run_parser(std::string_view text, J& out, JsonProblem& problem, const JsonParseOptions& o) {
  try {
    out = Parser<J, kBuild>(text, o).parse();
    return true;
  } catch (const Refusal& refusal) {
    problem = JsonProblem();
    problem.offset = refusal.offset;
    json_text_position(text, refusal.offset, problem.line, problem.column);
    problem.line += o.first_line - 1;
    problem.column_only = Parser<J, kBuild>::column_only(text, o);
    problem.reason = refusal.reason;
    problem.note = refusal.note;
    return false;
  }
}

[[noreturn]] void throw_problem(const JsonProblem& problem, const JsonSource& source) {
  const std::string message = source.what + ": " + problem.describe();
  switch (source.kind) {
    case JsonErrorKind::checkpoint:
      throw CheckpointError(message, source.hint);
    case JsonErrorKind::data:
      throw DataError(message, source.hint);
    case JsonErrorKind::cache:
      throw CacheError(message, source.hint);
    case JsonErrorKind::io:
      throw IoError(message, source.hint);
    case JsonErrorKind::config:
      break;
  }
  throw ConfigError(message, source.hint);
}

template <class J>
J parse_or_throw(std::string_view text, const JsonSource& source) {
  J value;
  JsonProblem problem;
  if (!run_parser<J, true>(text, value, problem, source.options))
    throw_problem(problem, source);
  return value;
}

}  // namespace

std::optional<JsonProblem> find_json_problem(
    std::string_view text, const JsonParseOptions& options) {
  nlohmann::json unused;
  JsonProblem problem;
  if (run_parser<nlohmann::json, false>(text, unused, problem, options))
    return std::nullopt;
  return problem;
}

bool parse_json_strict(
    std::string_view text,
    nlohmann::json& out,
    JsonProblem& problem,
    const JsonParseOptions& options) {
  return run_parser<nlohmann::json, true>(text, out, problem, options);
}

bool parse_json_strict(
    std::string_view text,
    nlohmann::ordered_json& out,
    JsonProblem& problem,
    const JsonParseOptions& options) {
  return run_parser<nlohmann::ordered_json, true>(text, out, problem, options);
}

nlohmann::json parse_json(std::string_view text, const JsonSource& source) {
  return parse_or_throw<nlohmann::json>(text, source);
}

nlohmann::ordered_json parse_ordered_json(std::string_view text, const JsonSource& source) {
  return parse_or_throw<nlohmann::ordered_json>(text, source);
}

nlohmann::json parse_json_file_text(std::string_view text, const std::string& file) {
  return parse_json(
      text,
      JsonSource{
          "'" + printable(file) + "' is not valid JSON",
          JsonErrorKind::config,
          "fix or re-download the file"});
}

}  // namespace dpo
