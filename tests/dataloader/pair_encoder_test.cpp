// PairEncoder: prompt/completion split by token prefix, BOS handling, prefix mismatches and
// the length policies, with a ChatML-like template written in the test.
#include "dataloader/pair_encoder.h"

#include <gtest/gtest.h>

#include "core/error.h"
#include "templates/chat_template.h"
#include "tests/support/test_support.h"
#include "tokenizer/tokenizer.h"

namespace dpo {
namespace {

using Ids = std::vector<int32_t>;

std::string chatml(const std::vector<Message>& messages, bool add_generation_prompt) {
  std::string out;
  for (const Message& m : messages)
    out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
  if (add_generation_prompt)
    out += "<|im_start|>assistant\n";
  return out;
}

// "<s>" written by the template itself (Llama-2 style).
std::string chatml_with_bos(const std::vector<Message>& messages, bool add_generation_prompt) {
  return "<s>" + chatml(messages, add_generation_prompt);
}

PreferenceRow make_row(const std::string& system = "You are helpful.") {
  PreferenceRow row;
  if (!system.empty())
    row.prompt.push_back({"system", system});
  row.prompt.push_back({"user", "hello, please answer the question"});
  row.chosen.push_back({"assistant", "Yes, thank you for the question."});
  row.rejected.push_back({"assistant", "No."});
  row.id = "row-1";
  return row;
}

class PairEncoderTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    std::string path = testing::train_llama_like_sentencepiece(*dir_);
    std::string bytes = testing::read_file(path);
    int n = 400;
    std::string config = R"({
      "added_tokens_decoder": {
        "0": {"content": "<unk>", "special": true}, "1": {"content": "<s>", "special": true},
        "2": {"content": "</s>", "special": true},
        ")" + std::to_string(n) +
                         R"(": {"content": "<|im_start|>", "special": true},
        ")" + std::to_string(n + 1) +
                         R"(": {"content": "<|im_end|>", "special": true}
      },
      "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "add_bos_token": true})";
    tokenizer_ =
        new Tokenizer(path, bytes, TokenizerSpec::from(parse_hf_tokenizer_config("m", config, "")));
  }
  static void TearDownTestSuite() {
    delete tokenizer_;
    delete dir_;
  }
  // The tests below use BosPolicy::if_missing (this tokenizer sets add_bos_token and chatml writes
  // no BOS), so they also show where a BOS goes; DefaultIdsAreTheTemplatesRendering shows the
  // default.
  static PairEncoder encoder(
      RenderFunction render,
      int64_t max_length = 0,
      LengthPolicy policy = LengthPolicy::drop,
      BosPolicy bos = BosPolicy::if_missing) {
    PairEncoderOptions options;
    options.max_length = max_length;
    options.length_policy = policy;
    options.bos_policy = bos;
    return PairEncoder(*tokenizer_, std::move(render), options);
  }
  static Ids tokens(const std::string& text) {
    Ids ids = tokenizer_->encode(text);
    tokenizer_->add_bos_if_missing(ids);
    return ids;
  }

  static testing::TempDir* dir_;
  static Tokenizer* tokenizer_;
};

testing::TempDir* PairEncoderTest::dir_ = nullptr;
Tokenizer* PairEncoderTest::tokenizer_ = nullptr;

