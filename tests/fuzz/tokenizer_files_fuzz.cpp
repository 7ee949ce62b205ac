// libFuzzer target for the tokenizer files dpo parses itself: tokenizer_config.json (with
// special_tokens_map.json) and the protobuf of a sentencepiece tokenizer.model (the fields dpo
// reads, and the rewrite of add_dummy_prefix). The input's first byte chooses the parser.
// Any input must give a result or a dpo::Error; never a crash, a hang or an out-of-bounds read.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/error.h"
#include "tokenizer/hf_tokenizer_config.h"
#include "tokenizer/sentencepiece_proto.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0)
    return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  try {
    if (data[0] % 2 == 0) {
      // tokenizer_config.json, then a NUL, then special_tokens_map.json (optional).
      const size_t nul = rest.find('\0');
      const std::string config(rest.substr(0, nul));
      const std::string map(nul == std::string_view::npos ? "" : rest.substr(nul + 1));
      dpo::parse_hf_tokenizer_config("fuzz", config, map);
    } else {
      dpo::read_sentencepiece_model_info(rest, "fuzz.model");
      // A rewrite must itself parse, with the flag as set.
      const std::string rewritten = dpo::set_sentencepiece_add_dummy_prefix(rest, false, "fuzz");
      if (dpo::read_sentencepiece_model_info(rewritten, "rewritten").add_dummy_prefix)
        std::abort();
    }
  } catch (const dpo::Error&) {
  }
  return 0;
}
