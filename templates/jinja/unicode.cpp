// Python-compatible text operations on UTF-8 strings (see unicode.h).
#include "templates/jinja/unicode.h"

#include <algorithm>
#include <cstdio>
#include <initializer_list>

#include "templates/jinja/limits.h"

namespace dpo::jinja {

namespace {

constexpr uint32_t kEscapedByteBase = 0xDC00;  // surrogateescape: a stray byte b -> U+DC00+b

// The regular pairs of Latin Extended-B (U+0180-U+024F) and the DŽ/LJ/NJ/DZ digraphs, whose
// middle form (Dž) is the title case.
uint32_t latin_extended_b(uint32_t c, bool to_upper) {
  static const uint32_t digraphs[] = {0x1C4, 0x1C7, 0x1CA, 0x1F1};
  for (uint32_t base : digraphs) {
    if (c >= base && c <= base + 2)
      return to_upper ? base : base + 2;
  }
  bool odd_upper = (c >= 0x1CD && c <= 0x1DC);
  bool even_upper = (c >= 0x1DE && c <= 0x1EF) || (c >= 0x1F4 && c <= 0x1F5) ||
                    (c >= 0x1F8 && c <= 0x21F) || (c >= 0x222 && c <= 0x233) ||
                    (c >= 0x246 && c <= 0x24F);
  if (odd_upper) {
    if (to_upper)
      return (c & 1) ? c : c - 1;
    return (c & 1) ? c + 1 : c;
  }
  if (even_upper) {
    if (to_upper)
      return (c & 1) ? c - 1 : c;
    return (c & 1) ? c : c + 1;
  }
  return c;
}

uint32_t simple_upper(uint32_t c) {
  if (c < 0x80)
    return (c >= 'a' && c <= 'z') ? c - 32 : c;
  if (c == 0xB5)
    return 0x39C;
  if (c >= 0xE0 && c <= 0xFE && c != 0xF7)
    return c - 32;
  if (c == 0xFF)
    return 0x178;
  if (c >= 0x100 && c <= 0x17F) {
    if (c == 0x131)
      return 'I';
    if (c == 0x17F)
      return 'S';
    if ((c <= 0x12F || (c >= 0x132 && c <= 0x137) || (c >= 0x14A && c <= 0x177)) && (c & 1))
      return c - 1;
    if (((c >= 0x139 && c <= 0x148) || (c >= 0x17A && c <= 0x17E)) && !(c & 1))
      return c - 1;
    return c;
  }
  if (c >= 0x180 && c <= 0x24F)
    return latin_extended_b(c, true);
  if (c >= 0x3B1 && c <= 0x3CB)
    return c == 0x3C2 ? 0x3A3 : c - 32;
  if (c == 0x3AC)
    return 0x386;
  if (c >= 0x3AD && c <= 0x3AF)
    return c - 37;
  if (c == 0x3CC)
    return 0x38C;
  if (c == 0x3CD || c == 0x3CE)
    return c - 63;
  if (c >= 0x430 && c <= 0x44F)
    return c - 32;
  if (c >= 0x450 && c <= 0x45F)
    return c - 80;
  if (((c >= 0x460 && c <= 0x481) || (c >= 0x48A && c <= 0x4BF) || (c >= 0x4D0 && c <= 0x52F)) &&
      (c & 1))
    return c - 1;
  if (c >= 0x4C1 && c <= 0x4CE && !(c & 1))
    return c - 1;
  if (c == 0x4CF)
    return 0x4C0;
  if (c >= 0x561 && c <= 0x586)
    return c - 48;
  if (((c >= 0x1E00 && c <= 0x1E95) || (c >= 0x1EA0 && c <= 0x1EFF)) && (c & 1))
    return c - 1;
  if (c >= 0xFF41 && c <= 0xFF5A)
    return c - 32;
  return c;
}

uint32_t simple_lower(uint32_t c) {
  if (c < 0x80)
    return (c >= 'A' && c <= 'Z') ? c + 32 : c;
  if (c >= 0xC0 && c <= 0xDE && c != 0xD7)
    return c + 32;
  if (c == 0x178)
    return 0xFF;
  if (c >= 0x100 && c <= 0x17F) {
    if ((c <= 0x12F || (c >= 0x132 && c <= 0x137) || (c >= 0x14A && c <= 0x177)) && !(c & 1))
      return c + 1;
    if (((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E)) && (c & 1))
      return c + 1;
    return c;
  }
  if (c >= 0x180 && c <= 0x24F)
    return latin_extended_b(c, false);
  if (c >= 0x391 && c <= 0x3AB && c != 0x3A2)
    return c + 32;
  if (c == 0x386)
    return 0x3AC;
  if (c >= 0x388 && c <= 0x38A)
    return c + 37;
  if (c == 0x38C)
    return 0x3CC;
  if (c == 0x38E || c == 0x38F)
    return c + 63;
  if (c >= 0x410 && c <= 0x42F)
    return c + 32;
  if (c >= 0x400 && c <= 0x40F)
    return c + 80;
  if (((c >= 0x460 && c <= 0x481) || (c >= 0x48A && c <= 0x4BF) || (c >= 0x4D0 && c <= 0x52F)) &&
      !(c & 1))
    return c + 1;
  if (c == 0x4C0)
    return 0x4CF;
  if (c >= 0x4C1 && c <= 0x4CE && (c & 1))
    return c + 1;
  if (c >= 0x531 && c <= 0x556)
    return c + 48;
  if (c == 0x1E9E)
    return 0xDF;
  if (((c >= 0x1E00 && c <= 0x1E95) || (c >= 0x1EA0 && c <= 0x1EFF)) && !(c & 1))
    return c + 1;
  if (c >= 0xFF21 && c <= 0xFF3A)
    return c + 32;
  return c;
}

bool is_lower_cp(uint32_t c) {
  return simple_upper(c) != c || c == 0xDF || c == 0x149 || c == 0x138;
}
bool is_upper_cp(uint32_t c) {
  return simple_lower(c) != c || c == 0x130;
}
bool is_cased(uint32_t c) {
  return is_lower_cp(c) || is_upper_cp(c);
}

void append_upper(uint32_t c, std::string& out) {
  if (c == 0xDF) {
    out += "SS";
  } else if (c == 0x149) {
    append_utf8(0x2BC, out);
    out += 'N';
  } else {
    append_utf8(simple_upper(c), out);
  }
}

// Lower-cases cps[i]; a capital sigma at the end of a word becomes the final form, as Python does.
void append_lower(const std::vector<uint32_t>& cps, size_t i, std::string& out) {
  uint32_t c = cps[i];
  if (c == 0x130) {
    out += 'i';
    append_utf8(0x307, out);
  } else if (c == 0x3A3) {
    bool after_cased = i > 0 && is_cased(cps[i - 1]);
    bool before_cased = i + 1 < cps.size() && is_cased(cps[i + 1]);
    append_utf8(after_cased && !before_cased ? 0x3C2 : 0x3C3, out);
  } else {
    append_utf8(simple_lower(c), out);
  }
}

void append_title(uint32_t c, std::string& out) {
  for (uint32_t base : {0x1C4u, 0x1C7u, 0x1CAu, 0x1F1u}) {
    if (c >= base && c <= base + 2) {
      append_utf8(base + 1, out);
      return;
    }
  }
  if (c == 0xDF) {
    out += "Ss";
  } else {
    append_upper(c, out);
  }
}

bool is_printable(uint32_t c) {
  if (c < 0x20 || (c >= 0x7F && c <= 0xA0) || c == 0xAD)
    return false;
  if (c == 0x1680 || (c >= 0x2000 && c <= 0x200F) || (c >= 0x2028 && c <= 0x202F))
    return false;
  if ((c >= 0x205F && c <= 0x206F) || c == 0x3000 || (c >= 0xD800 && c <= 0xF8FF))
    return false;
  if (c == 0xFEFF || (c >= 0xFFF9 && c <= 0xFFFB) || c >= 0xF0000)
    return false;
  if (c == 0xE0001 || (c >= 0xE0020 && c <= 0xE007F))
    return false;
  return true;
}

}  // namespace

std::vector<uint32_t> decode_utf8(std::string_view text) {
  std::vector<uint32_t> out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    size_t length = 1;
    uint32_t cp = decode_utf8_at(text, i, length);
    out.push_back(
        cp == kInvalidCodePoint ? kEscapedByteBase + static_cast<unsigned char>(text[i]) : cp);
    i += length;
  }
  return out;
}