TEST_F(PairEncoderTest, CompletionIsWhatFollowsThePromptTokens) {
  PreferenceRow row = make_row();
  PairEncodeCounts counts;
  PairEncodeResult result = encoder(chatml).encode(row, counts);
  ASSERT_TRUE(result.pair) << result.message;
  EXPECT_FALSE(result.issue);
  const EncodedPair& pair = *result.pair;

  Ids prompt = tokens(chatml(row.prompt, true));
  EXPECT_EQ(pair.prompt, prompt);
  EXPECT_EQ(pair.prompt.front(), tokenizer_->bos_id());  // add_bos_token, template has none
  std::vector<Message> full = row.prompt;
  full.push_back(row.chosen[0]);
  Ids chosen_full = tokens(chatml(full, false));
  EXPECT_EQ(pair.chosen, Ids(chosen_full.begin() + prompt.size(), chosen_full.end()));
  // The completion ends with the template's end-of-turn token and newline.
  EXPECT_EQ(tokenizer_->decode(pair.chosen), "Yes, thank you for the question.<|im_end|>\n");
  EXPECT_EQ(tokenizer_->decode(pair.rejected), "No.<|im_end|>\n");
  EXPECT_EQ(pair.flags, 0);

  EXPECT_EQ(counts.rows, 1);
  EXPECT_EQ(counts.kept, 1);
  EXPECT_EQ(counts.bos_added, 3);  // prompt, chosen and rejected renderings
  EXPECT_EQ(counts.prompt_tokens, static_cast<int64_t>(pair.prompt.size()));
  EXPECT_EQ(counts.chosen_tokens, static_cast<int64_t>(pair.chosen.size()));
}

// The default, as TRL's DPOTrainer and transformers' apply_chat_template(tokenize=True): the
// rendering tokenized with nothing added, even when the tokenizer's add_bos_token is set.
TEST_F(PairEncoderTest, DefaultIdsAreTheTemplatesRendering) {
  EXPECT_EQ(PairEncoderOptions().bos_policy, BosPolicy::as_template);
  PreferenceRow row = make_row();
  PairEncodeCounts counts;
  PairEncodeResult result =
      PairEncoder(*tokenizer_, chatml, PairEncoderOptions()).encode(row, counts);
  ASSERT_TRUE(result.pair) << result.message;
  EXPECT_EQ(result.pair->prompt, tokenizer_->encode(chatml(row.prompt, true)));
  EXPECT_NE(result.pair->prompt.front(), tokenizer_->bos_id());
  EXPECT_EQ(counts.bos_added, 0);
  // The completions are the same under both policies: only the prompt's first id differs.
  PairEncodeCounts with_bos_counts;
  PairEncodeResult with_bos = encoder(chatml).encode(row, with_bos_counts);
  ASSERT_TRUE(with_bos.pair) << with_bos.message;
  EXPECT_EQ(result.pair->chosen, with_bos.pair->chosen);
  EXPECT_EQ(result.pair->rejected, with_bos.pair->rejected);
  Ids bos_then_prompt{tokenizer_->bos_id()};
  bos_then_prompt.insert(
      bos_then_prompt.end(), result.pair->prompt.begin(), result.pair->prompt.end());
  EXPECT_EQ(with_bos.pair->prompt, bos_then_prompt);
}

TEST(BosPolicyNames, RoundTripAndRefuseUnknown) {
  for (BosPolicy policy : {BosPolicy::as_template, BosPolicy::if_missing})
    EXPECT_EQ(parse_bos_policy(bos_policy_name(policy)), policy);
  EXPECT_THROW(parse_bos_policy("always"), UsageError);
}

TEST_F(PairEncoderTest, TemplateBosIsNotDoubled) {
  PairEncodeCounts counts;
  PairEncodeResult result = encoder(chatml_with_bos).encode(make_row(), counts);
  ASSERT_TRUE(result.pair) << result.message;
  EXPECT_EQ(result.pair->prompt[0], tokenizer_->bos_id());
  EXPECT_NE(result.pair->prompt[1], tokenizer_->bos_id());
  EXPECT_EQ(counts.bos_added, 0);
}

TEST_F(PairEncoderTest, TwoBosAreReported) {
  auto two_bos = [](const std::vector<Message>& m, bool g) { return "<s><s>" + chatml(m, g); };
  PairEncodeCounts counts;
  PairEncodeResult result = encoder(two_bos).encode(make_row(), counts, "data.jsonl:3");
  EXPECT_FALSE(result.pair);
  EXPECT_EQ(result.issue, IssueCode::double_bos);
  EXPECT_EQ(result.message.rfind("data.jsonl:3: ", 0), 0u) << result.message;
  EXPECT_EQ(counts.double_bos, 1);
  EXPECT_EQ(counts.kept, 0);
}

