#include "tokenizer/hf_tokenizer_config.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <functional>

#include "core/error.h"
#include "tests/support/test_support.h"

namespace dpo {
namespace {

// The shape of a Llama-2 / Mistral tokenizer_config.json.
const char* kLlamaConfig = R"({
  "add_bos_token": true,
  "add_eos_token": false,
  "added_tokens_decoder": {
    "2": {"content": "</s>", "lstrip": false, "normalized": false, "rstrip": false,
          "single_word": false, "special": true},
    "0": {"content": "<unk>", "lstrip": false, "normalized": false, "rstrip": false,
          "single_word": false, "special": true},
    "1": {"content": "<s>", "lstrip": false, "normalized": false, "rstrip": false,
          "single_word": false, "special": true},
    "32000": {"content": "<tool>", "lstrip": true, "rstrip": true, "single_word": true}
  },
  "bos_token": "<s>",
  "chat_template": "{{ bos_token }}{% for m in messages %}{{ m['content'] }}{% endfor %}",
  "clean_up_tokenization_spaces": false,
  "eos_token": {"__type": "AddedToken", "content": "</s>", "rstrip": false},
  "model_max_length": 1000000000000000019884624838656,
  "pad_token": null,
  "tokenizer_class": "LlamaTokenizer",
  "unk_token": "<unk>"
})";

TEST(HfTokenizerConfig, ReadsALlamaStyleConfig) {
  HfTokenizerConfig config = parse_hf_tokenizer_config("m", kLlamaConfig, "");
  EXPECT_EQ(config.tokenizer_class, "LlamaTokenizer");
  ASSERT_TRUE(config.bos_token && config.eos_token && config.unk_token);
  EXPECT_EQ(config.bos_token->content, "<s>");
  EXPECT_EQ(config.eos_token->content, "</s>");
  EXPECT_EQ(config.unk_token->content, "<unk>");
  EXPECT_FALSE(config.pad_token.has_value());
  EXPECT_EQ(config.add_bos_token, true);
  EXPECT_EQ(config.add_eos_token, false);
  // `legacy` absent: true, as transformers' LlamaTokenizer.
  EXPECT_TRUE(config.legacy);
  EXPECT_FALSE(config.legacy_given);
  EXPECT_TRUE(config.add_prefix_space);
  // 1e30 means "no limit".
  EXPECT_FALSE(config.model_max_length.has_value());

  ASSERT_EQ(config.added_tokens.size(), 4u);  // sorted by id
  EXPECT_EQ(config.added_tokens[0].id, 0);
  EXPECT_EQ(config.added_tokens[2].content, "</s>");
  const HfAddedToken& tool = config.added_tokens[3];
  EXPECT_EQ(tool.id, 32000);
  EXPECT_TRUE(tool.lstrip && tool.rstrip && tool.single_word);
  EXPECT_FALSE(tool.special);    // absent "special" in added_tokens_decoder
  EXPECT_TRUE(tool.normalized);  // AddedToken's default
}

TEST(HfTokenizerConfig, NamedTemplatesLegacyAndLimits) {
  HfTokenizerConfig config = parse_hf_tokenizer_config(
      "m",
      R"({
    "legacy": false, "add_prefix_space": false, "model_max_length": 4096,
    "chat_template": [{"name": "default", "template": "A"}, {"name": "tool_use", "template": "B"}]
  })",
      "");
  EXPECT_FALSE(config.legacy);
  EXPECT_TRUE(config.legacy_given);
  EXPECT_FALSE(config.add_prefix_space);
  EXPECT_EQ(config.model_max_length, 4096);
  EXPECT_FALSE(config.bos_token.has_value());
  EXPECT_FALSE(config.add_bos_token.has_value());
}

