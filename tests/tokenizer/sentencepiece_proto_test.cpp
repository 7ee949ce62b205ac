#include "tokenizer/sentencepiece_proto.h"

#include <gtest/gtest.h>

#include "core/error.h"
#include "tests/support/test_support.h"
#include "tokenizer/sentencepiece_model.h"

namespace dpo {
namespace {

using testing::TempDir;

TEST(SentencePieceProto, ReadsTheSettingsOfATrainedModel) {
  TempDir dir;
  std::string path = testing::train_llama_like_sentencepiece(dir, 400);
  std::string bytes = testing::read_file(path);
  SentencePieceModelInfo info = read_sentencepiece_model_info(bytes, path);
  EXPECT_EQ(info.model_type, "bpe");
  EXPECT_EQ(info.piece_count, SentencePieceModel(path).vocab_size());
  EXPECT_EQ(info.trainer_vocab_size, 400);
  EXPECT_TRUE(info.byte_fallback);
  EXPECT_EQ(info.normalizer_name, "identity");
  EXPECT_TRUE(info.add_dummy_prefix);
  EXPECT_FALSE(info.remove_extra_whitespaces);
}

TEST(SentencePieceProto, ReadsSentencepieceDefaults) {
  TempDir dir;
  std::string path = testing::train_tiny_sentencepiece(dir, testing::tokenizer_test_corpus(), 200);
  SentencePieceModelInfo info = read_sentencepiece_model_info(testing::read_file(path), path);
  EXPECT_EQ(info.model_type, "bpe");
  EXPECT_FALSE(info.byte_fallback);
  EXPECT_EQ(info.normalizer_name, "nmt_nfkc");
  EXPECT_TRUE(info.remove_extra_whitespaces);
}

TEST(SentencePieceProto, SwitchingTheDummyPrefixOffChangesOnlyThatSetting) {
  TempDir dir;
  std::string path = testing::train_llama_like_sentencepiece(dir);
  std::string bytes = testing::read_file(path);
  std::string edited = set_sentencepiece_add_dummy_prefix(bytes, false, path);
  SentencePieceModelInfo before = read_sentencepiece_model_info(bytes, path);
  SentencePieceModelInfo after = read_sentencepiece_model_info(edited, path);
  EXPECT_FALSE(after.add_dummy_prefix);
  EXPECT_EQ(after.piece_count, before.piece_count);
  EXPECT_EQ(after.normalizer_name, before.normalizer_name);
  EXPECT_EQ(after.remove_extra_whitespaces, before.remove_extra_whitespaces);
  EXPECT_EQ(after.byte_fallback, before.byte_fallback);

  // sentencepiece itself accepts the edited model, and no longer writes "▁" in front.
  SentencePieceModel original(path);
  SentencePieceModel no_prefix("edited", edited);
  std::vector<int> with = original.encode("hello");
  std::vector<int> without = no_prefix.encode("hello");
  ASSERT_FALSE(with.empty());
  ASSERT_FALSE(without.empty());
  EXPECT_EQ(original.id_to_piece(with[0]).rfind("\xE2\x96\x81", 0), 0u);
  EXPECT_NE(no_prefix.id_to_piece(without[0]).rfind("\xE2\x96\x81", 0), 0u);

  // Switching it back restores the original encoding.
  SentencePieceModel restored("restored", set_sentencepiece_add_dummy_prefix(edited, true, path));
  EXPECT_EQ(restored.encode("hello world"), original.encode("hello world"));
}

TEST(SentencePieceProto, EditAddsANormalizerSpecWhenThereIsNone) {
  // ModelProto { pieces { piece: "abc" } }: field 1 (0x0a), length 5, holding
  // SentencePiece.piece: field 1 (0x0a), length 3, "abc".
  std::string model(
      "\x0a\x05\x0a\x03"
      "abc",
      7);
  // Expected: the same bytes, then normalizer_spec: field 3 length-delimited (0x1a), length 2,
  // holding add_dummy_prefix: field 3 varint (0x18) = 0.
  std::string expected = model + std::string("\x1a\x02\x18\x00", 4);
  EXPECT_EQ(set_sentencepiece_add_dummy_prefix(model, false, "hand-made"), expected);
  SentencePieceModelInfo info = read_sentencepiece_model_info(expected, "hand-made");
  EXPECT_EQ(info.piece_count, 1);
  EXPECT_FALSE(info.add_dummy_prefix);
}

TEST(SentencePieceProto, BrokenBytesAreDataErrorsNamingTheFile) {
  TempDir dir;
  std::string path = testing::train_llama_like_sentencepiece(dir);
  std::string bytes = testing::read_file(path);
  std::string truncated = bytes.substr(0, bytes.size() / 2);
  try {
    read_sentencepiece_model_info(truncated, "cut.model");
    FAIL() << "expected DataError";
  } catch (const DataError& error) {
    EXPECT_NE(std::string(error.what()).find("cut.model"), std::string::npos) << error.what();
  }
  EXPECT_THROW(read_sentencepiece_model_info("this is not protobuf", "text.model"), DataError);
  EXPECT_THROW(read_sentencepiece_model_info("", "empty.model"), DataError);
  EXPECT_THROW(set_sentencepiece_add_dummy_prefix(truncated, false, "cut.model"), DataError);
}

}  // namespace
}  // namespace dpo
