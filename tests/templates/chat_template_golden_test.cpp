// Golden tests: every built-in template and every template in tests/fixtures/templates/ is
// rendered over the conversations of goldens.json and compared byte for byte with what Jinja2
// rendered (tools/make_template_goldens.py, with transformers' environment). Cases where Jinja2
// failed must fail here too; raise_exception messages must match. The "rich" conversations
// (tool_calls, reasoning_content, <think> blocks) go through render_json, the plain ones through
// render(std::vector<Message>); cases may add `tools` and template keyword arguments.
#include <gtest/gtest.h>

#include <ctime>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "core/error.h"
#include "templates/chat_template.h"
#include "tests/support/test_support.h"

namespace dpo {
namespace {

// Ordered: tools and messages must reach the template with their keys in the file's order.
using json = nlohmann::ordered_json;

// The repository root, from this file's path (the test needs no working directory).
std::string source_root() {
  std::string file = __FILE__;
  return file.substr(0, file.rfind("/tests/templates/"));
}

const json& goldens() {
  static const json data =
      json::parse(testing::read_file(source_root() + "/tests/fixtures/templates/goldens.json"));
  return data;
}

std::tm fixed_now() {
  // 2024-07-26T09:05:03, as in the goldens; timegm fills in the weekday and day of the year.
  std::tm when{};
  when.tm_year = 2024 - 1900;
  when.tm_mon = 6;
  when.tm_mday = 26;
  when.tm_hour = 9;
  when.tm_min = 5;
  when.tm_sec = 3;
  std::time_t t = timegm(&when);
  gmtime_r(&t, &when);
  return when;
}

// A rich conversation as the data library gives it to templates (Message: role, content and
// tool_calls; content None exactly when a turn has tool calls and no text), when it can be
// written so: nullopt for reasoning_content, dict or list content, an empty string beside
// tool calls.
std::optional<std::vector<Message>> as_messages(const json& conversation) {
  std::vector<Message> out;
  for (const json& m : conversation) {
    for (const auto& item : m.items()) {
      if (item.key() != "role" && item.key() != "content" && item.key() != "tool_calls")
        return std::nullopt;
    }
    const bool calls = m.contains("tool_calls");
    const json& content = m["content"];
    if (!(content.is_string() && !(calls && content.get<std::string>().empty())) &&
        !(content.is_null() && calls))
      return std::nullopt;
    Message message{m["role"], content.is_string() ? content.get<std::string>() : ""};
    if (calls)
      message.tool_calls_json = m["tool_calls"].dump();
    out.push_back(message);
  }
  return out;
}

ChatTemplate load_golden_template(const json& entry) {
  std::string spec = entry["spec"];
  if (entry["name"].get<std::string>().rfind("builtin:", 0) == 0)
    return ChatTemplate::load(spec);
  return ChatTemplate::load(source_root() + "/" + spec);
}

TEST(ChatTemplateGolden, GoldensCoverEveryBuiltinTemplate) {
  std::vector<std::string> covered;
  for (const json& entry : goldens()["templates"])
    covered.push_back(entry["name"]);
  for (const std::string& name : ChatTemplate::builtin_names()) {
    EXPECT_NE(std::find(covered.begin(), covered.end(), "builtin:" + name), covered.end())
        << "re-run tools/make_template_goldens.py: built-in '" << name << "' has no goldens";
  }
  EXPECT_GE(goldens()["cases"].size(), 1400u);
}

TEST(ChatTemplateGolden, TemplatesAreTheOnesJinjaRendered) {
  for (const json& entry : goldens()["templates"]) {
    ChatTemplate chat = load_golden_template(entry);
    EXPECT_EQ(chat.sha256(), entry["sha256"].get<std::string>())
        << entry["name"] << " changed since the goldens were made; re-run "
        << "tools/make_template_goldens.py";
  }
}

TEST(ChatTemplateGolden, RenderingsEqualJinja2ByteForByte) {
  std::map<std::string, ChatTemplate> templates;
  for (const json& entry : goldens()["templates"]) {
    templates.emplace(entry["name"].get<std::string>(), load_golden_template(entry));
  }
  std::map<std::string, ChatTemplateVariables> variables;
  for (const auto& tokens : goldens()["tokens"].items()) {
    ChatTemplateVariables v;
    v.bos_token = tokens.value().value("bos_token", "");
    v.eos_token = tokens.value().value("eos_token", "");
    v.unk_token = tokens.value().value("unk_token", "");
    v.pad_token = tokens.value().value("pad_token", "");
    v.now = fixed_now();
    variables[tokens.key()] = v;
  }
  size_t rendered = 0, failed_as_expected = 0, rich = 0, with_tools = 0, with_kwargs = 0,
         through_messages = 0;
  for (const json& c : goldens()["cases"]) {
    std::string label = c["template"].get<std::string>() + " / " +
                        c["conversation"].get<std::string>() + " / " +
                        c["tokens"].get<std::string>() +
                        (c["add_generation_prompt"].get<bool>() ? " / add_generation_prompt" : "") +
                        (c.contains("tools") ? " / tools" : "") +
                        (c.contains("kwargs") ? " / " + c["kwargs"].dump() : "");
    SCOPED_TRACE(label);
    const std::string conversation = c["conversation"];
    const bool is_rich = goldens()["rich_conversations"].contains(conversation);
    std::vector<Message> messages;
    if (!is_rich) {
      for (const json& m : goldens()["conversations"][conversation])
        messages.push_back(Message{m["role"], m["content"]});
    }
    const ChatTemplate& chat = templates.at(c["template"]);
    ChatTemplateVariables vars = variables.at(c["tokens"]);
    if (c.contains("tools")) {
      vars.tools_json = goldens()["tools"][c["tools"].get<std::string>()].dump();
      ++with_tools;
    }
    if (c.contains("kwargs")) {
      vars.kwargs_json = c["kwargs"].dump();
      ++with_kwargs;
    }
    bool add_generation_prompt = c["add_generation_prompt"];
    auto render = [&] {
      if (is_rich) {
        ++rich;
        return chat.render_json(
            goldens()["rich_conversations"][conversation].dump(), add_generation_prompt, vars);
      }
      return chat.render(messages, add_generation_prompt, vars);
    };
    if (c.contains("expected")) {
      try {
        EXPECT_EQ(render(), c["expected"].get<std::string>());
        ++rendered;
        // The same conversation through Message, as rows reach the template.
        if (is_rich) {
          if (auto as_rows = as_messages(goldens()["rich_conversations"][conversation])) {
            EXPECT_EQ(
                chat.render(*as_rows, add_generation_prompt, vars),
                c["expected"].get<std::string>())
                << "through std::vector<Message>";
            ++through_messages;
          }
        }
      } catch (const Error& e) {
        ADD_FAILURE() << "Jinja2 rendered this case but dpo failed: " << e.what();
      }
    } else {
      try {
        std::string output = render();
        ADD_FAILURE() << "Jinja2 failed (" << c.dump() << ") but dpo rendered:\n" << output;
      } catch (const DataError& e) {
        ++failed_as_expected;
        if (c.contains("raises")) {
          EXPECT_NE(
              std::string(e.what()).find("raise_exception: " + c["raises"].get<std::string>()),
              std::string::npos)
              << e.what();
        } else {
          EXPECT_EQ(std::string(e.what()).find("raise_exception"), std::string::npos) << e.what();
        }
      }
    }
  }
  EXPECT_GT(rendered, 1000u);
  EXPECT_GT(failed_as_expected, 50u);
  EXPECT_GT(rich, 500u);
  EXPECT_GT(with_tools, 100u);
  EXPECT_GT(with_kwargs, 100u);
  EXPECT_GT(through_messages, 200u);
}

}  // namespace
}  // namespace dpo
