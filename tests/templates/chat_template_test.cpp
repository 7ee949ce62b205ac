// ChatTemplate: loading (built-ins, .jinja files, model folders, tokenizer_config.json with
// named templates), the variables transformers passes, pinning by SHA-256, and errors.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "core/error.h"
#include "core/hash.h"
#include "templates/chat_template.h"
#include "tests/support/test_support.h"

namespace dpo {
namespace {

std::string source_root() {
  std::string file = __FILE__;
  return file.substr(0, file.rfind("/tests/templates/"));
}

std::vector<Message> chat(std::initializer_list<std::pair<const char*, const char*>> turns) {
  std::vector<Message> messages;
  for (const auto& turn : turns)
    messages.push_back(Message{turn.first, turn.second});
  return messages;
}

ChatTemplateVariables llama_tokens() {
  ChatTemplateVariables v;
  v.bos_token = "<s>";
  v.eos_token = "</s>";
  return v;
}

TEST(ChatTemplate, BuiltinsIncludeTheCommonModelFamilies) {
  std::vector<std::string> names = ChatTemplate::builtin_names();
  for (const char* expected :
       {"chatml",
        "llama2",
        "llama3",
        "llama3_1",
        "mistral",
        "zephyr",
        "gemma",
        "phi3",
        "plain",
        "qwen2_5",
        "qwen3"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), expected), names.end()) << expected;
  }
}

TEST(ChatTemplate, BuiltinsAreTheFilesOfConfigsTemplatesByteForByte) {
  for (const std::string& name : ChatTemplate::builtin_names()) {
    ChatTemplate builtin = ChatTemplate::load(name);
    EXPECT_EQ(builtin.origin(), "builtin:" + name);
    EXPECT_EQ(
        builtin.text(), testing::read_file(source_root() + "/configs/templates/" + name + ".jinja"))
        << name;
  }
}

TEST(ChatTemplate, BuiltinGemmaIsTheTemplateOfGemmasTokenizerConfig) {
  ChatTemplate from_config = ChatTemplate::load(
      source_root() + "/tests/fixtures/templates/torchtune_gemma_tokenizer_config.json");
  EXPECT_EQ(ChatTemplate::load("gemma").sha256(), from_config.sha256());
}

TEST(ChatTemplate, BuiltinQwen3AndLlama31AreTheTemplatesOfTheirTokenizerConfigs) {
  const std::string fixtures = source_root() + "/tests/fixtures/templates/";
  EXPECT_EQ(
      ChatTemplate::load("qwen3").sha256(),
      ChatTemplate::load(fixtures + "hf_qwen3_0_6b_tokenizer_config.json").sha256());
  EXPECT_EQ(
      ChatTemplate::load("llama3_1").sha256(),
      ChatTemplate::load(fixtures + "hf_llama_3_1_8b_instruct_tokenizer_config.json").sha256());
}

// Qwen3: the last assistant turn gets its reasoning in a think block (an empty one when it has
// none); enable_thinking=false, passed as a keyword argument, adds an empty think block to the
// generation prompt. Expected texts: transformers 5.17 apply_chat_template.
TEST(ChatTemplate, Qwen3ThinkingAndEnableThinkingAsInTransformers) {
  ChatTemplate qwen3 = ChatTemplate::load("qwen3");
  EXPECT_EQ(
      qwen3.render(chat({{"user", "Hi"}, {"assistant", "Hello."}}), false, {}),
      "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\nHello."
      "<|im_end|>\n");
  ChatTemplateVariables no_thinking;
  no_thinking.kwargs_json = R"({"enable_thinking": false})";
  EXPECT_EQ(
      qwen3.render(chat({{"user", "Hi"}}), true, no_thinking),
      "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n");
  EXPECT_EQ(
      qwen3.render(chat({{"user", "Hi"}}), true, {}),
      "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  // reasoning_content, which Message has no field for, through render_json.
  EXPECT_EQ(
      qwen3.render_json(
          R"([{"role": "user", "content": "2+2?"},
              {"role": "assistant", "content": "4.", "reasoning_content": "Add."},
              {"role": "user", "content": "3+3?"}])",
          true,
          {}),
      "<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n4.<|im_end|>\n"
      "<|im_start|>user\n3+3?<|im_end|>\n<|im_start|>assistant\n");
}

