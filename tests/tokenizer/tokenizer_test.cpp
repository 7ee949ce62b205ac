// Tokenizer: special-token splitting and legacy / non-legacy encoding, checked against
// sentencepiece itself on a model trained in the test. Edge cases after llama.cpp's tokenizer
// tests: leading spaces, empty text, Unicode, special tokens next to text and in a row.
#include "tokenizer/tokenizer.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "core/error.h"
#include "tests/support/test_support.h"
#include "tokenizer/sentencepiece_model.h"
#include "tokenizer/sentencepiece_proto.h"

namespace dpo {
namespace {

using Ids = std::vector<int32_t>;

Ids concat(std::initializer_list<Ids> parts) {
  Ids out;
  for (const Ids& part : parts)
    out.insert(out.end(), part.begin(), part.end());
  return out;
}

class TokenizerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    model_path_ =
        testing::train_llama_like_sentencepiece(*dir_, 400, "--control_symbols=[INST],[/INST]");
    model_bytes_ = testing::read_file(model_path_);
    sp_ = new SentencePieceModel(model_path_);
    no_prefix_ = new SentencePieceModel(
        "no-prefix", set_sentencepiece_add_dummy_prefix(model_bytes_, false, "no-prefix"));
  }
  static void TearDownTestSuite() {
    delete no_prefix_;
    delete sp_;
    delete dir_;
  }
  // sentencepiece alone, with its dummy prefix.
  static Ids sp(const std::string& text) {
    return sp_->encode(text);
  }
  // sentencepiece with the dummy prefix off.
  static Ids raw(const std::string& text) {
    return no_prefix_->encode(text);
  }
  static HfTokenizerConfig config(const std::string& json) {
    return parse_hf_tokenizer_config("model", json, "");
  }
  static Tokenizer with_config(const std::string& json) {
    return Tokenizer(model_path_, model_bytes_, TokenizerSpec::from(config(json)));
  }
  // A Llama-2 style config: <unk> <s> </s> plus two chat tokens appended past the vocabulary.
  static std::string llama_config(const std::string& extra = "") {
    return R"({
      "added_tokens_decoder": {
        "0": {"content": "<unk>", "special": true},
        "1": {"content": "<s>", "special": true},
        "2": {"content": "</s>", "special": true}
      },
      "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>")" +
           extra + "}";
  }
  // The same roles with the test's own added_tokens_decoder (`extra` holds it; a second
  // "added_tokens_decoder" key would be a duplicate key).
  static std::string llama_roles(const std::string& extra) {
    return R"({"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>")" + extra + "}";
  }

  static testing::TempDir* dir_;
  static std::string model_path_;
  static std::string model_bytes_;
  static SentencePieceModel* sp_;
  static SentencePieceModel* no_prefix_;
};

testing::TempDir* TokenizerTest::dir_ = nullptr;
std::string TokenizerTest::model_path_;
std::string TokenizerTest::model_bytes_;
SentencePieceModel* TokenizerTest::sp_ = nullptr;
SentencePieceModel* TokenizerTest::no_prefix_ = nullptr;

TEST_F(TokenizerTest, PlainTextEncodesExactlyAsSentencepiece) {
  Tokenizer tokenizer = Tokenizer::from_model_file(model_path_);
  for (const std::string text :
       {"hello world",
        " hello",
        "   three leading spaces",
        "trailing  ",
        "a",
        "\n",
        "tab\there",
        "café naïve 日本語 🙂",
        "numbers 12345",
        "x\xE2\x96\x81y"}) {
    EXPECT_EQ(tokenizer.encode(text), sp(text)) << "text: '" << text << "'";
  }
}

TEST_F(TokenizerTest, EmptyTextHasNoTokens) {
  EXPECT_TRUE(Tokenizer::from_model_file(model_path_).encode("").empty());
  EXPECT_TRUE(with_config(llama_config(R"(, "legacy": false)")).encode("").empty());
}

