// dpo::Tokenizer on tokenizer.json model folders: which file a folder uses, role tokens from
// tokenizer_config.json, the hash, and the members callers use (encode with a memo, split,
// decode, id lookups).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "tests/support/test_support.h"
#include "tokenizer/hf_json_tokenizer.h"
#include "tokenizer/tokenizer.h"

namespace dpo {
namespace {

using json = nlohmann::json;
using Ids = std::vector<int32_t>;

// A byte-level BPE tokenizer.json: single bytes "a"-"e" and the space "Ġ", merges to "ab" and
// "Ġab", three special tokens, and a TemplateProcessing that adds <s> (Llama 3 style).
json tiny_byte_level() {
  json vocab = {
      {"a", 0},
      {"b", 1},
      {"c", 2},
      {"d", 3},
      {"e", 4},
      {"\xC4\xA0", 5},
      {"ab", 6},
      {"\xC4\xA0"
       "ab",
       7}};
  auto special = [](int id, const char* content) {
    return json{
        {"id", id},
        {"content", content},
        {"single_word", false},
        {"lstrip", false},
        {"rstrip", false},
        {"normalized", false},
        {"special", true}};
  };
  json single = json::array(
      {json{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}},
       json{{"Sequence", {{"id", "A"}, {"type_id", 0}}}}});
  return json{
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens",
       json::array({special(8, "<s>"), special(9, "</s>"), special(10, "<|eot|>")})},
      {"normalizer", {{"type", "NFC"}}},
      {"pre_tokenizer",
       {{"type", "ByteLevel"},
        {"add_prefix_space", false},
        {"trim_offsets", true},
        {"use_regex", true}}},
      {"post_processor",
       {{"type", "TemplateProcessing"},
        {"single", single},
        {"pair", json::array()},
        {"special_tokens", {{"<s>", {{"id", "<s>"}, {"ids", {8}}, {"tokens", {"<s>"}}}}}}}},
      {"decoder", {{"type", "ByteLevel"}}},
      {"model",
       {{"type", "BPE"},
        {"dropout", nullptr},
        {"unk_token", nullptr},
        {"continuing_subword_prefix", nullptr},
        {"end_of_word_suffix", nullptr},
        {"fuse_unk", false},
        {"byte_fallback", false},
        {"ignore_merges", false},
        {"vocab", vocab},
        {"merges", json::array({"a b", "\xC4\xA0 ab"})}}}};
}

const char* kConfig = R"({"bos_token": "<s>", "eos_token": "<|eot|>", "pad_token": "</s>",
  "tokenizer_class": "PreTrainedTokenizerFast"})";

class TokenizerJsonFolder : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::write_file(dir_.file("tokenizer.json"), tiny_byte_level().dump(1));
    testing::write_file(dir_.file("tokenizer_config.json"), kConfig);
  }
  testing::TempDir dir_;
};

TEST_F(TokenizerJsonFolder, ReadsTokenizerJsonWithTheConfigsRoleTokens) {
  Tokenizer tokenizer = Tokenizer::from_model_folder(dir_.path());
  EXPECT_EQ(tokenizer.format(), TokenizerFormat::json);
  ASSERT_NE(tokenizer.json_tokenizer(), nullptr);
  // "ab ab" -> "ab" + "Ġab"; encode() adds no BOS (add_special_tokens=False).
  EXPECT_EQ(tokenizer.encode("ab ab"), (Ids{6, 7}));
  EXPECT_EQ(tokenizer.encode("<s>ab<|eot|>"), (Ids{8, 6, 10}));
  EXPECT_EQ(tokenizer.bos_id(), 8);
  EXPECT_EQ(tokenizer.eos_id(), 10);
  EXPECT_EQ(tokenizer.pad_id(), 9);
  EXPECT_EQ(tokenizer.unk_id(), -1);
  EXPECT_EQ(tokenizer.bos_token(), "<s>");
  EXPECT_EQ(tokenizer.eos_token(), "<|eot|>");
  // No add_bos_token in the config: the post-processor adds <s>, so BOS is added.
  EXPECT_TRUE(tokenizer.add_bos_token());
  EXPECT_FALSE(tokenizer.add_eos_token());
  EXPECT_EQ(tokenizer.vocab_size(), 11);
  EXPECT_EQ(tokenizer.sentencepiece_vocab_size(), 11);
  EXPECT_TRUE(tokenizer.is_special(8));
  EXPECT_FALSE(tokenizer.is_special(6));
  ASSERT_EQ(tokenizer.special_tokens().size(), 3u);
  EXPECT_EQ(tokenizer.special_tokens()[2].content, "<|eot|>");
  EXPECT_EQ(
      tokenizer.id_to_piece(7),
      "\xC4\xA0"
      "ab");
  EXPECT_EQ(tokenizer.piece_to_id("<|eot|>"), 10);
  EXPECT_EQ(tokenizer.piece_to_id("ab"), 6);
  EXPECT_EQ(tokenizer.decode({8, 6, 7, 10}), "<s>ab ab<|eot|>");
  EXPECT_EQ(tokenizer.decode({8, 6, 7, 10}, true), "ab ab");
  EXPECT_THROW(tokenizer.decode({11}), DataError);
  EXPECT_THROW(tokenizer.id_to_piece(42), DataError);
  EXPECT_EQ(tokenizer.model_info().piece_count, 0);

  std::vector<Tokenizer::Segment> segments = tokenizer.split("ab<|eot|>cd");
  ASSERT_EQ(segments.size(), 3u);
  EXPECT_EQ(segments[0].text, "ab");
  EXPECT_EQ(segments[1].special_id, 10);
  EXPECT_EQ(segments[2].text, "cd");
}

