#include "data/special_tokens_scan.h"

#include <gtest/gtest.h>

namespace dpo {
namespace {

TEST(SpecialTokenScanner, FindsTheFirstControlString) {
  SpecialTokenScanner scanner;
  EXPECT_EQ(scanner.find("hello <|im_start|>user"), "<|im_start|>");
  EXPECT_EQ(scanner.find("[INST] do it [/INST]"), "[INST]");
  EXPECT_EQ(scanner.find("text </s> then <s>"), "</s>");
  EXPECT_EQ(scanner.find("a <start_of_turn>"), "<start_of_turn>");
}

TEST(SpecialTokenScanner, OrdinaryBracketsAndTagsPass) {
  SpecialTokenScanner scanner;
  EXPECT_EQ(scanner.find("if (a < b) { x[1] = 2; } <div>[link]</div>"), "");
  EXPECT_EQ(scanner.find(""), "");
}

TEST(SpecialTokenScanner, ExtraTokens) {
  SpecialTokenScanner scanner({"<|custom|>"});
  EXPECT_EQ(scanner.find("x <|custom|> y"), "<|custom|>");
}

}  // namespace
}  // namespace dpo