TEST_F(PairEncoderTest, PrefixMismatchIsReportedNotPatched) {
  // A plain template whose generation prompt ends with a space: "Assistant: " encodes with a
  // lone "▁" that the full text merges into "▁Yes".
  auto plain = [](const std::vector<Message>& messages, bool add_generation_prompt) {
    std::string out;
    for (const Message& m : messages) {
      out += (m.role == "assistant" ? "Assistant: " : "User: ") + m.content + "\n";
    }
    if (add_generation_prompt)
      out += "Assistant: ";
    return out;
  };
  PairEncodeCounts counts;
  PairEncodeResult result = encoder(plain).encode(make_row(""), counts);
  EXPECT_FALSE(result.pair);
  EXPECT_EQ(result.issue, IssueCode::prefix_mismatch);
  EXPECT_NE(result.message.find("chosen conversation"), std::string::npos) << result.message;
  EXPECT_NE(result.message.find("tokens merge across the boundary"), std::string::npos)
      << result.message;
  EXPECT_EQ(counts.prefix_mismatches, 1);

  // A template that renders the prompt differently once an answer follows.
  auto unstable = [](const std::vector<Message>& messages, bool add_generation_prompt) {
    return (add_generation_prompt ? "" : "<|im_start|>system\nx<|im_end|>\n") +
           chatml(messages, add_generation_prompt);
  };
  result = encoder(unstable).encode(make_row(), counts);
  EXPECT_EQ(result.issue, IssueCode::prefix_mismatch);
  EXPECT_NE(result.message.find("the prompt alone renders differently"), std::string::npos)
      << result.message;
  EXPECT_EQ(counts.prefix_mismatches, 2);

  // A template that drops a turn of the prompt once an answer follows: history rewritten.
  auto forgetful = [](const std::vector<Message>& messages, bool add_generation_prompt) {
    std::vector<Message> kept = messages;
    if (!add_generation_prompt && kept.size() > 2)
      kept.erase(kept.begin());
    return chatml(kept, add_generation_prompt);
  };
  result = encoder(forgetful).encode(make_row(), counts);
  EXPECT_EQ(result.issue, IssueCode::prefix_mismatch);
  EXPECT_NE(result.message.find("rewrites the history"), std::string::npos) << result.message;
}

TEST(DescribePrefixMismatch, NamesTheTemplateBehaviour) {
  // Tokens merging: the prompt text is a prefix of the conversation's.
  EXPECT_NE(
      describe_prefix_mismatch("User: hi\nAssistant: ", "User: hi\nAssistant: Yes", "User: hi\n")
          .find("tokens merge across the boundary"),
      std::string::npos);
  // Qwen3 with enable_thinking=false: an empty think block the completion's reasoning replaces.
  const std::string qwen_prompt = "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n";
  std::string reason = describe_prefix_mismatch(
      qwen_prompt + "<think>\n\n</think>\n\n",
      qwen_prompt + "<think>\nGreet.\n</think>\n\nHello<|im_end|>\n",
      "<|im_start|>user\nHi<|im_end|>\n");
  EXPECT_NE(reason.find("empty thinking block"), std::string::npos) << reason;
  EXPECT_NE(reason.find("enable_thinking=false"), std::string::npos) << reason;
  EXPECT_NE(reason.find("Greet."), std::string::npos) << reason;
  // History rewritten: the texts differ inside the prompt's turns; thinking named when present.
  reason = describe_prefix_mismatch(
      "<|im_start|>assistant\n<think>\nold\n</think>\n\nA<|im_end|>\n<|im_start|>assistant\n",
      "<|im_start|>assistant\nA<|im_end|>\n<|im_start|>assistant\nB<|im_end|>\n",
      "<|im_start|>assistant\n<think>\nold\n</think>\n\nA<|im_end|>\n");
  EXPECT_NE(reason.find("rewrites the history: thinking blocks"), std::string::npos) << reason;
  EXPECT_NE(reason.find("at byte 22"), std::string::npos) << reason;
  // A generation prompt the conversation does not contain.
  reason = describe_prefix_mismatch("Q\n[ANSWER] ", "Q\n[REPLY] x", "Q\n");
  EXPECT_NE(reason.find("\"[ANSWER] \""), std::string::npos) << reason;
  EXPECT_NE(reason.find("renders differently"), std::string::npos) << reason;
  // Excerpts are cut on UTF-8 boundaries: the quoted text stays valid (no lone bytes).
  reason =
      describe_prefix_mismatch("a" + std::string(40, 'x') + "é", "a" + std::string(31, 'y'), "");
  EXPECT_EQ(reason.find("\\u"), std::string::npos) << reason;
}

