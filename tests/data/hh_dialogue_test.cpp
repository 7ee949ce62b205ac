#include "data/hh_dialogue.h"

#include <gtest/gtest.h>

namespace dpo {
namespace {

TEST(HhDialogue, SplitsTurns) {
  std::vector<Message> turns;
  ASSERT_TRUE(parse_hh_dialogue("\n\nHuman: Hi\n\nAssistant: Hello\nthere\n\nHuman: Bye", turns));
  ASSERT_EQ(turns.size(), 3u);
  EXPECT_EQ(turns[0].role, "user");
  EXPECT_EQ(turns[0].content, "Hi");
  EXPECT_EQ(turns[1].role, "assistant");
  EXPECT_EQ(turns[1].content, "Hello\nthere");
  EXPECT_EQ(turns[2].content, "Bye");
}

TEST(HhDialogue, LeadingBlankLineIsOptional) {
  std::vector<Message> turns;
  ASSERT_TRUE(parse_hh_dialogue("Human: Hi\n\nAssistant:", turns));
  ASSERT_EQ(turns.size(), 2u);
  EXPECT_EQ(turns[1].content, "");
}

TEST(HhDialogue, RejectsTextWithoutMarkersOrWithAPreamble) {
  std::vector<Message> turns;
  EXPECT_FALSE(parse_hh_dialogue("just an answer", turns));
  EXPECT_FALSE(parse_hh_dialogue("preamble\n\nHuman: Hi", turns));
}

}  // namespace
}  // namespace dpo