TEST(HfTokenizerConfig, SpecialTokensMapOverridesTheConfig) {
  HfTokenizerConfig config = parse_hf_tokenizer_config(
      "m",
      R"({"bos_token": "<s>", "eos_token": "</s>"})",
      R"({"eos_token": {"content": "<|im_end|>", "rstrip": true},
          "pad_token": "<pad>",
          "additional_special_tokens": ["<|im_start|>", {"content": "<|tool|>", "lstrip": true}]})");
  EXPECT_EQ(config.bos_token->content, "<s>");
  EXPECT_EQ(config.eos_token->content, "<|im_end|>");
  EXPECT_TRUE(config.eos_token->rstrip);
  EXPECT_EQ(config.pad_token->content, "<pad>");
  ASSERT_EQ(config.additional_special_tokens.size(), 2u);
  EXPECT_EQ(config.additional_special_tokens[0].content, "<|im_start|>");
  EXPECT_TRUE(config.additional_special_tokens[1].lstrip);
}

TEST(HfTokenizerConfig, ErrorsNameTheFileAndKey) {
  auto message_of = [](const std::string& config, const std::string& map = "") {
    try {
      parse_hf_tokenizer_config("/models/x", config, map);
    } catch (const ConfigError& error) {
      return std::string(error.what());
    }
    return std::string("no error");
  };
  std::string bad_json = message_of("{\"bos_token\": ");
  EXPECT_NE(bad_json.find("/models/x/tokenizer_config.json"), std::string::npos) << bad_json;
  std::string bad_type = message_of(R"({"legacy": "yes"})");
  EXPECT_NE(bad_type.find("`legacy`"), std::string::npos) << bad_type;
  std::string bad_token = message_of(R"({"bos_token": 5})");
  EXPECT_NE(bad_token.find("`bos_token`"), std::string::npos) << bad_token;
  std::string bad_id = message_of(R"({"added_tokens_decoder": {"abc": {"content": "x"}}})");
  EXPECT_NE(bad_id.find("abc"), std::string::npos) << bad_id;
  std::string same_id = message_of(
      R"({"added_tokens_decoder": {"7": {"content": "<a>"}, "07": {"content": "<b>"}}})");
  EXPECT_NE(
      same_id.find("`added_tokens_decoder` names token id 7 twice ('<b>' and '<a>')"),
      std::string::npos)
      << same_id;
  std::string same_key =
      message_of(R"({"added_tokens_decoder": {"7": {"content": "<a>"}, "7": {"content": "<b>"}}})");
  EXPECT_NE(same_key.find("duplicate key 'added_tokens_decoder.7'"), std::string::npos) << same_key;
  std::string bad_map = message_of("{}", "[1, 2]");
  EXPECT_NE(bad_map.find("special_tokens_map.json"), std::string::npos) << bad_map;
  std::string no_content = message_of(R"({"eos_token": {"rstrip": true}})");
  EXPECT_NE(no_content.find("lacks a string `content`"), std::string::npos) << no_content;
}

TEST(HfTokenizerConfig, ReadsAFolderAndFindsTheModel) {
  testing::TempDir folder;
  EXPECT_THROW(read_hf_tokenizer_config(folder.path()), IoError);
  EXPECT_THROW(find_tokenizer_model(folder.path()), IoError);
  testing::write_file(
      folder.file("tokenizer_config.json"),
      R"({"chat_template": "from config", "bos_token": "<s>"})");
  testing::write_file(folder.file("special_tokens_map.json"), R"({"bos_token": "<bos>"})");
  HfTokenizerConfig config = read_hf_tokenizer_config(folder.path());
  EXPECT_EQ(config.bos_token->content, "<bos>");

  testing::write_file(folder.file("tokenizer.json"), "{}");
  try {
    find_tokenizer_model(folder.path());
    FAIL() << "expected IoError";
  } catch (const IoError& error) {
    EXPECT_NE(error.hint().find("tokenizer.json"), std::string::npos);
  }
  testing::write_file(folder.file("tokenizer.model"), "x");
  EXPECT_EQ(find_tokenizer_model(folder.path()), folder.file("tokenizer.model"));
}

