// dpo template render|show|list, run as a user would: exact bytes out, exit codes, messages.
#include <gtest/gtest.h>

#include "tests/support/test_support.h"

namespace dpo {
namespace {

using testing::run_command;

const std::string kDpo = DPO_BINARY_PATH;

// Writes a two-turn conversation and returns its path.
std::string write_messages(const testing::TempDir& dir) {
  std::string path = dir.file("messages.json");
  testing::write_file(
      path, R"([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi é"}])");
  return path;
}

// `dpo template render --template chatml --add-generation-prompt` of a messages file (stdout only).
testing::CommandResult render_chatml_prompt(const std::string& messages) {
  return run_command(
      kDpo + " template render --template chatml --messages " + messages +
      " --add-generation-prompt 2>/dev/null");
}

TEST(TemplateCli, RenderPrintsTheExactBytesWithNothingAdded) {
  testing::TempDir dir;
  std::string messages = write_messages(dir);
  auto result = render_chatml_prompt(messages);
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_EQ(
      result.output,
      "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi "
      "é<|im_end|>\n<|im_start|>assistant\n");
}

TEST(TemplateCli, RenderTakesSpecialTokensFromFlagsOrAModelFolder) {
  testing::TempDir dir;
  std::string messages = dir.file("m.json");
  testing::write_file(
      messages,
      R"({"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}]})");
  auto flags = run_command(
      kDpo + " template render --template mistral --messages " + messages +
      " --bos '<s>' --eos '</s>' 2>/dev/null");
  EXPECT_EQ(flags.exit_code, 0) << flags.output;
  EXPECT_EQ(flags.output, "<s>[INST] x [/INST]y</s>");

  testing::write_file(
      dir.file("tokenizer_config.json"),
      R"({"bos_token": {"content": "<bos>"}, "eos_token": "<eos>", "chat_template": "{{ bos_token }}{{ messages[0].content }}{{ eos_token }}"})");
  auto folder = run_command(
      kDpo + " template render --special-tokens-from " + dir.path() + " --messages " + messages +
      " 2>/dev/null");
  EXPECT_EQ(folder.exit_code, 0) << folder.output;
  EXPECT_EQ(folder.output, "<bos>x<eos>");
}

TEST(TemplateCli, RenderReadsMessagesAsTrainingRowsAre) {
  // The data library's row parsing reads the messages, as for training data: content as a list
  // of text parts (joined by newlines), role aliases (human -> user, from/value).
  testing::TempDir dir;
  std::string messages = dir.file("parts.json");
  testing::write_file(
      messages,
      R"([{"role": "system", "content": [{"type": "text", "text": "Be brief."}]},)"
      R"( {"from": "human", "value": [{"type": "text", "text": "Hi"}, "é"]}])");
  auto result = render_chatml_prompt(messages);
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_EQ(
      result.output,
      "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi\n"
      "é<|im_end|>\n<|im_start|>assistant\n");

  // A part that is not text is refused with the place it is in, as in a training row.
  testing::write_file(
      messages,
      R"({"messages": [{"role": "user", "content": [{"type": "image", "url": "x.png"}]}]})");
  auto image =
      run_command(kDpo + " template render --template chatml --messages " + messages + " 2>&1");
  EXPECT_EQ(image.exit_code, 2);
  EXPECT_NE(
      image.output.find(
          messages + "': 'messages[0].content[0]' is a content part of type "
                     "'image'; only text parts are supported"),
      std::string::npos)
      << image.output;
  // Not JSON, or not a list of messages: exit 2 naming the file.
  testing::write_file(messages, R"({"messages": "hi")");
  auto broken =
      run_command(kDpo + " template render --template chatml --messages " + messages + " 2>&1");
  EXPECT_EQ(broken.exit_code, 2);
  EXPECT_NE(broken.output.find("'" + messages + "' is not valid JSON"), std::string::npos)
      << broken.output;
  testing::write_file(messages, R"({"messages": "hi"})");
  auto scalar =
      run_command(kDpo + " template render --template chatml --messages " + messages + " 2>&1");
  EXPECT_EQ(scalar.exit_code, 2);
  EXPECT_NE(
      scalar.output.find("'" + messages + "' must hold a JSON array of messages"),
      std::string::npos)
      << scalar.output;
  auto absent = run_command(
      kDpo + " template render --template chatml --messages " + dir.file("absent.json") + " 2>&1");
  EXPECT_EQ(absent.exit_code, 2);
  EXPECT_NE(
      absent.output.find("cannot read messages file '" + dir.file("absent.json") + "'"),
      std::string::npos)
      << absent.output;
}

TEST(TemplateCli, ShowPrintsOriginHashAndText) {
  auto result = run_command(kDpo + " template show zephyr");
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_EQ(result.output.find("origin: builtin:zephyr\nsha256: "), 0u) << result.output;
  EXPECT_NE(result.output.find("{% for message in messages %}"), std::string::npos);
}

TEST(TemplateCli, ListNamesTheBuiltins) {
  auto result = run_command(kDpo + " template list");
  EXPECT_EQ(result.exit_code, 0);
  for (const char* name :
       {"chatml", "llama2", "llama3", "mistral", "zephyr", "gemma", "phi3", "plain"}) {
    EXPECT_NE(result.output.find(name), std::string::npos) << name;
  }
}

TEST(TemplateCli, ErrorsExitWith2AndNameThePlace) {
  testing::TempDir dir;
  std::string messages = write_messages(dir);
  // Gemma refuses a system message with raise_exception.
  auto raised = run_command(kDpo + " template render --template gemma --messages " + messages);
  EXPECT_EQ(raised.exit_code, 2);
  EXPECT_NE(raised.output.find("raise_exception: System role not supported"), std::string::npos)
      << raised.output;

  testing::write_file(
      dir.file("bad.jinja"), "{% for m in messages %}\n{{ m | nofilter }}{% endfor %}");
  auto bad = run_command(
      kDpo + " template render --template " + dir.file("bad.jinja") + " --messages " + messages);
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(
      bad.output.find(dir.file("bad.jinja") + ":2:8: no filter named 'nofilter'"),
      std::string::npos)
      << bad.output;

  EXPECT_EQ(
      run_command(kDpo + " template render --template nosuch --messages " + messages).exit_code, 2);
  EXPECT_EQ(run_command(kDpo + " template").exit_code, 2);
}

}  // namespace
}  // namespace dpo
