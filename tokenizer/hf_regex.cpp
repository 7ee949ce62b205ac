// HfRegex: PCRE2 with Oniguruma's find_iter semantics (see hf_regex.h).
#include "tokenizer/hf_regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "core/error.h"

namespace dpo {
namespace {

// Rewrites the escapes whose meaning differs between Oniguruma (Ruby syntax) and PCRE2.
std::string rewrite_oniguruma(const std::string& pattern) {
  std::string out;
  out.reserve(pattern.size() + 16);
  bool in_class = false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size()) {
      const char next = pattern[++i];
      if (next == 's') {
        out += "\\p{White_Space}";
      } else if (next == 'S') {
        out += "\\P{White_Space}";
      } else if (next == 'h') {
        out += in_class ? "0-9a-fA-F" : "[0-9a-fA-F]";
      } else if (next == 'H' && !in_class) {
        out += "[^0-9a-fA-F]";
      } else {
        out += c;
        out += next;
      }
      continue;
    }
    if (!in_class && c == '[') {
      in_class = true;
      out += c;
      // A ']' (or '^]') right after the opening bracket is a literal.
      if (i + 1 < pattern.size() && pattern[i + 1] == '^') {
        out += pattern[++i];
      }
      if (i + 1 < pattern.size() && pattern[i + 1] == ']') {
        out += pattern[++i];
      }
      continue;
    }
    if (in_class && c == ']') {
      in_class = false;
    }
    out += c;
  }
  return out;
}

std::string quote_literal(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (std::string_view("\\^$.|?*+()[]{}-#&~ \t\n\r\f\v").find(c) != std::string_view::npos) {
      out += '\\';
    }
    out += c;
  }
  return out;
}

// Per-thread match state shared by every compiled pattern: one ovector pair is enough (only
// the whole match is used; pcre2_match still fills it when the pattern has groups).
struct MatchState {
  pcre2_match_data* data = nullptr;
  pcre2_match_context* context = nullptr;
  pcre2_jit_stack* jit_stack = nullptr;
  MatchState() {
    data = pcre2_match_data_create(1, nullptr);
    context = pcre2_match_context_create(nullptr);
    jit_stack = pcre2_jit_stack_create(64 * 1024, 8 * 1024 * 1024, nullptr);
    if (jit_stack != nullptr)
      pcre2_jit_stack_assign(context, nullptr, jit_stack);
  }
  ~MatchState() {
    pcre2_jit_stack_free(jit_stack);
    pcre2_match_context_free(context);
    pcre2_match_data_free(data);
  }
};

MatchState& match_state() {
  thread_local MatchState state;
  return state;
}

std::string pcre2_message(int code) {
  PCRE2_UCHAR buffer[256];
  if (pcre2_get_error_message(code, buffer, sizeof(buffer)) < 0)
    return "PCRE2 error " + std::to_string(code);
  return reinterpret_cast<const char*>(buffer);
}

}  // namespace

struct HfRegex::Impl {
  std::string source;    // the pattern as written in tokenizer.json
  std::string compiled;  // what PCRE2 compiled
  std::string where;
  pcre2_code* code = nullptr;
  // Literal patterns are searched with string_view::find.
  bool is_literal = false;
  std::string literal;
  ~Impl() {
    pcre2_code_free(code);
  }
};

HfRegex::HfRegex(const std::string& pattern, const std::string& where)
    : impl_(std::make_unique<Impl>()) {
  impl_->source = pattern;
  impl_->where = where;
  impl_->compiled = rewrite_oniguruma(pattern);
  int error = 0;
  PCRE2_SIZE offset = 0;
  // MULTILINE: in Ruby syntax ^ and $ match at line breaks.
  impl_->code = pcre2_compile(
      reinterpret_cast<PCRE2_SPTR>(impl_->compiled.data()),
      impl_->compiled.size(),
      PCRE2_UTF | PCRE2_UCP | PCRE2_MULTILINE,
      &error,
      &offset,
      nullptr);
  if (impl_->code == nullptr) {
    throw ConfigError(
        where + ": regex '" + pattern + "' is rejected by PCRE2: " + pcre2_message(error) +
            " at offset " + std::to_string(offset) +
            (impl_->compiled != pattern ? " of '" + impl_->compiled + "'" : std::string()),
        "fix the pattern in tokenizer.json (the tokenizers library uses Oniguruma syntax)");
  }
  // JIT where the library has it; the interpreter gives the same matches otherwise.
  pcre2_jit_compile(impl_->code, PCRE2_JIT_COMPLETE);
}

HfRegex HfRegex::literal(const std::string& text, const std::string& where) {
  if (text.empty())
    return HfRegex("", where);  // matches the empty string everywhere, as tokenizers' does
  HfRegex regex;
  regex.impl_ = std::make_unique<Impl>();
  regex.impl_->source = text;
  regex.impl_->compiled = quote_literal(text);
  regex.impl_->where = where;
  regex.impl_->is_literal = true;
  regex.impl_->literal = text;
  return regex;
}

HfRegex::~HfRegex() = default;
HfRegex::HfRegex(HfRegex&&) noexcept = default;
HfRegex& HfRegex::operator=(HfRegex&&) noexcept = default;

const std::string& HfRegex::compiled_pattern() const {
  return impl_->compiled;
}

void HfRegex::find_all(std::string_view text, std::vector<std::pair<size_t, size_t>>& out) const {
  if (impl_->is_literal) {
    const std::string& needle = impl_->literal;
    size_t pos = 0;
    while ((pos = text.find(needle, pos)) != std::string_view::npos) {
      out.emplace_back(pos, pos + needle.size());
      pos += needle.size();
    }
    return;
  }
  MatchState& state = match_state();
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t last_end = 0;
  bool has_last_match = false;
  size_t last_match_end = 0;
  while (last_end <= text.size()) {
    const int rc = pcre2_match(
        impl_->code, subject, text.size(), last_end, PCRE2_NO_UTF_CHECK, state.data, state.context);
    if (rc == PCRE2_ERROR_NOMATCH)
      break;
    if (rc < 0) {
      throw DataError(
          impl_->where + ": matching regex '" + impl_->source + "' failed: " + pcre2_message(rc),
          "the text is too large or too deeply nested for the pattern");
    }
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(state.data);
    const size_t start = ovector[0];
    const size_t end = ovector[1];
    if (start == end && has_last_match && last_match_end == end) {
      // onig's find_iter: no empty match right after the previous one; step one character.
      if (last_end >= text.size()) {
        ++last_end;
      } else {
        size_t step = 1;
        while (last_end + step < text.size() &&
               (static_cast<unsigned char>(text[last_end + step]) & 0xC0) == 0x80)
          ++step;
        last_end += step;
      }
      continue;
    }
    last_end = end;
    has_last_match = true;
    last_match_end = end;
    out.emplace_back(start, end);
  }
}

}  // namespace dpo