// Qwen3's real template (the hub tokenizer_config.json, a fixture) with the tiny tokenizer.
class Qwen3PairTest : public PairEncoderTest {
 protected:
  static std::string source_root() {
    std::string file = __FILE__;
    return file.substr(0, file.rfind("/tests/dataloader/"));
  }
  static RenderFunction qwen3(const std::string& kwargs_json = "") {
    auto chat = std::make_shared<ChatTemplate>(ChatTemplate::load(
        source_root() + "/tests/fixtures/templates/hf_qwen3_0_6b_tokenizer_config.json"));
    ChatTemplateVariables variables;
    variables.eos_token = "<|im_end|>";
    variables.kwargs_json = kwargs_json;
    return [chat, variables](const std::vector<Message>& messages, bool add_generation_prompt) {
      return chat->render(messages, add_generation_prompt, variables);
    };
  }
  static PreferenceRow thinking_row() {
    PreferenceRow row;
    row.prompt = {{"system", "Be kind."}, {"user", "Say hello."}};
    row.chosen = {{"assistant", "<think>\nI should greet.\n</think>\n\nHello there!"}};
    row.rejected = {{"assistant", "Go away."}};
    return row;
  }
};

TEST_F(Qwen3PairTest, ThinkingInTheCompletionsStaysPrefixConsistent) {
  PreferenceRow row = thinking_row();
  PairEncodeCounts counts;
  PairEncodeResult result = encoder(qwen3()).encode(row, counts);
  ASSERT_TRUE(result.pair) << result.message;
  EXPECT_EQ(counts.prefix_mismatches, 0);
  // The last assistant turn keeps its reasoning; one without gets an empty think block.
  EXPECT_EQ(
      tokenizer_->decode(result.pair->chosen),
      "<think>\nI should greet.\n</think>\n\nHello there!<|im_end|>\n");
  EXPECT_EQ(
      tokenizer_->decode(result.pair->rejected), "<think>\n\n</think>\n\nGo away.<|im_end|>\n");
  EXPECT_EQ(
      result.pair->prompt,
      tokens("<|im_start|>system\nBe kind.<|im_end|>\n<|im_start|>user\nSay hello.<|im_end|>\n"
             "<|im_start|>assistant\n"));
}

TEST_F(Qwen3PairTest, ThinkingOfEarlierTurnsIsDroppedInBothRenderings) {
  PreferenceRow row = thinking_row();
  row.prompt = {
      {"user", "Hi."},
      {"assistant", "<think>\nold reasoning\n</think>\n\nHello."},
      {"user", "Say hello again."}};
  PairEncodeCounts counts;
  PairEncodeResult result = encoder(qwen3()).encode(row, counts);
  ASSERT_TRUE(result.pair) << result.message;
  const std::string prompt = tokenizer_->decode(result.pair->prompt);
  EXPECT_EQ(prompt.find("old reasoning"), std::string::npos) << prompt;
  EXPECT_NE(prompt.find("<|im_start|>assistant\nHello.<|im_end|>"), std::string::npos) << prompt;
  EXPECT_EQ(
      tokenizer_->decode(result.pair->chosen),
      "<think>\nI should greet.\n</think>\n\nHello there!<|im_end|>\n");
}

