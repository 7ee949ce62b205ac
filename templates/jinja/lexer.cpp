// The template tokenizer, a transcription of jinja2/lexer.py (3.1) for the default delimiters,
// trim_blocks=True and lstrip_blocks=True.
#include "templates/jinja/lexer.h"

#include <cctype>
#include <cstdlib>

#include "templates/jinja/unicode.h"

namespace dpo::jinja {

namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

bool is_name_start(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_' ||
         static_cast<unsigned char>(c) >= 0x80;
}

bool is_name_char(char c) {
  return is_name_start(c) || is_digit(c);
}

// Length of the Python whitespace (regex \s) starting at `pos`, in bytes.
size_t whitespace_length(const std::string& s, size_t pos) {
  size_t i = pos;
  while (i < s.size()) {
    size_t length = 1;
    const uint32_t code_point = decode_utf8_at(s, i, length);
    if (code_point == kInvalidCodePoint || !is_python_space(code_point))
      break;
    i += length;
  }
  return i - pos;
}

// Python str.rstrip() on a text.
std::string rstrip_whitespace(const std::string& text) {
  return python_strip(text, false, true);
}

class Lexer {
 public:
  Lexer(const std::string& source, const std::string& origin)
      : s_(source), origin_(origin), lines_(source) {}

  std::vector<Token> run() {
    while (pos_ < s_.size()) {
      size_t at = find_tag_start(pos_);
      if (at == std::string::npos) {
        emit_text(s_.substr(pos_), pos_);
        break;
      }
      char kind = s_[at + 1];
      size_t after = at + 2;
      char sign = 0;
      if (after < s_.size() && (s_[after] == '-' || s_[after] == '+'))
        sign = s_[after++];
      size_t raw_end = kind == '%' ? match_raw_begin(after) : std::string::npos;
      std::string text = s_.substr(pos_, at - pos_);
      apply_left_strip(text, sign, kind != '{');
      emit_text(text, pos_);
      if (raw_end != std::string::npos) {
        lex_raw(raw_end);
      } else if (kind == '#') {
        lex_comment(after);
      } else {
        lex_tag(at, after, kind == '%');
      }
    }
    tokens_.push_back(Token{TokenType::end, "", 0, 0, lines_.at(s_.size())});
    return std::move(tokens_);
  }

 private:
  [[noreturn]] void fail(size_t offset, const std::string& message) {
    throw_syntax_error(origin_, lines_.at(offset), message);
  }

  size_t find_tag_start(size_t from) const {
    size_t at = s_.find('{', from);
    while (at != std::string::npos) {
      if (at + 1 < s_.size() && (s_[at + 1] == '{' || s_[at + 1] == '%' || s_[at + 1] == '#'))
        return at;
      at = s_.find('{', at + 1);
    }
    return std::string::npos;
  }

  // `-` strips all whitespace before the tag; otherwise lstrip_blocks removes the spaces and
  // tabs between the start of the line and a block or comment tag.
  void apply_left_strip(std::string& text, char sign, bool block_or_comment) {
    if (sign == '-') {
      text = rstrip_whitespace(text);
    } else if (sign != '+' && block_or_comment) {
      size_t newline = text.rfind('\n');
      size_t l_pos = newline == std::string::npos ? 0 : newline + 1;
      if ((l_pos > 0 || line_starting_) && l_pos < text.size() &&
          whitespace_length(text, l_pos) == text.size() - l_pos) {
        text.erase(l_pos);
      }
    }
  }

  void emit_text(const std::string& text, size_t offset) {
    if (!text.empty())
      tokens_.push_back(Token{TokenType::text, text, 0, 0, lines_.at(offset)});
  }

  // {%-? raw -?%}: returns the offset after the tag, or npos when this is not a raw block.
  size_t match_raw_begin(size_t after) const {
    size_t i = after + whitespace_length(s_, after);
    if (s_.compare(i, 3, "raw") != 0)
      return std::string::npos;
    i += 3;
    i += whitespace_length(s_, i);
    if (s_.compare(i, 3, "-%}") == 0) {
      i += 3;
      return i + whitespace_length(s_, i);
    }
    if (s_.compare(i, 2, "%}") == 0)
      return i + 2;
    return std::string::npos;
  }