TEST_F(TokenizerJsonFolder, TheConfigsAddBosTokenWins) {
  testing::write_file(
      dir_.file("tokenizer_config.json"), R"({"bos_token": "<s>", "add_bos_token": false})");
  EXPECT_FALSE(Tokenizer::from_model_folder(dir_.path()).add_bos_token());
  std::vector<int32_t> ids = {6};
  Tokenizer::from_model_folder(dir_.path()).add_bos_if_missing(ids);
  EXPECT_EQ(ids, (Ids{8, 6}));
}

TEST_F(TokenizerJsonFolder, PieceMemoGivesTheSameIds) {
  Tokenizer tokenizer = Tokenizer::from_model_folder(dir_.path());
  Tokenizer::PieceMemo memo;
  const std::string prompt = "ab ab<|eot|> ba";
  std::vector<int32_t> with_memo, again;
  tokenizer.encode(prompt, with_memo, memo);
  tokenizer.encode(prompt + "<s>ab", again, memo);
  EXPECT_EQ(with_memo, tokenizer.encode(prompt));
  EXPECT_EQ(again, tokenizer.encode(prompt + "<s>ab"));
  EXPECT_GE(memo.hits, 2);
}

TEST_F(TokenizerJsonFolder, ChoosesTheFormatAndRefusesAFolderWithNeither) {
  // Both files: automatic takes tokenizer.json (AutoTokenizer's fast tokenizer), the format
  // chooses otherwise.
  const std::string model = testing::train_llama_like_sentencepiece(dir_, 400);
  testing::write_file(dir_.file("tokenizer.model"), testing::read_file(model));
  EXPECT_EQ(Tokenizer::from_model_folder(dir_.path()).format(), TokenizerFormat::json);
  EXPECT_EQ(
      Tokenizer::from_model_folder(dir_.path(), TokenizerFormat::sentencepiece).format(),
      TokenizerFormat::sentencepiece);
  EXPECT_EQ(
      Tokenizer::from_model_folder(dir_.path(), TokenizerFormat::json).format(),
      TokenizerFormat::json);

  testing::TempDir only_config;
  testing::write_file(only_config.file("tokenizer_config.json"), kConfig);
  try {
    Tokenizer::from_model_folder(only_config.path());
    FAIL() << "expected IoError";
  } catch (const IoError& error) {
    EXPECT_NE(
        error.message().find("has neither tokenizer.json nor tokenizer.model"), std::string::npos)
        << error.message();
  }
  EXPECT_THROW(Tokenizer::from_model_folder(only_config.path(), TokenizerFormat::json), IoError);
  EXPECT_THROW(
      Tokenizer::from_model_folder(only_config.path(), TokenizerFormat::sentencepiece), IoError);
}

TEST_F(TokenizerJsonFolder, Sha256CoversTheTokenizerJsonBytes) {
  const std::string first = Tokenizer::from_model_folder(dir_.path()).sha256();
  EXPECT_EQ(Tokenizer::from_model_folder(dir_.path()).sha256(), first);
  json changed = tiny_byte_level();
  changed["model"]["merges"] = json::array({"a b"});
  testing::write_file(dir_.file("tokenizer.json"), changed.dump(1));
  EXPECT_NE(Tokenizer::from_model_folder(dir_.path()).sha256(), first);
  // The same file without the config's roles hashes differently too.
  EXPECT_NE(
      Tokenizer::from_tokenizer_json(dir_.file("tokenizer.json")).sha256(),
      Tokenizer::from_model_folder(dir_.path()).sha256());
}

