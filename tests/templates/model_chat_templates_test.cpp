#include "templates/model_chat_templates.h"

#include <gtest/gtest.h>

#include "core/error.h"
#include "tests/support/test_support.h"

namespace dpo {
namespace {

TEST(ModelChatTemplates, APlainStringIsTheDefaultTemplate) {
  ModelChatTemplates templates = parse_tokenizer_config_chat_templates(
      R"({"chat_template": "{{ bos_token }}{% for m in messages %}{{ m['content'] }}{% endfor %}"})",
      "m/tokenizer_config.json");
  const NamedChatTemplate* chat = templates.find();
  ASSERT_NE(chat, nullptr);
  EXPECT_EQ(chat->name, "default");
  EXPECT_EQ(chat->text, "{{ bos_token }}{% for m in messages %}{{ m['content'] }}{% endfor %}");
  EXPECT_EQ(templates.source, "m/tokenizer_config.json");
}

TEST(ModelChatTemplates, NamedTemplatesAreFoundByName) {
  ModelChatTemplates templates = parse_tokenizer_config_chat_templates(
      R"({
    "chat_template": [{"name": "default", "template": "A"}, {"name": "tool_use", "template": "B"}]
  })",
      "m/tokenizer_config.json");
  ASSERT_EQ(templates.templates.size(), 2u);
  EXPECT_EQ(templates.find("tool_use")->text, "B");
  EXPECT_EQ(templates.find()->text, "A");
  EXPECT_EQ(templates.find("rag"), nullptr);
}

TEST(ModelChatTemplates, AMalformedEntryNamesFileAndKey) {
  try {
    parse_tokenizer_config_chat_templates(R"({"chat_template": [{"name": "x"}]})", "m/tc.json");
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& error) {
    EXPECT_NE(std::string(error.what()).find("'m/tc.json': `chat_template[0]`"), std::string::npos)
        << error.what();
  }
  EXPECT_THROW(
      parse_tokenizer_config_chat_templates(R"({"chat_template": 3})", "m/tc.json"), ConfigError);
}

TEST(ModelChatTemplates, AJinjaFileBesideTheConfigWins) {
  testing::TempDir folder;
  EXPECT_TRUE(read_model_chat_templates(folder.path()).templates.empty());
  testing::write_file(
      folder.file("tokenizer_config.json"),
      R"({"chat_template": "from config", "bos_token": "<s>"})");
  ModelChatTemplates templates = read_model_chat_templates(folder.path());
  EXPECT_EQ(templates.find()->text, "from config");
  EXPECT_EQ(templates.source, folder.file("tokenizer_config.json"));

  // As in recent transformers: chat_template.jinja beside the config wins.
  testing::write_file(folder.file("chat_template.jinja"), "from jinja file");
  templates = read_model_chat_templates(folder.path());
  EXPECT_EQ(templates.find()->text, "from jinja file");
  EXPECT_EQ(templates.source, folder.file("chat_template.jinja"));
}

}  // namespace
}  // namespace dpo