  void lex_raw(size_t body_start) {
    size_t search = body_start;
    while (true) {
      size_t at = s_.find("{%", search);
      if (at == std::string::npos)
        fail(body_start, "missing end of raw directive ({% endraw %})");
      size_t i = at + 2;
      char sign = 0;
      if (i < s_.size() && (s_[i] == '-' || s_[i] == '+'))
        sign = s_[i++];
      i += whitespace_length(s_, i);
      if (s_.compare(i, 6, "endraw") == 0) {
        i += 6;
        i += whitespace_length(s_, i);
        size_t end = consume_block_end(i);
        if (end != std::string::npos) {
          line_starting_ = body_start > 0 && s_[body_start - 1] == '\n';
          std::string text = s_.substr(body_start, at - body_start);
          apply_left_strip(text, sign, true);
          emit_text(text, body_start);
          pos_ = end;
          line_starting_ = end > 0 && s_[end - 1] == '\n';
          return;
        }
      }
      search = at + 2;
    }
  }

  // At `i`: +%} | -%}\s* | %}\n? (trim_blocks). Returns the offset after it or npos.
  size_t consume_block_end(size_t i) const {
    if (s_.compare(i, 3, "+%}") == 0)
      return i + 3;
    if (s_.compare(i, 3, "-%}") == 0)
      return i + 3 + whitespace_length(s_, i + 3);
    if (s_.compare(i, 2, "%}") == 0)
      return (i + 2 < s_.size() && s_[i + 2] == '\n') ? i + 3 : i + 2;
    return std::string::npos;
  }

  void lex_comment(size_t body_start) {
    size_t at = s_.find("#}", body_start);
    if (at == std::string::npos)
      fail(body_start, "missing end of comment tag (#})");
    size_t end;
    if (at > body_start && s_[at - 1] == '-') {
      end = at + 2 + whitespace_length(s_, at + 2);
    } else if (at > body_start && s_[at - 1] == '+') {
      end = at + 2;
    } else {
      end = (at + 2 < s_.size() && s_[at + 2] == '\n') ? at + 3 : at + 2;
    }
    pos_ = end;
    line_starting_ = s_[end - 1] == '\n';
  }

  void lex_tag(size_t tag_start, size_t i, bool block) {
    tokens_.push_back(Token{
        block ? TokenType::block_begin : TokenType::variable_begin,
        block ? "{%" : "{{",
        0,
        0,
        lines_.at(tag_start)});
    std::vector<char> braces;
    while (true) {
      if (i >= s_.size()) {
        fail(
            tag_start,
            std::string("unexpected end of template: the tag opened here has no ") +
                (block ? "'%}'" : "'}}'"));
      }
      if (braces.empty()) {
        size_t end = std::string::npos;
        if (block) {
          end = consume_block_end(i);
        } else if (s_.compare(i, 3, "-}}") == 0) {
          end = i + 3 + whitespace_length(s_, i + 3);
        } else if (s_.compare(i, 2, "}}") == 0) {
          end = i + 2;
        }
        if (end != std::string::npos) {
          tokens_.push_back(Token{
              block ? TokenType::block_end : TokenType::variable_end,
              block ? "%}" : "}}",
              0,
              0,
              lines_.at(i)});
          pos_ = end;
          line_starting_ = s_[end - 1] == '\n';
          return;
        }
      }
      size_t space = whitespace_length(s_, i);
      if (space > 0) {
        i += space;
        continue;
      }
      char c = s_[i];
      Position where = lines_.at(i);
      if (is_digit(c)) {
        i = lex_number(i, where);
      } else if (is_name_start(c)) {
        size_t start = i;
        while (i < s_.size() && is_name_char(s_[i]))
          ++i;
        tokens_.push_back(Token{TokenType::name, s_.substr(start, i - start), 0, 0, where});
      } else if (c == '\'' || c == '"') {
        i = lex_string(i, where);
      } else {
        i = lex_operator(i, where, braces);
      }
    }
  }