void append_utf8(uint32_t c, std::string& out) {
  if (c >= kEscapedByteBase + 0x80 && c <= kEscapedByteBase + 0xFF) {
    out += static_cast<char>(c - kEscapedByteBase);
  } else {
    dpo::append_utf8(c, out);
  }
}

std::string encode_utf8(const std::vector<uint32_t>& code_points) {
  return encode_utf8(code_points, 0, code_points.size());
}

std::string encode_utf8(const std::vector<uint32_t>& code_points, size_t begin, size_t end) {
  std::string out;
  out.reserve(end - begin);
  for (size_t i = begin; i < end; ++i)
    append_utf8(code_points[i], out);
  return out;
}

bool is_ascii(std::string_view text) {
  for (char c : text) {
    if (static_cast<unsigned char>(c) >= 0x80)
      return false;
  }
  return true;
}

size_t code_point_count(std::string_view text) {
  if (is_ascii(text))
    return text.size();
  return decode_utf8(text).size();
}

std::string python_strip(std::string_view text, bool left, bool right) {
  std::vector<uint32_t> cps = decode_utf8(text);
  size_t begin = 0;
  size_t end = cps.size();
  if (left) {
    while (begin < end && is_python_space(cps[begin]))
      ++begin;
  }
  if (right) {
    while (end > begin && is_python_space(cps[end - 1]))
      --end;
  }
  return encode_utf8(cps, begin, end);
}

