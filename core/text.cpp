#include "core/text.h"

#include "core/utf8.h"

namespace dpo {

std::string_view trim_whitespace(std::string_view text) {
  size_t begin = 0;
  size_t end = text.size();
  while (begin < end && is_ascii_space(static_cast<unsigned char>(text[begin])))
    ++begin;
  while (end > begin && is_ascii_space(static_cast<unsigned char>(text[end - 1])))
    --end;
  return text.substr(begin, end - begin);
}

bool is_blank(std::string_view text) {
  return trim_whitespace(text).empty();
}

size_t count_code_points(std::string_view utf8) {
  // Written as a plain loop over bytes so that the compiler vectorises it.
  size_t count = 0;
  const unsigned char* bytes = reinterpret_cast<const unsigned char*>(utf8.data());
  for (size_t i = 0; i < utf8.size(); ++i)
    count += (bytes[i] & 0xC0) != 0x80;
  return count;
}

bool is_valid_utf8(std::string_view text) {
  return first_invalid_utf8(text) == std::string_view::npos;
}

size_t first_invalid_utf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    if (static_cast<unsigned char>(text[i]) < 0x80) {
      ++i;
      continue;
    }
    size_t length = 1;
    if (decode_utf8_at(text, i, length) == kInvalidCodePoint)
      return i;
    i += length;
  }
  return std::string_view::npos;
}

void append_matching_key(std::string_view text, std::string& out) {
  bool pending_space = false;
  bool started = false;
  for (char ch : text) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (is_ascii_space(c)) {
      pending_space = started;
      continue;
    }
    if (pending_space)
      out.push_back(' ');
    pending_space = false;
    started = true;
    out.push_back((c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : ch);
  }
}

std::string excerpt_for_message(std::string_view text, size_t max_bytes) {
  std::string out;
  size_t i = 0;
  for (; i < text.size() && out.size() < max_bytes; ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '\n') {
      out += "\\n";
    } else if (c < 0x20 || c == 0x7F) {
      out += ' ';
    } else {
      out += static_cast<char>(c);
    }
  }
  // Finish a multi-byte character rather than cutting it.
  while (i < text.size() && is_utf8_continuation(static_cast<unsigned char>(text[i]))) {
    out += text[i++];
  }
  if (i < text.size())
    out += "...";
  return out;
}

namespace {
// One pass of printable(); returns true when anything needed an escape.
bool append_printable(std::string_view text, bool double_backslashes, std::string& out) {
  static const char kHex[] = "0123456789abcdef";
  bool escaped = false;
  auto hex = [&](const char* prefix, unsigned value) {
    out += prefix;
    out += kHex[(value >> 4) & 15];
    out += kHex[value & 15];
    escaped = true;
  };
  size_t i = 0;
  while (i < text.size()) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    size_t length = 1;
    if (c == '\\' && double_backslashes) {
      out += "\\\\";
    } else if (c == '\n' || c == '\t' || c == '\r') {
      out += c == '\n' ? "\\n" : c == '\t' ? "\\t" : "\\r";
      escaped = true;
    } else if (c < 0x20 || c == 0x7F) {
      hex("\\x", c);
    } else if (c < 0x80) {
      out += static_cast<char>(c);
    } else {
      const uint32_t code = decode_utf8_at(text, i, length);
      if (code == kInvalidCodePoint)
        hex("\\x", c);
      else if (code <= 0x9F)
        hex("\\u00", code);
      else
        out.append(text.substr(i, length));
    }
    i += length;
  }
  return escaped;
}
}  // namespace

std::string printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  if (!append_printable(text, /*double_backslashes=*/false, out))
    return out;
  // Once something is escaped a backslash could be mistaken for an escape: double them.
  out.clear();
  append_printable(text, /*double_backslashes=*/true, out);
  return out;
}

void append_json_escaped(std::string_view text, std::string& out) {
  for (char ch : text) {
    const unsigned char c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (c < 0x20) {
          static const char kHex[] = "0123456789abcdef";
          out += "\\u00";
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 15]);
        } else {
          out.push_back(ch);
        }
    }
  }
}

std::string json_quote(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  out.push_back('"');
  append_json_escaped(text, out);
  out.push_back('"');
  return out;
}

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&#34;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace dpo