TEST_F(TokenizerTest, WithoutAConfigControlPiecesAreSpecialTokens) {
  Tokenizer tokenizer = Tokenizer::from_model_file(model_path_);
  int32_t inst = sp_->piece_to_id("[INST]");
  int32_t end_inst = sp_->piece_to_id("[/INST]");
  ASSERT_GE(inst, 0);
  EXPECT_EQ(tokenizer.bos_id(), sp_->bos_id());
  EXPECT_EQ(tokenizer.eos_id(), sp_->eos_id());
  EXPECT_EQ(tokenizer.bos_token(), "<s>");
  // sentencepiece alone would spell "[INST]" out in characters.
  EXPECT_NE(sp("[INST]"), (Ids{inst}));
  EXPECT_EQ(
      tokenizer.encode("<s>[INST] hello [/INST]"),
      concat({{sp_->bos_id(), inst}, sp(" hello "), {end_inst}}));
}

TEST_F(TokenizerTest, LegacyEncodesEachPieceBetweenSpecialTokensWithItsOwnDummyPrefix) {
  Tokenizer tokenizer = with_config(llama_config());
  EXPECT_TRUE(tokenizer.legacy());
  const int32_t bos = 1, eos = 2;
  // Special token adjacent to text on both sides.
  EXPECT_EQ(tokenizer.encode("hello<s>world"), concat({sp("hello"), {bos}, sp("world")}));
  // "▁world" after </s>: the dummy prefix comes back after every special token.
  EXPECT_EQ(
      tokenizer.encode("<s>hello</s>world"), concat({{bos}, sp("hello"), {eos}, sp("world")}));
  // A space after a special token becomes a second "▁" (dummy prefix + the space).
  EXPECT_EQ(tokenizer.encode("<s> hello"), concat({{bos}, sp(" hello")}));
  EXPECT_NE(sp(" hello"), sp("hello"));
}

TEST_F(TokenizerTest, TwoSpecialTokensInARowAndDoubleBos) {
  Tokenizer tokenizer = with_config(llama_config());
  EXPECT_EQ(tokenizer.encode("</s><s>"), (Ids{2, 1}));
  Ids doubled = tokenizer.encode("<s><s>hello");
  EXPECT_TRUE(tokenizer.starts_with_double_bos(doubled));
  EXPECT_FALSE(tokenizer.starts_with_double_bos(tokenizer.encode("<s>hello<s>")));
}

TEST_F(TokenizerTest, AddBosOnlyWhenMissing) {
  Tokenizer tokenizer = with_config(llama_config());
  Ids ids = tokenizer.encode("<s>hello");
  Ids before = ids;
  tokenizer.add_bos_if_missing(ids);
  EXPECT_EQ(ids, before);
  Ids plain = tokenizer.encode("hello");
  tokenizer.add_bos_if_missing(plain);
  EXPECT_EQ(plain, concat({{1}, sp("hello")}));
  EXPECT_FALSE(tokenizer.starts_with_double_bos(plain));
  Ids empty;
  tokenizer.add_bos_if_missing(empty);
  EXPECT_EQ(empty, (Ids{1}));
}