TEST_F(TokenizerJsonFolder, RefusesAConfigThatDisagreesWithTheFile) {
  testing::write_file(dir_.file("tokenizer_config.json"), R"({"bos_token": "<x>"})");
  EXPECT_THROW(Tokenizer::from_model_folder(dir_.path()), ConfigError);
  testing::write_file(
      dir_.file("tokenizer_config.json"),
      R"({"added_tokens_decoder": {"10": {"content": "<|eot|>", "lstrip": true, "rstrip": false,
          "normalized": false, "single_word": false, "special": true}}})");
  try {
    Tokenizer::from_model_folder(dir_.path());
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& error) {
    EXPECT_NE(error.message().find("disagree on '<|eot|>'"), std::string::npos) << error.message();
  }
}

TEST_F(TokenizerJsonFolder, TransformersPipelineOnlyChangesLlamaClassFolders) {
  // A Phi-3 style file (Prepend + Replace, no pre-tokenizer) in a LlamaTokenizer folder.
  json file = tiny_byte_level();
  file["normalizer"] = {
      {"type", "Sequence"},
      {"normalizers",
       {{{"type", "Prepend"}, {"prepend", "▁"}},
        {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "▁"}}}}};
  file["pre_tokenizer"] = nullptr;
  file["post_processor"] = nullptr;
  file["model"]["merges"] = json::array({"▁ a"});
  file["added_tokens"][0]["id"] = 13;
  file["added_tokens"][1]["id"] = 14;
  file["added_tokens"][2]["id"] = 15;
  file["model"]["vocab"] = {
      {"a", 0},
      {"b", 1},
      {"c", 2},
      {"d", 3},
      {"e", 4},
      {"f", 5},
      {"g", 6},
      {"h", 7},
      {"i", 8},
      {"j", 9},
      {"k", 10},
      {"▁", 11},
      {"▁a", 12}};
  testing::write_file(dir_.file("tokenizer.json"), file.dump(1));
  testing::write_file(
      dir_.file("tokenizer_config.json"),
      R"({"bos_token": "<s>", "tokenizer_class": "LlamaTokenizer", "legacy": false})");
  const Tokenizer as_file =
      Tokenizer::from_model_folder(dir_.path(), TokenizerFormat::automatic, JsonPipeline::file);
  // A model folder runs as transformers' AutoTokenizer by default.
  const Tokenizer as_transformers = Tokenizer::from_model_folder(dir_.path());
  // The file prepends "▁" after <s>; transformers' LlamaTokenizer (prepend_scheme "first")
  // does not.
  EXPECT_EQ(as_file.encode("<s>a"), (Ids{13, 12}));
  EXPECT_EQ(as_transformers.encode("<s>a"), (Ids{13, 0}));
  EXPECT_EQ(as_transformers.encode("a"), (Ids{12}));
  EXPECT_NE(as_file.sha256(), as_transformers.sha256());
  // Another class keeps the file's pipeline.
  testing::write_file(
      dir_.file("tokenizer_config.json"),
      R"({"bos_token": "<s>", "tokenizer_class": "PreTrainedTokenizerFast"})");
  EXPECT_EQ(
      Tokenizer::from_model_folder(
          dir_.path(), TokenizerFormat::automatic, JsonPipeline::transformers)
          .encode("<s>a"),
      (Ids{13, 12}));
}

TEST(TokenizerFormat, NamesRoundTrip) {
  for (TokenizerFormat format :
       {TokenizerFormat::automatic, TokenizerFormat::json, TokenizerFormat::sentencepiece}) {
    EXPECT_EQ(parse_tokenizer_format(tokenizer_format_name(format)), format);
  }
  EXPECT_THROW(parse_tokenizer_format("fast"), UsageError);
  for (JsonPipeline pipeline : {JsonPipeline::file, JsonPipeline::transformers})
    EXPECT_EQ(parse_json_pipeline(json_pipeline_name(pipeline)), pipeline);
  EXPECT_THROW(parse_json_pipeline("rust"), UsageError);
}

}  // namespace
}  // namespace dpo
