// Shared pieces of the end-to-end training tests (tests/trainer/dpo_trainer_test.cpp and
// tests/tools/train_resume_cli_test.cpp): generated preference pairs that a tiny model learns in
// a few dozen steps, the config.json of a model small enough to train in well under a second,
// and a reader for metrics.jsonl; for the command-line suites, the same world made through the
// dpo binary. Header-only because the suites compile tests/<layer>/*_test.cpp only, and
// tools_tests does not link the trainer.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/support/test_support.h"

namespace dpo::testing {

// `count` customer-support pairs (conversational format, one JSON object a line) whose chosen and
// rejected answers differ the same way every time: the chosen one checks the order first, the
// rejected one refunds on the spot. Every prompt is distinct (customer, item, problem and order
// number vary), so the split by prompt hash puts about val_fraction of them in the held-out split.
inline std::string support_pairs_jsonl(int count) {
  static const char* const kItems[] = {
      "jacket", "tent", "backpack", "boots", "lantern", "stove", "kayak paddle", "sleeping bag"};
  static const char* const kProblems[] = {
      "arrived torn",
      "never arrived",
      "is the wrong size",
      "was charged twice",
      "stopped working",
      "came without parts"};
  static const char* const kNames[] = {
      "Ana", "Ben", "Chloe", "Dev", "Eli", "Fay", "Gus", "Hana", "Ivo", "Jun"};
  std::string out;
  for (int i = 0; i < count; ++i) {
    const std::string item = kItems[i % 8];
    const std::string problem = kProblems[(i / 8) % 6];
    const std::string name = kNames[(i / 48) % 10];
    const std::string order = std::to_string(10007 + 37 * i);
    auto message = [](const std::string& role, const std::string& content) {
      return nlohmann::json{{"role", role}, {"content", content}};
    };
    nlohmann::json row = {
        {"id", "pair-" + std::to_string(i)},
        {"prompt",
         {message(
             "user",
             "Hi, this is " + name + ". My " + item + " " + problem + ", order " + order +
                 ". Can I get a refund?")}},
        {"chosen",
         {message(
             "assistant",
             "Sorry about the " + item + ", " + name +
                 ". Let me verify the order number first, then I "
                 "will start the refund.")}},
        {"rejected",
         {message(
             "assistant",
             "Refund issued right away for the " + item + ". No need to check anything.")}}};
    out += row.dump() + "\n";
  }
  return out;
}

// The chat markers of the chatml template, kept whole by the tokenizer and added to the model.
inline std::vector<std::string> chatml_markers() {
  return {"<|im_start|>", "<|im_end|>"};
}

// config.json of a 2-layer Llama with a 32-wide hidden state (about 30k parameters besides the
// embeddings): one training step on 8 pairs takes a few milliseconds on one thread.
inline std::string tiny_model_config_json(int64_t vocab_size) {
  nlohmann::json config = {
      {"architectures", {"LlamaForCausalLM"}},
      {"model_type", "llama"},
      {"hidden_size", 32},
      {"intermediate_size", 64},
      {"num_hidden_layers", 2},
      {"num_attention_heads", 2},
      {"num_key_value_heads", 2},
      {"vocab_size", vocab_size},
      {"rms_norm_eps", 1e-5},
      {"max_position_embeddings", 256},
      {"hidden_act", "silu"},
      {"torch_dtype", "float32"}};
  return config.dump(2) + "\n";
}

// Every line of a JSONL file (metrics.jsonl, eval_pairs.jsonl), parsed.
inline std::vector<nlohmann::json> read_jsonl(const std::string& path) {
  std::vector<nlohmann::json> lines;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty())
      lines.push_back(nlohmann::json::parse(line));
  }
  return lines;
}

// The lines of metrics.jsonl with "split" == `split` (skipped steps included for "train").
inline std::vector<nlohmann::json> metrics_lines(
    const std::string& path, const std::string& split) {
  std::vector<nlohmann::json> out;
  for (nlohmann::json& line : read_jsonl(path)) {
    if (line.value("split", "") == split)
      out.push_back(std::move(line));
  }
  return out;
}

// pairs.jsonl -> tokenizer -> model (2 layers, hidden 32) -> prepared.h5, all in `dir`, through
// the `dpo` binary at `dpo` (train-tokenizer, init-model, prepare). Use with
// ASSERT_NO_FATAL_FAILURE.
inline void make_cli_world(const TempDir& dir, const std::string& dpo) {
  auto quote = [](const std::string& text) { return "'" + text + "'"; };
  write_file(dir.file("pairs.jsonl"), support_pairs_jsonl(200));
  write_file(dir.file("shape.json"), tiny_model_config_json(512));
  const std::string markers = " --user-symbol '<|im_start|>' --user-symbol '<|im_end|>'";
  auto step = [](const std::string& command) {
    auto result = run_command(command);
    ASSERT_EQ(result.exit_code, 0) << command << "\n" << result.output;
  };
  step(
      dpo + " train-tokenizer " + quote(dir.file("pairs.jsonl")) + " --out " +
      quote(dir.file("tok")) + " --vocab-size 512" + markers);
  step(
      dpo + " init-model --config " + quote(dir.file("shape.json")) + " --tokenizer " +
      quote(dir.file("tok/tokenizer.model")) +
      " --template chatml --special-token '<|im_start|>' --special-token '<|im_end|>'"
      " --eos-token '<|im_end|>' --seed 1 --out " +
      quote(dir.file("model")));
  step(
      dpo + " prepare --data " + quote(dir.file("pairs.jsonl")) + " --model " +
      quote(dir.file("model")) + " --max-length 128 --val-fraction 0.2 --threads 1 --out " +
      quote(dir.file("prepared.h5")));
}

}  // namespace dpo::testing
