// HfJsonTokenizer against the Python tokenizers library's own output: the fixtures of
// tests/fixtures/hf_tokenizers (small tokenizer.json files of five styles, GPT-2, Llama 3,
// Qwen, Mistral/TinyLlama Metaspace, Phi; made by tools/make_hf_tokenizer_fixtures.py) hold,
// for every text of corpus.jsonl, the library's ids with and without add_special_tokens and its
// decodes. dpo must give exactly the same.
#include <gtest/gtest.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "tests/support/test_support.h"
#include "tokenizer/hf_json_tokenizer.h"

namespace dpo {
namespace {

using json = nlohmann::json;

std::string fixtures() {
  return std::string(DPO_SOURCE_DIR) + "/tests/fixtures/hf_tokenizers";
}

std::vector<json> read_lines(const std::string& path) {
  std::istringstream in(testing::read_file(path));
  std::vector<json> lines;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty())
      lines.push_back(json::parse(line));
  }
  return lines;
}

class HfJsonFixture : public ::testing::TestWithParam<std::string> {};

TEST_P(HfJsonFixture, EncodesAndDecodesAsTheTokenizersLibrary) {
  const std::string folder = fixtures() + "/" + GetParam();
  auto tokenizer = HfJsonTokenizer::from_file(folder + "/tokenizer.json");
  const std::vector<json> texts = read_lines(fixtures() + "/corpus.jsonl");
  const std::vector<json> expected = read_lines(folder + "/expected.jsonl");
  ASSERT_EQ(texts.size(), expected.size());
  ASSERT_GE(texts.size(), 50u);
  int failures = 0;
  for (size_t i = 0; i < texts.size() && failures < 5; ++i) {
    const std::string text = texts[i].get<std::string>();
    const auto ids = tokenizer->encode(text, false);
    const auto ids_special = tokenizer->encode(text, true);
    const bool same =
        ids == expected[i]["ids"].get<std::vector<int32_t>>() &&
        ids_special == expected[i]["ids_special"].get<std::vector<int32_t>>() &&
        tokenizer->decode(ids, false) == expected[i]["decode"].get<std::string>() &&
        tokenizer->decode(ids_special, true) == expected[i]["decode_skip"].get<std::string>();
    if (!same) {
      ++failures;
      ADD_FAILURE() << GetParam() << ": text " << i << " " << texts[i].dump() << "\n  expected "
                    << expected[i].dump() << "\n  dpo ids " << json(ids).dump();
    }
  }
}

TEST(HfJsonFixtureThreads, FourThreadsEncodeAsOne) {
  // Word caches and regex match data are per thread; the tokenizer itself is shared.
  auto tokenizer = HfJsonTokenizer::from_file(fixtures() + "/metaspace/tokenizer.json");
  const std::vector<json> texts = read_lines(fixtures() + "/corpus.jsonl");
  const std::vector<json> expected = read_lines(fixtures() + "/metaspace/expected.jsonl");
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 3; ++round) {
        for (size_t i = static_cast<size_t>(t); i < texts.size(); i += 2) {
          if (tokenizer->encode(texts[i].get<std::string>(), false) !=
              expected[i]["ids"].get<std::vector<int32_t>>())
            ++wrong;
        }
      }
    });
  }
  for (std::thread& thread : threads)
    thread.join();
  EXPECT_EQ(wrong.load(), 0);
}

INSTANTIATE_TEST_SUITE_P(
    Styles, HfJsonFixture, ::testing::Values("gpt2", "llama3", "qwen", "metaspace", "phi"));

}  // namespace
}  // namespace dpo