std::string python_strip_chars(
    std::string_view text, std::string_view chars, bool left, bool right) {
  std::vector<uint32_t> cps = decode_utf8(text);
  std::vector<uint32_t> set = decode_utf8(chars);
  auto in_set = [&](uint32_t c) {
    for (uint32_t s : set) {
      if (s == c)
        return true;
    }
    return false;
  };
  size_t begin = 0;
  size_t end = cps.size();
  if (left) {
    while (begin < end && in_set(cps[begin]))
      ++begin;
  }
  if (right) {
    while (end > begin && in_set(cps[end - 1]))
      --end;
  }
  return encode_utf8(cps, begin, end);
}

std::vector<std::string> python_split(
    std::string_view text, std::string_view sep, int64_t maxsplit) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (maxsplit < 0 || static_cast<int64_t>(parts.size()) < maxsplit) {
    size_t at = text.find(sep, start);
    if (at == std::string_view::npos)
      break;
    parts.emplace_back(text.substr(start, at - start));
    start = at + sep.size();
  }
  parts.emplace_back(text.substr(start));
  return parts;
}

std::vector<std::string> python_rsplit(
    std::string_view text, std::string_view sep, int64_t maxsplit) {
  std::vector<std::string> reversed;
  size_t end = text.size();
  while (maxsplit < 0 || static_cast<int64_t>(reversed.size()) < maxsplit) {
    if (end < sep.size())
      break;
    size_t at = text.rfind(sep, end - sep.size());
    if (at == std::string_view::npos)
      break;
    reversed.emplace_back(text.substr(at + sep.size(), end - at - sep.size()));
    end = at;
  }
  reversed.emplace_back(text.substr(0, end));
  return std::vector<std::string>(reversed.rbegin(), reversed.rend());
}

std::vector<std::string> python_split_whitespace(std::string_view text, int64_t maxsplit) {
  std::vector<uint32_t> cps = decode_utf8(text);
  std::vector<std::string> parts;
  size_t i = 0;
  while (true) {
    while (i < cps.size() && is_python_space(cps[i]))
      ++i;
    if (i == cps.size())
      break;
    if (maxsplit >= 0 && static_cast<int64_t>(parts.size()) == maxsplit) {
      // The rest, with its trailing whitespace removed, is the last part.
      size_t end = cps.size();
      while (end > i && is_python_space(cps[end - 1]))
        --end;
      parts.push_back(encode_utf8(cps, i, end));
      break;
    }
    size_t start = i;
    while (i < cps.size() && !is_python_space(cps[i]))
      ++i;
    parts.push_back(encode_utf8(cps, start, i));
  }
  return parts;
}

std::vector<std::string> python_splitlines(std::string_view text) {
  std::vector<uint32_t> cps = decode_utf8(text);
  std::vector<std::string> lines;
  size_t start = 0;
  size_t i = 0;
  while (i < cps.size()) {
    uint32_t c = cps[i];
    bool is_break = c == '\n' || c == '\r' || c == 0x0B || c == 0x0C || (c >= 0x1C && c <= 0x1E) ||
                    c == 0x85 || c == 0x2028 || c == 0x2029;
    if (!is_break) {
      ++i;
      continue;
    }
    lines.push_back(encode_utf8(cps, start, i));
    i += (c == '\r' && i + 1 < cps.size() && cps[i + 1] == '\n') ? 2 : 1;
    start = i;
  }
  if (start < cps.size())
    lines.push_back(encode_utf8(cps, start, cps.size()));
  return lines;
}

namespace {

// The length of python_replace's result, computed first so that a replacement that would build
// a string over the limit (1 MB of text, each character replaced by 1 KB) is refused unbuilt.
uint64_t replaced_size(
    std::string_view text, std::string_view old_text, std::string_view new_text, int64_t count) {
  uint64_t replacements = 0;
  if (old_text.empty()) {
    replacements = code_point_count(text) + 1;
  } else {
    for (size_t at = text.find(old_text); at != std::string_view::npos;
         at = text.find(old_text, at + old_text.size())) {
      ++replacements;
      if (count >= 0 && replacements >= static_cast<uint64_t>(count))
        break;
    }
  }
  if (count >= 0)
    replacements = std::min<uint64_t>(replacements, static_cast<uint64_t>(count));
  // text - removed + inserted, each term at most 2^24 x 2^24 within the string limits
  const unsigned __int128 size = static_cast<unsigned __int128>(text.size()) -
                                 replacements * old_text.size() +
                                 static_cast<unsigned __int128>(replacements) * new_text.size();
  return size > UINT64_MAX ? UINT64_MAX : static_cast<uint64_t>(size);
}

}  // namespace

