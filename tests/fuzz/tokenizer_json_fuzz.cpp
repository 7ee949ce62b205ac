// libFuzzer target for tokenizer.json (tokenizer/hf_json_tokenizer.h): the input is a
// tokenizer.json, optionally followed by a NUL and a text. A file that loads must encode the
// text (with and without special tokens) and decode the ids it gave; any other file must be
// refused with a dpo::Error. Never a crash, a hang, an out-of-bounds read or another exception.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "tokenizer/hf_json_tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t nul = input.find('\0');
  const std::string_view json = input.substr(0, nul);
  const std::string text =
      nul == std::string_view::npos
          ? std::string("Hello world! 123 <|im_start|>user\n  x\t\xC3\xA9\xF0\x9F\x98\x80")
          : std::string(input.substr(nul + 1));
  try {
    dpo::HfJsonTokenizer tokenizer(json, "fuzz.json");
    for (bool special : {false, true}) {
      std::vector<int32_t> ids = tokenizer.encode(text, special);
      tokenizer.decode(ids, /*skip_special_tokens=*/false);
      tokenizer.decode(ids, /*skip_special_tokens=*/true);
    }
  } catch (const dpo::Error&) {
  }
  return 0;
}