TEST(ChatTemplate, ToolsAndKeywordArgumentsReachTheTemplate) {
  ChatTemplate t("{{ tools[0].function.name }} {{ tools | length }} {{ flag }} {{ n + 1 }}", "t");
  ChatTemplateVariables v;
  v.tools_json = R"([{"type": "function", "function": {"name": "f"}}, {"type": "function"}])";
  v.kwargs_json = R"({"flag": true, "n": 41})";
  EXPECT_EQ(t.render({}, false, v), "f 2 True 42");
  // A keyword argument wins over a special token of the same name, as in transformers.
  ChatTemplate bos("{{ bos_token }}", "t");
  v.bos_token = "<s>";
  v.kwargs_json = R"({"bos_token": "<|begin_of_text|>"})";
  EXPECT_EQ(bos.render({}, false, v), "<|begin_of_text|>");
}

TEST(ChatTemplate, BadToolsKeywordArgumentsOrJsonMessagesAreDataErrors) {
  ChatTemplate t("{{ messages | length }}", "t");
  ChatTemplateVariables v;
  v.kwargs_json = "[1, 2]";
  EXPECT_THROW(
      {
        try {
          t.render({}, false, v);
        } catch (const DataError& e) {
          EXPECT_NE(std::string(e.what()).find("should be a JSON object"), std::string::npos);
          throw;
        }
      },
      DataError);
  v.kwargs_json.clear();
  v.tools_json = "[{";
  EXPECT_THROW(t.render({}, false, v), DataError);
  v.tools_json.clear();
  EXPECT_THROW(t.render_json(R"({"role": "user"})", false, v), DataError);
  EXPECT_THROW(t.render_json("[", false, v), DataError);
  EXPECT_EQ(t.render_json(R"([{"role": "user", "content": null}])", false, v), "1");
}

TEST(ChatTemplate, RendersChatmlAsTransformersDoes) {
  ChatTemplate t = ChatTemplate::load("chatml");
  auto messages = chat({{"system", "Be brief."}, {"user", "Hi"}});
  EXPECT_EQ(
      t.render(messages, true, {}),
      "<|im_start|>system\nBe "
      "brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(
      t.render(messages, false, {}),
      "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n");
}

TEST(ChatTemplate, Llama2PutsTheSystemPromptInTheFirstTurn) {
  ChatTemplate t = ChatTemplate::load("llama2");
  EXPECT_EQ(
      t.render(chat({{"system", "S"}, {"user", " U "}, {"assistant", "A"}}), false, llama_tokens()),
      "<s>[INST] <<SYS>>\nS\n<</SYS>>\n\n U [/INST] A </s>");
}

TEST(ChatTemplate, PlainTemplateForBaseModels) {
  ChatTemplate t = ChatTemplate::load("plain");
  auto prompt = chat({{"system", "Context."}, {"user", "Question?"}});
  EXPECT_EQ(t.render(prompt, true, llama_tokens()), "Context.\n\nQuestion?\n\n");
  auto full = chat({{"user", "Question?"}, {"assistant", "Answer."}});
  EXPECT_EQ(t.render(full, false, llama_tokens()), "Question?\n\nAnswer.</s>");
  EXPECT_EQ(t.render(full, false, {}), "Question?\n\nAnswer.");
}

TEST(ChatTemplate, EmptyTokensAreNotPassedSoTheyAreUndefined) {
  ChatTemplate t(
      "{{ bos_token is defined }} {{ eos_token }} {{ pad_token | default('none') }} {{ extra_token "
      "}}",
      "t");
  ChatTemplateVariables v;
  v.eos_token = "</s>";
  v.extra["extra_token"] = "<x>";
  EXPECT_EQ(t.render({}, false, v), "False </s> none <x>");
  // The mistral template needs bos_token: without one it fails, as transformers does.
  EXPECT_THROW(ChatTemplate::load("llama2").render(chat({{"user", "x"}}), false, {}), DataError);
}

TEST(ChatTemplate, ToolsAndDocumentsAreNoneAsInTransformers) {
  ChatTemplate t("{{ tools is none }} {{ documents is none }} {{ add_generation_prompt }}", "t");
  EXPECT_EQ(t.render({}, true, {}), "True True True");
}