TEST_F(TokenizerTest, LongestAddedTokenWinsAndNewTokensGoPastTheVocabulary) {
  const int32_t n = sp_->vocab_size();
  Tokenizer tokenizer = with_config(llama_roles(R"(,
      "added_tokens_decoder": {
        "1": {"content": "<s>", "special": true}, "2": {"content": "</s>", "special": true},
        ")" + std::to_string(n) + R"(": {"content": "<tool>", "special": false},
        ")" + std::to_string(n + 1) + R"(": {"content": "<tool><call>", "special": true}
      })"));
  EXPECT_EQ(tokenizer.vocab_size(), n + 2);
  EXPECT_EQ(tokenizer.sentencepiece_vocab_size(), n);
  // "<tool><call>" is matched whole, not as "<tool>" followed by text.
  EXPECT_EQ(tokenizer.encode("<tool><call>"), (Ids{n + 1}));
  EXPECT_EQ(tokenizer.encode("<tool><tool><call>x"), concat({{n, n + 1}, sp("x")}));
  EXPECT_EQ(tokenizer.encode("<tool><call"), concat({{n}, sp("<call")}));
  EXPECT_EQ(tokenizer.piece_to_id("<tool><call>"), n + 1);
  EXPECT_EQ(tokenizer.id_to_piece(n), "<tool>");
  EXPECT_FALSE(tokenizer.is_special(n));
  EXPECT_TRUE(tokenizer.is_special(n + 1));
  EXPECT_EQ(tokenizer.decode({1, n, n + 1}), "<s><tool><tool><call>");
  EXPECT_EQ(tokenizer.decode({1, n, n + 1}, /*skip_special_tokens=*/true), "<tool>");
}

TEST_F(TokenizerTest, LstripAndRstripEatWhitespaceAsTransformers) {
  const int32_t n = sp_->vocab_size();
  Tokenizer tokenizer = with_config(llama_roles(R"(,
      "added_tokens_decoder": {
        ")" + std::to_string(n) + R"(": {"content": "<r>", "rstrip": true, "special": true},
        ")" + std::to_string(n + 1) + R"(": {"content": "<l>", "lstrip": true, "special": true},
        ")" + std::to_string(n + 2) + R"(": {"content": "<p>", "special": true}
      })"));
  // rstrip eats spaces, newlines and no-break spaces (Python's str.isspace) on the right.
  EXPECT_EQ(tokenizer.encode("<r>  \n\xC2\xA0hello"), concat({{n}, sp("hello")}));
  EXPECT_EQ(tokenizer.encode("hello \t <l>"), concat({sp("hello"), {n + 1}}));
  // A plain token keeps the whitespace around it.
  EXPECT_EQ(tokenizer.encode("hello <p> world"), concat({sp("hello "), {n + 2}, sp(" world")}));
  // Stripping to nothing leaves no piece behind.
  EXPECT_EQ(tokenizer.encode("<r>   <p>"), (Ids{n, n + 2}));

  std::vector<Tokenizer::Segment> segments = tokenizer.split("a <l>  <r>  b");
  ASSERT_EQ(segments.size(), 5u);
  EXPECT_EQ(segments[0].text, "a");
  EXPECT_EQ(segments[1].special_id, n + 1);
  EXPECT_EQ(segments[2].text, "  ");  // right of <l>, left of <r>: neither strips this side
  EXPECT_EQ(segments[2].special_id, -1);
  EXPECT_EQ(segments[3].special_id, n);
  EXPECT_EQ(segments[4].text, "b");
}

TEST_F(TokenizerTest, LegacyFalsePutsTheDummyPrefixOnlyAtTheStart) {
  Tokenizer tokenizer = with_config(llama_config(R"(, "legacy": false)"));
  EXPECT_FALSE(tokenizer.legacy());
  // Without special tokens it agrees with sentencepiece's own encoding.
  EXPECT_EQ(tokenizer.encode("hello world"), sp("hello world"));
  // After a special token no "▁" is invented...
  EXPECT_EQ(tokenizer.encode("<s>hello"), concat({{1}, raw("hello")}));
  EXPECT_EQ(tokenizer.encode("hello</s>world"), concat({sp("hello"), {2}, raw("world")}));
  EXPECT_NE(raw("world"), sp("world"));
  // ...and a real space after it is one "▁", where legacy gives two.
  EXPECT_EQ(tokenizer.encode("<s> hello"), concat({{1}, sp("hello")}));
  // A leading special token gets no prefix in front of it.
  EXPECT_EQ(tokenizer.encode("<s>")[0], 1);
  EXPECT_EQ(tokenizer.encode("<s></s>"), (Ids{1, 2}));
}

TEST_F(TokenizerTest, APieceMemoEncodesSharedTurnsOnceWithTheSameIds) {
  // A pair's prompt and its two full conversations, as a template renders them.
  const std::string prompt = "<s> You are terse.</s><s> Reset my password</s><s>";
  const std::vector<std::string> texts = {
      prompt,
      prompt + " Open Settings, then Security.</s>",
      prompt + " I cannot help with that.</s>"};
  // legacy=false encodes the "▁" it puts in front of the text as a piece of its own.
  for (auto [legacy, shared_pieces] : {std::pair{"true", 2}, std::pair{"false", 3}}) {
    Tokenizer tokenizer = with_config(llama_config(std::string(R"(, "legacy": )") + legacy));
    Tokenizer::PieceMemo memo;
    for (const std::string& text : texts) {
      Ids with_memo;
      tokenizer.encode(text, with_memo, memo);
      EXPECT_EQ(with_memo, tokenizer.encode(text)) << "legacy " << legacy << ", text: " << text;
    }
    // The prompt's pieces come from the memo in both full conversations; their replies are
    // encoded.
    EXPECT_EQ(memo.hits, 2 * shared_pieces) << "legacy " << legacy;
  }
}

TEST_F(TokenizerTest, DecodeRendersSpecialTokensAndText) {
  Tokenizer tokenizer = with_config(llama_config());
  Ids ids = tokenizer.encode("<s>hello world, café 🙂</s>");
  EXPECT_EQ(tokenizer.decode(ids), "<s>hello world, café 🙂</s>");
  EXPECT_EQ(tokenizer.decode(ids, true), "hello world, café 🙂");
  EXPECT_THROW(tokenizer.decode({tokenizer.vocab_size()}), DataError);
}

TEST_F(TokenizerTest, FromAModelFolder) {
  testing::TempDir folder;
  testing::write_file(folder.file("tokenizer.model"), model_bytes_);
  testing::write_file(
      folder.file("tokenizer_config.json"),
      llama_config(R"(, "add_bos_token": false, "legacy": false)"));
  Tokenizer tokenizer = Tokenizer::from_model_folder(folder.path());
  EXPECT_FALSE(tokenizer.add_bos_token());
  EXPECT_FALSE(tokenizer.legacy());
  EXPECT_EQ(tokenizer.unk_id(), 0);
  EXPECT_EQ(tokenizer.encode("<s>hello"), concat({{1}, raw("hello")}));
}

TEST_F(TokenizerTest, Sha256CoversTheModelAndTheTokenTable) {
  std::string a = with_config(llama_config()).sha256();
  EXPECT_EQ(a.size(), 64u);
  EXPECT_EQ(with_config(llama_config()).sha256(), a);
  EXPECT_NE(with_config(llama_config(R"(, "legacy": false)")).sha256(), a);
  EXPECT_NE(with_config(llama_config(R"(, "additional_special_tokens": ["<x>"])")).sha256(), a);
  EXPECT_NE(Tokenizer::from_model_file(model_path_).sha256(), a);
}

TEST_F(TokenizerTest, ConflictingIdsAreConfigErrors) {
  EXPECT_THROW(
      with_config(R"({"added_tokens_decoder": {"5": {"content": "<a>"},
                                                          "5x": {"content": "<b>"}}})"),
      ConfigError);
  // One content under two ids.
  EXPECT_THROW(
      with_config(R"({"added_tokens_decoder": {"3": {"content": "<a>"},
                                                          "4": {"content": "<a>"}}})"),
      ConfigError);
}

TEST_F(TokenizerTest, EncodingIsThreadSafe) {
  Tokenizer tokenizer = with_config(llama_config(R"(, "legacy": false)"));
  std::string text = "<s>hello world</s> café 🙂 <s> again";
  Ids expected = tokenizer.encode(text);
  std::vector<std::thread> threads;
  std::atomic<int> mismatches{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        if (tokenizer.encode(text) != expected)
          ++mismatches;
      }
    });
  }
  for (auto& thread : threads)
    thread.join();
  EXPECT_EQ(mismatches.load(), 0);
}

}  // namespace
}  // namespace dpo