std::string io_message(const std::function<void()>& f) {
  try {
    f();
  } catch (const IoError& e) {
    return e.message();
  }
  return "(no error)";
}

TEST(HfTokenizerConfig, AModelPathThatIsNotAFolderSaysWhy) {
  testing::TempDir dir;
  testing::write_file(dir.file("model.safetensors"), "x");
  ASSERT_EQ(symlink("b", dir.file("a").c_str()), 0);
  ASSERT_EQ(symlink("a", dir.file("b").c_str()), 0);
  // A file given as --model.
  EXPECT_EQ(
      io_message([&] { read_hf_tokenizer_config(dir.file("model.safetensors")); }),
      "model folder '" + dir.file("model.safetensors") + "' is a file, not a folder");
  EXPECT_EQ(
      io_message([&] { find_tokenizer_model(dir.file("model.safetensors")); }),
      "model folder '" + dir.file("model.safetensors") + "' is a file, not a folder");
  EXPECT_EQ(
      io_message([&] { read_hf_tokenizer_config(dir.file("a")); }),
      "model folder '" + dir.file("a") +
          "' is a symlink loop (ELOOP: too many levels of symbolic links)");
  EXPECT_EQ(
      io_message([&] { read_hf_tokenizer_config(dir.file("missing")); }),
      "model folder '" + dir.file("missing") + "' does not exist");
  // Only a real folder without the file "has no tokenizer_config.json".
  EXPECT_EQ(
      io_message([&] { read_hf_tokenizer_config(dir.path()); }),
      "'" + dir.path() + "' has no tokenizer_config.json");
}

TEST(HfTokenizerConfig, FilesOfTheFolderThatCannotBeReadSayWhy) {
  testing::TempDir dir;
  ASSERT_EQ(mkdir(dir.file("tokenizer_config.json").c_str(), 0755), 0);
  EXPECT_EQ(
      io_message([&] { read_hf_tokenizer_config(dir.path()); }),
      "tokenizer config '" + dir.file("tokenizer_config.json") + "' is a folder, not a file");
  ASSERT_EQ(symlink("tokenizer.model", dir.file("tokenizer.model").c_str()), 0);
  EXPECT_EQ(
      io_message([&] { find_tokenizer_model(dir.path()); }),
      "tokenizer model '" + dir.file("tokenizer.model") +
          "' is a symlink loop (ELOOP: too many levels of symbolic links)");
  testing::TempDir second;
  testing::write_file(second.file("tokenizer_config.json"), "{}");
  ASSERT_EQ(symlink("nowhere.json", second.file("special_tokens_map.json").c_str()), 0);
  EXPECT_NE(
      io_message([&] { read_hf_tokenizer_config(second.path()); })
          .find(
              "special tokens map '" + second.file("special_tokens_map.json") +
              "' is a dangling symlink to 'nowhere.json'"),
      std::string::npos);
}

TEST(HfTokenizerConfig, DuplicateKeysAndBadJsonNameTheLine) {
  testing::TempDir dir;
  testing::write_file(
      dir.file("tokenizer_config.json"), "{\"bos_token\": \"<s>\",\n \"bos_token\": \"<x>\"}");
  try {
    read_hf_tokenizer_config(dir.path());
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_EQ(
        e.message(),
        "'" + dir.file("tokenizer_config.json") +
            "' is not valid JSON: duplicate key 'bos_token' at line 2, column 2 (first at line 1, "
            "column 2)");
  }
  testing::write_file(dir.file("tokenizer_config.json"), "{}");
  testing::write_file(dir.file("special_tokens_map.json"), "{\"eos_token\": \"</s>\"\n\"x\": 1}");
  try {
    read_hf_tokenizer_config(dir.path());
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(
        e.message().find("special_tokens_map.json' is not valid JSON: expected ',' or '}'"),
        std::string::npos)
        << e.message();
    EXPECT_NE(e.message().find("at line 2, column 1"), std::string::npos) << e.message();
  }
}

}  // namespace
}  // namespace dpo