// An assistant turn that calls two tools (arguments as an object and as a JSON string), their
// results, and the answer. Expected text: transformers' apply_chat_template (jinja2 3.1.6,
// ImmutableSandboxedEnvironment, tojson = json.dumps) on the same messages.
std::vector<Message> tool_conversation() {
  std::vector<Message> messages = chat({{"user", "Weather in Paris?"}});
  Message call{"assistant", ""};
  call.tool_calls_json =
      R"([{"type":"function","function":{"name":"get_weather","arguments":{"city":"Paris","days":2}}},)"
      R"({"type":"function","function":{"name":"get_time","arguments":"{\"tz\": \"CET\"}"}}])";
  messages.push_back(call);
  messages.push_back(Message{"tool", "18C"});
  messages.push_back(Message{"tool", "14:00"});
  messages.push_back(Message{"assistant", "18C and sunny."});
  return messages;
}

TEST(ChatTemplate, ToolCallsReachTheTemplateAsInTransformers) {
  const std::string text = ChatTemplate::load("qwen2_5").render(tool_conversation(), false, {});
  EXPECT_EQ(
      text,
      "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful "
      "assistant.<|im_end|>\n<|im_start|>user\nWeather in Paris?<|im_end|>\n"
      "<|im_start|>assistant\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": "
      "\"Paris\", \"days\": 2}}\n</tool_call>\n<tool_call>\n{\"name\": \"get_time\", "
      "\"arguments\": \"{\\\"tz\\\": \\\"CET\\\"}\"}\n</tool_call><|im_end|>\n"
      "<|im_start|>user\n<tool_response>\n18C\n</tool_response>\n<tool_response>\n14:00\n"
      "</tool_response><|im_end|>\n<|im_start|>assistant\n18C and sunny.<|im_end|>\n");
}

TEST(ChatTemplate, ToolCallTurnsHaveNoneContentAndIndexableCalls) {
  // The Llama 3.1 way: message.tool_calls[0].function, its arguments through tojson.
  ChatTemplate t(
      "{% for m in messages %}{{ m.role }}:"
      "{% if m.tool_calls is defined %}{{ m.content is none }}|{{ m.tool_calls | length }}|"
      "{{ m.tool_calls[0].function.name }}|{{ m.tool_calls[0].function.arguments | tojson }}|"
      "{{ m.tool_calls[0]['type'] }}"
      "{% else %}{{ m.content }}{% endif %};{% endfor %}",
      "t.jinja");
  EXPECT_EQ(
      t.render(tool_conversation(), false, {}),
      "user:Weather in Paris?;assistant:True|2|get_weather|{\"city\": \"Paris\", \"days\": 2}|"
      "function;tool:18C;tool:14:00;assistant:18C and sunny.;");
  // A turn with text and a call keeps its text.
  std::vector<Message> messages = chat({{"user", "q"}});
  Message call{"assistant", "Let me check."};
  call.tool_calls_json =
      R"([{"function":{"name":"f","arguments":{"n":1.0,"ok":true,"none":null,"list":[1,"a"]}}}])";
  messages.push_back(call);
  ChatTemplate args(
      "{{ messages[1].content }}|{{ messages[1].tool_calls[0].function.arguments | tojson }}",
      "a.jinja");
  EXPECT_EQ(
      args.render(messages, false, {}),
      "Let me check.|{\"n\": 1.0, \"ok\": true, \"none\": null, "
      "\"list\": [1, \"a\"]}");
}

TEST(ChatTemplate, StrftimeNowUsesTheGivenTime) {
  ChatTemplate t("{{ strftime_now('%d %b %Y') }}", "t");
  ChatTemplateVariables v;
  std::tm when{};
  when.tm_year = 124;
  when.tm_mon = 6;
  when.tm_mday = 26;
  v.now = when;
  EXPECT_EQ(t.render({}, false, v), "26 Jul 2024");
  EXPECT_EQ(ChatTemplate("{{ strftime_now('%Y') | length }}", "t").render({}, false, {}), "4");
}