  size_t digits_with_underscores(size_t i) const {
    // (\d+_)*\d+
    size_t j = i;
    while (j < s_.size() && is_digit(s_[j])) {
      while (j < s_.size() && is_digit(s_[j]))
        ++j;
      if (j + 1 < s_.size() && s_[j] == '_' && is_digit(s_[j + 1]))
        ++j;
    }
    return j;
  }

  static std::string without_underscores(const std::string& text) {
    std::string out;
    for (char c : text) {
      if (c != '_')
        out += c;
    }
    return out;
  }

  size_t lex_number(size_t start, Position where) {
    bool after_dot = start > 0 && s_[start - 1] == '.';  // foo.0 is an item access
    size_t j = digits_with_underscores(start);
    size_t float_end = std::string::npos;
    if (!after_dot) {
      size_t k = j;
      bool fraction = false;
      if (k + 1 < s_.size() && s_[k] == '.' && is_digit(s_[k + 1])) {
        k = digits_with_underscores(k + 1);
        fraction = true;
      }
      size_t exponent_end = std::string::npos;
      if (k < s_.size() && (s_[k] == 'e' || s_[k] == 'E')) {
        size_t m = k + 1;
        if (m < s_.size() && (s_[m] == '+' || s_[m] == '-'))
          ++m;
        if (m < s_.size() && is_digit(s_[m]))
          exponent_end = digits_with_underscores(m);
      }
      if (exponent_end != std::string::npos) {
        float_end = exponent_end;
      } else if (fraction) {
        float_end = k;
      }
    }
    if (float_end != std::string::npos) {
      std::string text = without_underscores(s_.substr(start, float_end - start));
      Token token{TokenType::floating, text, 0, std::strtod(text.c_str(), nullptr), where};
      tokens_.push_back(token);
      return float_end;
    }
    // Integers: 0b, 0o, 0x prefixes, decimal without leading zeros, or zeros.
    int base = 10;
    size_t digits_start = start;
    if (s_[start] == '0' && start + 1 < s_.size()) {
      char p = static_cast<char>(std::tolower(static_cast<unsigned char>(s_[start + 1])));
      if (p == 'b' || p == 'o' || p == 'x') {
        base = p == 'b' ? 2 : p == 'o' ? 8 : 16;
        digits_start = start + 2;
      }
    }
    size_t end = digits_start;
    if (base != 10) {
      auto valid = [&](char ch) {
        int v = std::isdigit(static_cast<unsigned char>(ch))
                    ? ch - '0'
                    : (std::isxdigit(static_cast<unsigned char>(ch))
                           ? std::tolower(static_cast<unsigned char>(ch)) - 'a' + 10
                           : 99);
        return v < base;
      };
      while (end < s_.size() &&
             (valid(s_[end]) || (s_[end] == '_' && end + 1 < s_.size() && valid(s_[end + 1])))) {
        ++end;
      }
      if (end == digits_start)
        fail(start, "invalid number literal");
    } else if (s_[start] == '0') {
      end = start + 1;
      while (end < s_.size() &&
             (s_[end] == '0' || (s_[end] == '_' && end + 1 < s_.size() && s_[end + 1] == '0'))) {
        ++end;
      }
    } else {
      end = j;
    }
    std::string digits = without_underscores(s_.substr(digits_start, end - digits_start));
    errno = 0;
    char* parse_end = nullptr;
    unsigned long long magnitude = std::strtoull(digits.c_str(), &parse_end, base);
    if (errno == ERANGE || magnitude > static_cast<unsigned long long>(INT64_MAX)) {
      fail(
          start,
          "integer literal '" + s_.substr(start, end - start) +
              "' is too large (this engine uses 64-bit integers)");
    }
    tokens_.push_back(Token{
        TokenType::integer,
        s_.substr(start, end - start),
        static_cast<int64_t>(magnitude),
        0,
        where});
    return end;
  }

  static int hex_value(char c) {
    if (c >= '0' && c <= '9')
      return c - '0';
    if (c >= 'a' && c <= 'f')
      return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
      return c - 'A' + 10;
    return -1;
  }

