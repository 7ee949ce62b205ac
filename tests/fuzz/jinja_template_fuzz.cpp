// libFuzzer target for the Jinja engine: the input is a chat template, parsed and rendered on a
// fixed two-turn conversation. Any input must render or end in a dpo::Error (syntax errors,
// failures, and the engine's work limits); never a crash, a hang, unbounded memory or another
// exception.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/error.h"
#include "templates/chat_template.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  static const std::vector<dpo::Message> messages = [] {
    std::vector<dpo::Message> m(3);
    m[0].role = "system";
    m[0].content = "Be brief.";
    m[1].role = "user";
    m[1].content = "What is 2+2?";
    m[2].role = "assistant";
    m[2].content = "4";
    return m;
  }();
  dpo::ChatTemplateVariables variables;
  variables.bos_token = "<s>";
  variables.eos_token = "</s>";
  variables.now = std::tm{};
  try {
    const dpo::ChatTemplate chat_template(text, "fuzz.jinja");
    chat_template.render(messages, /*add_generation_prompt=*/true, variables);
  } catch (const dpo::Error&) {
  }
  return 0;
}
