// Unicode normalisation and properties through ICU (see hf_unicode.h).
#include "tokenizer/hf_unicode.h"

#include <unicode/bytestream.h>
#include <unicode/normalizer2.h>
#include <unicode/stringpiece.h>
#include <unicode/uchar.h>
#include <unicode/uniset.h>
#include <unicode/unistr.h>

#include <memory>
#include <mutex>

#include "core/error.h"

namespace dpo {
namespace {

// The normaliser of `form` restricted to the characters of Unicode 9.0, the version of the
// unicode-normalization-alignments tables inside the tokenizers library: a character assigned
// later is left as it is there (no decomposition, combining class 0), and ICU's
// FilteredNormalizer2 does the same with the characters outside its set.
struct FilteredForm {
  icu::UnicodeSet set;
  std::unique_ptr<icu::FilteredNormalizer2> normalizer;
};

const icu::Normalizer2& base_normalizer(UnicodeForm form) {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* instance = nullptr;
  switch (form) {
    case UnicodeForm::nfc:
      instance = icu::Normalizer2::getNFCInstance(status);
      break;
    case UnicodeForm::nfd:
      instance = icu::Normalizer2::getNFDInstance(status);
      break;
    case UnicodeForm::nfkc:
      instance = icu::Normalizer2::getNFKCInstance(status);
      break;
    case UnicodeForm::nfkd:
      instance = icu::Normalizer2::getNFKDInstance(status);
      break;
  }
  if (U_FAILURE(status) || instance == nullptr) {
    throw ConfigError(
        std::string("ICU cannot load its normalisation data: ") + u_errorName(status),
        "check the libicu installation (tools/install_deps.sh)");
  }
  return *instance;
}

const icu::Normalizer2& normalizer(UnicodeForm form) {
  static FilteredForm forms[4];
  static std::once_flag once;
  std::call_once(once, [] {
    for (int i = 0; i < 4; ++i) {
      UErrorCode status = U_ZERO_ERROR;
      forms[i].set.applyPattern(icu::UnicodeString("[:age=9.0:]"), status);
      if (U_FAILURE(status)) {
        throw ConfigError(
            std::string("ICU cannot build the set of Unicode 9.0 characters: ") +
                u_errorName(status),
            "check the libicu installation (tools/install_deps.sh)");
      }
      forms[i].set.freeze();
      forms[i].normalizer = std::make_unique<icu::FilteredNormalizer2>(
          base_normalizer(static_cast<UnicodeForm>(i)), forms[i].set);
    }
  });
  return *forms[static_cast<int>(form)].normalizer;
}

bool is_ascii(std::string_view text) {
  for (char c : text) {
    if (static_cast<unsigned char>(c) >= 0x80)
      return false;
  }
  return true;
}

}  // namespace

std::string unicode_normalize(std::string_view text, UnicodeForm form) {
  // ASCII is left unchanged by all four forms.
  if (is_ascii(text))
    return std::string(text);
  const icu::Normalizer2& n = normalizer(form);
  UErrorCode status = U_ZERO_ERROR;
  const icu::StringPiece piece(text.data(), static_cast<int32_t>(text.size()));
  if (n.isNormalizedUTF8(piece, status) && U_SUCCESS(status))
    return std::string(text);
  status = U_ZERO_ERROR;
  std::string out;
  out.reserve(text.size() + text.size() / 4);
  icu::StringByteSink<std::string> sink(&out);
  n.normalizeUTF8(0, piece, sink, nullptr, status);
  if (U_FAILURE(status)) {
    throw DataError(std::string("Unicode normalisation failed: ") + u_errorName(status));
  }
  return out;
}

bool unicode_is_white_space(uint32_t c) {
  return u_isUWhiteSpace(static_cast<UChar32>(c)) != 0;
}

bool unicode_is_numeric(uint32_t c) {
  const int8_t type = u_charType(static_cast<UChar32>(c));
  return type == U_DECIMAL_DIGIT_NUMBER || type == U_LETTER_NUMBER || type == U_OTHER_NUMBER;
}

bool unicode_is_word(uint32_t c) {
  const auto cp = static_cast<UChar32>(c);
  if (u_hasBinaryProperty(cp, UCHAR_ALPHABETIC) || u_hasBinaryProperty(cp, UCHAR_JOIN_CONTROL))
    return true;
  const int8_t type = u_charType(cp);
  return type == U_NON_SPACING_MARK || type == U_ENCLOSING_MARK ||
         type == U_COMBINING_SPACING_MARK || type == U_DECIMAL_DIGIT_NUMBER ||
         type == U_CONNECTOR_PUNCTUATION;
}

}  // namespace dpo