TEST_F(Qwen3PairTest, EnableThinkingFalseWithReasoningIsReportedWithTheReason) {
  PairEncodeCounts counts;
  PairEncodeResult result =
      encoder(qwen3(R"({"enable_thinking": false})")).encode(thinking_row(), counts, "d.jsonl:4");
  EXPECT_FALSE(result.pair);
  EXPECT_EQ(result.issue, IssueCode::prefix_mismatch);
  EXPECT_EQ(counts.prefix_mismatches, 1);
  EXPECT_EQ(result.message.rfind("d.jsonl:4: the chosen conversation", 0), 0u) << result.message;
  EXPECT_NE(result.message.find("empty thinking block"), std::string::npos) << result.message;
  EXPECT_NE(result.message.find("enable_thinking=false"), std::string::npos) << result.message;

  // Without reasoning in either completion the same prompt is consistent: the completion is
  // the answer alone.
  PreferenceRow plain = thinking_row();
  plain.chosen = {{"assistant", "Hello there!"}};
  result = encoder(qwen3(R"({"enable_thinking": false})")).encode(plain, counts);
  ASSERT_TRUE(result.pair) << result.message;
  EXPECT_EQ(tokenizer_->decode(result.pair->chosen), "Hello there!<|im_end|>\n");
}

TEST_F(PairEncoderTest, TemplateErrorsAreReported) {
  auto failing = [](const std::vector<Message>&, bool) -> std::string {
    throw DataError("raise_exception: roles must alternate");
  };
  PairEncodeCounts counts;
  PairEncodeResult result = encoder(failing).encode(make_row(), counts);
  EXPECT_EQ(result.issue, IssueCode::template_error);
  EXPECT_NE(result.message.find("roles must alternate"), std::string::npos);
  EXPECT_EQ(counts.template_errors, 1);
}

TEST_F(PairEncoderTest, HeaderStartIsAfterTheLastUserContent) {
  PreferenceRow row = make_row();
  std::string rendered = chatml(row.prompt, true);
  Ids prompt = tokens(rendered);
  size_t start = encoder(chatml).header_start(row.prompt, rendered, prompt);
  ASSERT_LT(start, prompt.size());
  EXPECT_EQ(
      tokenizer_->decode(Ids(prompt.begin() + start, prompt.end())),
      "<|im_end|>\n<|im_start|>assistant\n");
  // Content the rendering does not contain: nothing may be cut.
  std::vector<Message> other = {{"user", "not in the text"}};
  EXPECT_EQ(encoder(chatml).header_start(other, rendered, prompt), prompt.size());
}

class LengthPolicyTest : public PairEncoderTest {
 protected:
  void SetUp() override {
    row_ = make_row(
        "You are a helpful assistant. Answer the user question with data and model "
        "tokens, please.");
    PairEncodeCounts counts;
    full_ = *encoder(chatml).encode(row_, counts).pair;
    p_ = static_cast<int64_t>(full_.prompt.size());
    c_ = static_cast<int64_t>(full_.chosen.size());
    r_ = static_cast<int64_t>(full_.rejected.size());
    ASSERT_GT(c_, r_);  // chosen is the longer completion
  }
  PreferenceRow row_;
  EncodedPair full_;
  int64_t p_ = 0, c_ = 0, r_ = 0;
};

TEST_F(LengthPolicyTest, DropLeavesOutPairsOverTheLimitOnly) {
  PairEncodeCounts counts;
  EXPECT_TRUE(encoder(chatml, p_ + c_).encode(row_, counts).pair);
  PairEncodeResult result = encoder(chatml, p_ + c_ - 1).encode(row_, counts);
  EXPECT_FALSE(result.pair);
  EXPECT_EQ(result.issue, IssueCode::too_long);
  EXPECT_EQ(counts.kept, 1);
  EXPECT_EQ(counts.over_length, 1);
  EXPECT_EQ(counts.dropped_too_long, 1);
}

TEST_F(LengthPolicyTest, ErrorPolicyThrows) {
  PairEncodeCounts counts;
  try {
    encoder(chatml, p_ + c_ - 1, LengthPolicy::error).encode(row_, counts, "pairs.jsonl:7");
    FAIL() << "expected DataError";
  } catch (const DataError& error) {
    EXPECT_NE(std::string(error.what()).find("pairs.jsonl:7"), std::string::npos);
  }
}

