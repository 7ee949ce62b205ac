#include "dataloader/tokenizer_training.h"

#include <gtest/gtest.h>

#include "core/error.h"
#include "tests/support/test_support.h"
#include "tokenizer/sentencepiece_model.h"

namespace dpo {
namespace {

std::string pair_line(int i) {
  return R"({"prompt": "How do I reset my password, case )" + std::to_string(i) +
         R"(?", "chosen": "Open settings, choose security, then reset the password.", )"
         R"("rejected": "No idea, sorry."})";
}

TEST(TokenizerTraining, TrainsOnAcceptedPairsAndKeepsUserSymbolsWhole) {
  testing::TempDir dir;
  std::string data;
  for (int i = 0; i < 50; ++i)
    data += pair_line(i) + "\n";
  data += "{not json}\n";  // rejected rows do not feed the corpus
  testing::write_file(dir.file("pairs.jsonl"), data);

  TokenizerTrainingOptions options;
  options.vocab_size = 400;  // byte fallback alone takes 256 pieces
  options.user_symbols = {"<|im_start|>", "<|im_end|>"};
  TokenizerTrainingResult result =
      train_tokenizer_on_pairs({dir.file("pairs.jsonl")}, dir.file("tok"), options);

  EXPECT_EQ(result.pairs, 50u);
  EXPECT_EQ(result.vocab_size, 400);
  SentencePieceModel model(result.model_path);
  EXPECT_EQ(model.unk_id(), 0);
  EXPECT_EQ(model.bos_id(), 1);
  EXPECT_EQ(model.eos_id(), 2);
  EXPECT_EQ(model.piece_to_id("<|im_start|>"), 3);
  EXPECT_EQ(model.piece_to_id("<|im_end|>"), 4);
  // Byte fallback: a character never seen in the corpus still round-trips.
  EXPECT_EQ(model.decode(model.encode("reset 日本")), "reset 日本");
  // Identity normalisation: newlines and double spaces survive (a chat template needs them).
  EXPECT_EQ(model.decode(model.encode("settings\n\nthen  reset")), "settings\n\nthen  reset");
}

TEST(TokenizerTraining, NoAcceptedPairIsADataError) {
  testing::TempDir dir;
  testing::write_file(dir.file("bad.jsonl"), "{\"prompt\": \"x\"}\n");
  EXPECT_THROW(train_tokenizer_on_pairs({dir.file("bad.jsonl")}, dir.file("tok"), {}), DataError);
}

TEST(TokenizerTraining, SymbolsWithSpacesAreRefused) {
  testing::TempDir dir;
  TokenizerTrainingOptions options;
  options.user_symbols = {"two words"};
  EXPECT_THROW(
      train_tokenizer_on_pairs({dir.file("x.jsonl")}, dir.file("tok"), options), UsageError);
}

}  // namespace
}  // namespace dpo
