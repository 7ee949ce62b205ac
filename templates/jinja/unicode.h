// Python-compatible text operations on UTF-8 strings for the template engine: code-point
// iteration, Python's notion of whitespace (str.isspace), case mapping (str.upper/lower/title/
// capitalize) for the scripts chat data commonly uses, and Python's repr() of a string.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/utf8.h"  // is_python_space (Python's str.isspace), decode_utf8_at

namespace dpo::jinja {

// Decodes UTF-8 into code points (core/utf8.h decode_utf8_at). A byte that is not part of a
// well-formed sequence becomes 0xDC00 + byte (Python's "surrogateescape"), which append_utf8 and
// encode_utf8 turn back into that byte, so any byte string survives a round trip.
std::vector<uint32_t> decode_utf8(std::string_view text);
// dpo::append_utf8, except that an escaped byte (U+DC80-U+DCFF) is written back as that byte.
void append_utf8(uint32_t code_point, std::string& out);
std::string encode_utf8(const std::vector<uint32_t>& code_points);
std::string encode_utf8(const std::vector<uint32_t>& code_points, size_t begin, size_t end);

// Number of code points (what Python's len() gives for a str).
size_t code_point_count(std::string_view text);
bool is_ascii(std::string_view text);

// str.strip / lstrip / rstrip: without `chars`, Python whitespace; with `chars`, any of its
// code points.
std::string python_strip(std::string_view text, bool left, bool right);
std::string python_strip_chars(
    std::string_view text, std::string_view chars, bool left, bool right);

// str.split(sep, maxsplit) and the whitespace form str.split(None, maxsplit); maxsplit < 0: all.
std::vector<std::string> python_split(
    std::string_view text, std::string_view sep, int64_t maxsplit);
std::vector<std::string> python_split_whitespace(std::string_view text, int64_t maxsplit);
// str.rsplit(sep, maxsplit) with an explicit separator.
std::vector<std::string> python_rsplit(
    std::string_view text, std::string_view sep, int64_t maxsplit);
// str.splitlines() (without keepends): \n, \r, \r\n, \v, \f, \x1c-\x1e, \x85, U+2028, U+2029.
std::vector<std::string> python_splitlines(std::string_view text);

// str.replace(old, new, count); count < 0: all.
std::string python_replace(
    std::string_view text, std::string_view old_text, std::string_view new_text, int64_t count);

// Case mapping. Covers ASCII, Latin-1, Latin Extended-A, Latin Extended Additional (Vietnamese),
// Greek, Cyrillic, Armenian and full-width Latin; other code points are left as they are
// (scripts without case, such as CJK, are unaffected in Python too).
std::string python_upper(std::string_view text);
std::string python_lower(std::string_view text);
std::string python_title(std::string_view text);       // str.title()
std::string python_capitalize(std::string_view text);  // str.capitalize()
// Jinja's `title` filter: words start after '-', whitespace, '(', '{', '[' or '<'.
std::string jinja_title(std::string_view text);
bool python_is_upper(std::string_view text);  // str.isupper()
bool python_is_lower(std::string_view text);  // str.islower()

// Python's repr() of a str: single quotes unless the text holds ' and no ", backslash escapes
// for \\, the quote, \n \r \t and other control characters.
std::string python_string_repr(std::string_view text);

}  // namespace dpo::jinja