TEST_F(LengthPolicyTest, TruncateCompletionCutsAndFlags) {
  PairEncodeCounts counts;
  const int64_t room = r_ + 1;  // the rejected completion fits, the chosen one does not
  PairEncodeResult result =
      encoder(chatml, p_ + room, LengthPolicy::truncate_completion).encode(row_, counts);
  ASSERT_TRUE(result.pair);
  EXPECT_EQ(result.issue, IssueCode::truncated);
  EXPECT_EQ(result.pair->chosen, Ids(full_.chosen.begin(), full_.chosen.begin() + room));
  EXPECT_EQ(result.pair->rejected, full_.rejected);
  EXPECT_EQ(result.pair->flags, kChosenTruncated);
  EXPECT_EQ(counts.completion_truncated, 1);
  EXPECT_EQ(counts.tokens_removed, c_ - room);
  // A prompt that fills the limit leaves no room: dropped.
  EXPECT_FALSE(encoder(chatml, p_, LengthPolicy::truncate_completion).encode(row_, counts).pair);
  EXPECT_EQ(counts.dropped_too_long, 1);
}

TEST_F(LengthPolicyTest, TruncatePromptLeftKeepsBosAndTheAssistantHeader) {
  PairEncodeCounts counts;
  const int64_t excess = 5;
  PairEncodeResult result =
      encoder(chatml, p_ + c_ - excess, LengthPolicy::truncate_prompt_left).encode(row_, counts);
  ASSERT_TRUE(result.pair) << result.message;
  const Ids& prompt = result.pair->prompt;
  EXPECT_EQ(static_cast<int64_t>(prompt.size()), p_ - excess);
  EXPECT_EQ(prompt[0], tokenizer_->bos_id());
  // Everything after the BOS is the end of the original prompt.
  EXPECT_EQ(
      Ids(prompt.begin() + 1, prompt.end()),
      Ids(full_.prompt.begin() + 1 + excess, full_.prompt.end()));
  EXPECT_EQ(result.pair->chosen, full_.chosen);
  EXPECT_EQ(result.pair->flags, kPromptTruncated);
  EXPECT_EQ(counts.prompt_truncated, 1);
  EXPECT_EQ(counts.tokens_removed, excess);

  // Cutting into the assistant header is refused: the pair is dropped instead.
  std::string rendered = chatml(row_.prompt, true);
  size_t header = encoder(chatml).header_start(row_.prompt, rendered, full_.prompt);
  const int64_t cuttable = static_cast<int64_t>(header) - 1;  // after the BOS
  EXPECT_TRUE(encoder(chatml, p_ + c_ - cuttable, LengthPolicy::truncate_prompt_left)
                  .encode(row_, counts)
                  .pair);
  PairEncodeResult refused =
      encoder(chatml, p_ + c_ - cuttable - 1, LengthPolicy::truncate_prompt_left)
          .encode(row_, counts);
  EXPECT_FALSE(refused.pair);
  EXPECT_EQ(refused.issue, IssueCode::too_long);
  EXPECT_NE(refused.message.find("assistant header"), std::string::npos);
}

TEST(PairEncoderCounts, MergeAddsEveryField) {
  PairEncodeCounts a, b;
  a.rows = 2;
  a.kept = 1;
  a.tokens_removed = 3;
  b.rows = 5;
  b.prefix_mismatches = 1;
  b.rejected_tokens = 7;
  a.merge(b);
  EXPECT_EQ(a.rows, 7);
  EXPECT_EQ(a.kept, 1);
  EXPECT_EQ(a.prefix_mismatches, 1);
  EXPECT_EQ(a.tokens_removed, 3);
  EXPECT_EQ(a.rejected_tokens, 7);
}

TEST(LengthPolicyNames, ParseAndName) {
  for (LengthPolicy policy :
       {LengthPolicy::drop,
        LengthPolicy::truncate_prompt_left,
        LengthPolicy::truncate_completion,
        LengthPolicy::error}) {
    EXPECT_EQ(parse_length_policy(length_policy_name(policy)), policy);
  }
  EXPECT_THROW(parse_length_policy("truncate"), UsageError);
}

}  // namespace
}  // namespace dpo