std::string python_replace(
    std::string_view text, std::string_view old_text, std::string_view new_text, int64_t count) {
  check_string_size(replaced_size(text, old_text, new_text, count));
  std::string out;
  if (old_text.empty()) {
    // Python inserts `new` before every code point and at the end.
    std::vector<uint32_t> cps = decode_utf8(text);
    int64_t done = 0;
    for (uint32_t c : cps) {
      if (count < 0 || done < count) {
        out += new_text;
        ++done;
      }
      append_utf8(c, out);
    }
    if (count < 0 || done < count)
      out += new_text;
    return out;
  }
  size_t start = 0;
  int64_t done = 0;
  while (count < 0 || done < count) {
    size_t at = text.find(old_text, start);
    if (at == std::string_view::npos)
      break;
    out.append(text.substr(start, at - start));
    out.append(new_text);
    start = at + old_text.size();
    ++done;
  }
  out.append(text.substr(start));
  return out;
}

std::string python_upper(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (uint32_t c : decode_utf8(text))
    append_upper(c, out);
  return out;
}

std::string python_lower(std::string_view text) {
  std::vector<uint32_t> cps = decode_utf8(text);
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < cps.size(); ++i)
    append_lower(cps, i, out);
  return out;
}

std::string python_title(std::string_view text) {
  std::vector<uint32_t> cps = decode_utf8(text);
  std::string out;
  bool previous_cased = false;
  for (size_t i = 0; i < cps.size(); ++i) {
    if (previous_cased) {
      append_lower(cps, i, out);
    } else {
      append_title(cps[i], out);
    }
    previous_cased = is_cased(cps[i]);
  }
  return out;
}

std::string python_capitalize(std::string_view text) {
  std::vector<uint32_t> cps = decode_utf8(text);
  std::string out;
  for (size_t i = 0; i < cps.size(); ++i) {
    if (i == 0) {
      append_title(cps[i], out);
    } else {
      append_lower(cps, i, out);
    }
  }
  return out;
}

std::string jinja_title(std::string_view text) {
  // re.split(r"([-\s({\[<]+)") keeps the separators; each piece is item[0].upper() +
  // item[1:].lower().
  std::vector<uint32_t> cps = decode_utf8(text);
  auto is_separator = [](uint32_t c) {
    return c == '-' || c == '(' || c == '{' || c == '[' || c == '<' || is_python_space(c);
  };
  std::string out;
  size_t i = 0;
  while (i < cps.size()) {
    size_t start = i;
    bool separator = is_separator(cps[i]);
    while (i < cps.size() && is_separator(cps[i]) == separator)
      ++i;
    std::vector<uint32_t> piece(cps.begin() + start, cps.begin() + i);
    append_upper(piece[0], out);
    for (size_t k = 1; k < piece.size(); ++k)
      append_lower(piece, k, out);
  }
  return out;
}

bool python_is_upper(std::string_view text) {
  bool any_cased = false;
  for (uint32_t c : decode_utf8(text)) {
    if (is_lower_cp(c))
      return false;
    if (is_upper_cp(c))
      any_cased = true;
  }
  return any_cased;
}

bool python_is_lower(std::string_view text) {
  bool any_cased = false;
  for (uint32_t c : decode_utf8(text)) {
    if (is_upper_cp(c))
      return false;
    if (is_lower_cp(c))
      any_cased = true;
  }
  return any_cased;
}

std::string python_string_repr(std::string_view text) {
  bool has_single = text.find('\'') != std::string_view::npos;
  bool has_double = text.find('"') != std::string_view::npos;
  char quote = (has_single && !has_double) ? '"' : '\'';
  std::string out(1, quote);
  for (uint32_t c : decode_utf8(text)) {
    if (c == static_cast<uint32_t>(quote) || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (is_printable(c)) {
      append_utf8(c, out);
    } else {
      char buffer[16];
      if (c < 0x100) {
        std::snprintf(buffer, sizeof buffer, "\\x%02x", c);
      } else if (c < 0x10000) {
        std::snprintf(buffer, sizeof buffer, "\\u%04x", c);
      } else {
        std::snprintf(buffer, sizeof buffer, "\\U%08x", c);
      }
      out += buffer;
    }
  }
  out += quote;
  return out;
}

}  // namespace dpo::jinja
