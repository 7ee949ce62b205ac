// Small text helpers shared by the data checks: whitespace, UTF-8 and matching keys.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace dpo {

// ASCII whitespace: space, \t, \n, \v, \f, \r.
inline bool is_ascii_space(unsigned char c) {
  return c == ' ' || (c >= '\t' && c <= '\r');
}

// Removes leading and trailing ASCII whitespace.
std::string_view trim_whitespace(std::string_view text);

// True when the text is empty or ASCII whitespace only.
bool is_blank(std::string_view text);

// Number of Unicode code points in valid UTF-8 text (bytes that do not start with 10xxxxxx).
size_t count_code_points(std::string_view utf8);

// True when the bytes are well-formed UTF-8 (no overlong forms, no surrogates, <= U+10FFFF).
bool is_valid_utf8(std::string_view bytes);
// Offset of the first byte that is not part of well-formed UTF-8; npos when all are.
size_t first_invalid_utf8(std::string_view bytes);

// The key under which two texts count as "the same" for duplicate and split matching:
// runs of ASCII whitespace become one space, the ends are trimmed, ASCII letters are
// lower-cased. Appends to `out`.
void append_matching_key(std::string_view text, std::string& out);

// Replaces control characters and cuts the text to about `max_bytes` (at a UTF-8 boundary),
// for quoting user data in one-line messages.
std::string excerpt_for_message(std::string_view text, size_t max_bytes = 60);

// The text with every byte a terminal could misread made visible, for echoing paths and values
// from files in messages: control bytes (< 0x20, 0x7F) as \xNN (\n, \t, \r as themselves
// escaped), C1 controls U+0080-U+009F as \u00NN, bytes that are not valid UTF-8 as \xNN, and a
// backslash as \\ only when the text needed another escape (so ordinary paths read unchanged).
std::string printable(std::string_view text);

// The text as a JSON string literal, quotes included (UTF-8 passed through, control characters
// escaped as Python's json.dumps(ensure_ascii=False) escapes them). Used where writing a line of
// JSON does not warrant a JSON library.
std::string json_quote(std::string_view text);
// The same escaping without the quotes, appended to `out`.
void append_json_escaped(std::string_view text, std::string& out);

// HTML-escapes & < > " ' the way Python's markupsafe.escape does (" as &#34;, ' as &#39;): the
// bytes Jinja2 autoescaping produces, and safe in HTML text and attribute values.
std::string html_escape(std::string_view text);

}  // namespace dpo
