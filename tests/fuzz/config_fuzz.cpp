// libFuzzer target for training configs: the input's first line is a `--set` override
// ("section.key=value"), the rest a config file's JSON. Parsing, the override and validation
// must end in a valid config or a dpo::Error, and an accepted config must survive its own
// round trip (to_json_text, parsed back, gives the same hash).
#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/error.h"
#include "trainer/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  const size_t newline = input.find('\n');
  const std::string assignment = input.substr(0, newline);
  const std::string text = newline == std::string::npos ? "" : input.substr(newline + 1);
  try {
    dpo::Config config = dpo::config_from_json_text(text, "fuzz.json");
    dpo::apply_override(config, assignment);
    dpo::validate_config(config);
    const dpo::Config again = dpo::config_from_json_text(dpo::to_json_text(config), "again");
    if (dpo::config_hash(again) != dpo::config_hash(config))
      std::abort();
  } catch (const dpo::Error&) {
  }
  return 0;
}