TEST(ChatTemplate, RaiseExceptionBecomesADataErrorWithTheMessage) {
  ChatTemplate t = ChatTemplate::load("gemma");
  try {
    t.render(chat({{"system", "S"}, {"user", "U"}}), false, llama_tokens());
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("builtin:gemma:1:"), std::string::npos) << e.what();
    EXPECT_NE(
        std::string(e.what()).find("raise_exception: System role not supported"), std::string::npos)
        << e.what();
  }
}

TEST(ChatTemplate, LoadsAJinjaFileAndPinsItsHash) {
  testing::TempDir dir;
  testing::write_file(dir.file("t.jinja"), "{% for m in messages %}{{ m.content }}{% endfor %}\n");
  ChatTemplate t = ChatTemplate::load(dir.file("t.jinja"));
  EXPECT_EQ(t.origin(), dir.file("t.jinja"));
  EXPECT_EQ(t.sha256(), sha256_hex("{% for m in messages %}{{ m.content }}{% endfor %}\n"));
  EXPECT_EQ(t.render(chat({{"user", "a"}, {"assistant", "b"}}), false, {}), "ab");
}

TEST(ChatTemplate, LoadsFromAModelFolderOrItsConfigWithNamedTemplates) {
  testing::TempDir dir;
  testing::write_file(
      dir.file("tokenizer_config.json"),
      R"({"chat_template": [{"name": "default", "template": "D{{ messages | length }}"},)"
      R"( {"name": "tool_use", "template": "T"}]})");
  EXPECT_EQ(ChatTemplate::load(dir.path()).render(chat({{"user", "x"}}), false, {}), "D1");
  EXPECT_EQ(ChatTemplate::load(dir.path() + "#tool_use").text(), "T");
  ChatTemplate from_file = ChatTemplate::load(dir.file("tokenizer_config.json") + "#tool_use");
  EXPECT_EQ(from_file.text(), "T");
  EXPECT_EQ(from_file.origin(), dir.file("tokenizer_config.json") + "#tool_use");
  try {
    ChatTemplate::load(dir.path() + "#rag");
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(
        std::string(e.what()).find("no chat template named 'rag' (it has: default, tool_use)"),
        std::string::npos)
        << e.what();
  }
}

TEST(ChatTemplate, LoadErrorsSayWhatToDo) {
  testing::TempDir dir;
  testing::write_file(dir.file("tokenizer_config.json"), R"({"bos_token": "<s>"})");
  EXPECT_THROW(ChatTemplate::load(dir.path()), ConfigError);
  EXPECT_THROW(ChatTemplate::load("no_such_builtin"), ConfigError);
  EXPECT_THROW(ChatTemplate::load(dir.file("missing.jinja")), IoError);
  testing::write_file(dir.file("bad.jinja"), "ok\n{% if %}");
  try {
    ChatTemplate::load(dir.file("bad.jinja"));
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()).find(dir.file("bad.jinja") + ":2:7:"), 0u) << e.what();
  }
}

TEST(ChatTemplate, PathsThatCannotBeReadSayWhy) {
  testing::TempDir dir;
  ASSERT_EQ(symlink("loop.jinja", dir.file("loop.jinja").c_str()), 0);
  ASSERT_EQ(symlink("gone.jinja", dir.file("dangling.jinja").c_str()), 0);
  auto io_message = [](const std::string& spec) {
    try {
      ChatTemplate::load(spec);
    } catch (const IoError& e) {
      return e.message();
    }
    return std::string("(no IoError)");
  };
  EXPECT_EQ(
      io_message(dir.file("loop.jinja")),
      "chat template '" + dir.file("loop.jinja") +
          "' is a symlink loop (ELOOP: too many levels of symbolic links)");
  EXPECT_EQ(
      io_message(dir.file("dangling.jinja")),
      "chat template '" + dir.file("dangling.jinja") +
          "' is a dangling symlink to 'gone.jinja' (its target does not exist)");
  EXPECT_EQ(
      io_message(dir.file("missing.jinja")),
      "chat template '" + dir.file("missing.jinja") + "' not found (no such file or folder)");
  // A model folder without the files names what is missing, with the path escaped.
  ASSERT_EQ(mkdir(dir.file("m\x1b").c_str(), 0755), 0);
  EXPECT_EQ(
      io_message(dir.file("m\x1b")), "'" + dir.file("m\\x1b") + "' has no tokenizer_config.json");
}

}  // namespace
}  // namespace dpo