  // A string literal: Python's unicode-escape decoding of the text between the quotes.
  size_t lex_string(size_t start, Position where) {
    char quote = s_[start];
    std::string value;
    size_t i = start + 1;
    while (true) {
      if (i >= s_.size())
        fail(start, "unterminated string literal");
      char c = s_[i];
      if (c == quote)
        break;
      if (c != '\\') {
        value += c;
        ++i;
        continue;
      }
      if (i + 1 >= s_.size())
        fail(start, "unterminated string literal");
      char e = s_[i + 1];
      i += 2;
      switch (e) {
        case '\n':
          break;
        case '\\':
          value += '\\';
          break;
        case '\'':
          value += '\'';
          break;
        case '"':
          value += '"';
          break;
        case 'a':
          value += '\a';
          break;
        case 'b':
          value += '\b';
          break;
        case 'f':
          value += '\f';
          break;
        case 'n':
          value += '\n';
          break;
        case 'r':
          value += '\r';
          break;
        case 't':
          value += '\t';
          break;
        case 'v':
          value += '\v';
          break;
        case 'x':
        case 'u':
        case 'U': {
          int count = e == 'x' ? 2 : e == 'u' ? 4 : 8;
          uint32_t cp = 0;
          for (int k = 0; k < count; ++k) {
            int h = i < s_.size() ? hex_value(s_[i]) : -1;
            if (h < 0)
              fail(i, std::string("truncated \\") + e + " escape in a string literal");
            cp = cp * 16 + static_cast<uint32_t>(h);
            ++i;
          }
          if (cp > 0x10FFFF)
            fail(i, "illegal Unicode character in a string literal");
          append_utf8(cp, value);
          break;
        }
        default:
          if (e >= '0' && e <= '7') {
            uint32_t cp = static_cast<uint32_t>(e - '0');
            for (int k = 0; k < 2 && i < s_.size() && s_[i] >= '0' && s_[i] <= '7'; ++k, ++i) {
              cp = cp * 8 + static_cast<uint32_t>(s_[i] - '0');
            }
            append_utf8(cp, value);
          } else if (e == 'N' || static_cast<unsigned char>(e) >= 0x80) {
            fail(i - 2, "unsupported escape sequence in a string literal");
          } else {
            value += '\\';  // Python keeps unknown escapes such as \d as they are
            value += e;
          }
      }
    }
    tokens_.push_back(Token{TokenType::string, value, 0, 0, where});
    return i + 1;
  }

  size_t lex_operator(size_t i, Position where, std::vector<char>& braces) {
    static const char* const two_char[] = {"//", "**", "==", "!=", ">=", "<="};
    for (const char* op : two_char) {
      if (s_.compare(i, 2, op) == 0) {
        tokens_.push_back(Token{TokenType::op, op, 0, 0, where});
        return i + 2;
      }
    }
    char c = s_[i];
    static const std::string single = "+-/*%~[](){}><=.:|,;";
    if (single.find(c) == std::string::npos) {
      fail(i, std::string("unexpected character '") + c + "' in a tag");
    }
    if (c == '{' || c == '(' || c == '[') {
      braces.push_back(c == '{' ? '}' : c == '(' ? ')' : ']');
    } else if (c == '}' || c == ')' || c == ']') {
      if (braces.empty())
        fail(i, std::string("unexpected '") + c + "'");
      if (braces.back() != c) {
        fail(i, std::string("unexpected '") + c + "', expected '" + braces.back() + "'");
      }
      braces.pop_back();
    }
    tokens_.push_back(Token{TokenType::op, std::string(1, c), 0, 0, where});
    return i + 1;
  }

  const std::string& s_;
  const std::string& origin_;
  LineIndex lines_;
  std::vector<Token> tokens_;
  size_t pos_ = 0;
  bool line_starting_ = true;
};

}  // namespace

std::string normalize_template_source(std::string_view source) {
  std::string out;
  out.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      out += '\n';
      if (i + 1 < source.size() && source[i + 1] == '\n')
        ++i;
    } else {
      out += source[i];
    }
  }
  if (!out.empty() && out.back() == '\n')
    out.pop_back();
  return out;
}

std::vector<Token> tokenize(const std::string& source, const std::string& origin) {
  return Lexer(source, origin).run();
}

}  // namespace dpo::jinja
