// bench_tokenize: tokenization throughput of dpo's Tokenizer against sentencepiece's own
// `spm_encode` on the same text.
//   bench_tokenize MODEL [PAIRS.jsonl] [REPEAT] [SPM_ENCODE]
// The text of each pair (every string in its prompt/chosen/rejected messages, newlines turned
// into spaces so that spm_encode sees one pair per line) is tokenized REPEAT times over: by
// dpo on 1 and 2 threads, and by one `spm_encode --output_format=id` process (wall time of the
// subprocess, reading a file and writing ids to another). Prints pairs/s, tokens/s and MB/s.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/malloc_tuning.h"
#include "tokenizer/tokenizer.h"
#include "tools/bench_spm_encode.h"

namespace {

using Clock = std::chrono::steady_clock;

void collect_strings(const nlohmann::json& value, std::string& out) {
  if (value.is_string()) {
    if (!out.empty())
      out += ' ';
    out += value.get<std::string>();
  } else if (value.is_array() || value.is_object()) {
    for (const auto& item : value)
      collect_strings(item, out);
  }
}

std::vector<std::string> read_pair_texts(const std::string& path) {
  std::ifstream in(path);
  if (!in)
    throw std::runtime_error("cannot open " + path);
  std::vector<std::string> texts;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty())
      continue;
    nlohmann::json row = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (row.is_discarded())
      continue;
    std::string text;
    for (const char* key : {"prompt", "chosen", "rejected"}) {
      if (row.contains(key))
        collect_strings(row[key], text);
    }
    for (char& c : text) {
      if (c == '\n' || c == '\r')
        c = ' ';
    }
    texts.push_back(std::move(text));
  }
  return texts;
}

struct Figures {
  double seconds = 0;
  int64_t tokens = 0;
};

Figures run_dpo(
    const dpo::Tokenizer& tokenizer, const std::vector<std::string>& texts, int threads) {
  std::atomic<int64_t> tokens{0};
  auto start = Clock::now();
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      std::vector<int32_t> ids;
      int64_t count = 0;
      for (size_t i = static_cast<size_t>(t); i < texts.size(); i += static_cast<size_t>(threads)) {
        ids.clear();
        tokenizer.encode(texts[i], ids);
        count += static_cast<int64_t>(ids.size());
      }
      tokens += count;
    });
  }
  for (auto& worker : workers)
    worker.join();
  return {std::chrono::duration<double>(Clock::now() - start).count(), tokens.load()};
}

Figures run_spm(
    const std::string& spm, const std::string& model, const std::vector<std::string>& texts) {
  std::string input = "/tmp/bench_tokenize_" + std::to_string(getpid()) + ".txt";
  std::string output = input + ".ids";
  {
    std::ofstream out(input);
    for (const std::string& text : texts)
      out << text << '\n';
  }
  std::string command =
      spm + " --model=" + model + " --output_format=id < " + input + " > " + output;
  auto start = Clock::now();
  int status = std::system(command.c_str());
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (status != 0)
    throw std::runtime_error("failed: " + command);
  Figures figures{seconds, 0};
  std::ifstream ids(output);
  std::string word;
  while (ids >> word)
    ++figures.tokens;
  std::remove(input.c_str());
  std::remove(output.c_str());
  return figures;
}

void print(const char* name, const Figures& f, size_t pairs, double megabytes) {
  std::printf(
      "%-22s %8.3f s %10.0f pairs/s %12.0f tokens/s %8.2f MB/s  (%lld tokens)\n",
      name,
      f.seconds,
      static_cast<double>(pairs) / f.seconds,
      static_cast<double>(f.tokens) / f.seconds,
      megabytes / f.seconds,
      static_cast<long long>(f.tokens));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: bench_tokenize MODEL [PAIRS.jsonl] [REPEAT] [SPM_ENCODE]\n";
    return 2;
  }
  std::string model = argv[1];
  std::string pairs_path = argc > 2 ? argv[2] : "examples/support/pairs.jsonl";
  int repeat = argc > 3 ? std::atoi(argv[3]) : 10;
  std::string spm = argc > 4 ? argv[4] : "spm_encode";
  dpo::keep_freed_memory_in_heap();  // as the dpo binary does
  try {
    dpo_bench::require_spm_encode(spm);
    std::vector<std::string> one = read_pair_texts(pairs_path);
    std::vector<std::string> texts;
    for (int r = 0; r < repeat; ++r)
      texts.insert(texts.end(), one.begin(), one.end());
    double bytes = 0;
    for (const std::string& text : texts)
      bytes += static_cast<double>(text.size());
    double megabytes = bytes / 1e6;
    dpo::Tokenizer tokenizer = dpo::Tokenizer::from_model_file(model);
    std::printf(
        "%s x %d: %zu pairs, %.2f MB of text; model %s (%d pieces); %u hardware threads\n",
        pairs_path.c_str(),
        repeat,
        texts.size(),
        megabytes,
        model.c_str(),
        tokenizer.vocab_size(),
        std::thread::hardware_concurrency());
    run_dpo(tokenizer, one, 1);  // warm-up (loads the shim, touches the model)
    Figures spm_figures = run_spm(spm, model, texts);
    Figures dpo1 = run_dpo(tokenizer, texts, 1);
    Figures dpo2 = run_dpo(tokenizer, texts, 2);
    print("spm_encode (1 process)", spm_figures, texts.size(), megabytes);
    print("dpo, 1 thread", dpo1, texts.size(), megabytes);
    print("dpo, 2 threads", dpo2, texts.size(), megabytes);
    std::printf(
        "dpo 1 thread / spm_encode: %.2fx; dpo 2 threads / spm_encode: %.2fx (wall)\n",
        spm_figures.seconds / dpo1.seconds,
        spm_figures.seconds / dpo2.seconds);
    if (spm_figures.tokens != dpo1.tokens) {
      std::printf(
          "note: token counts differ (spm_encode %lld, dpo %lld)\n",
          static_cast<long long>(spm_figures.tokens),
          static_cast<long long>(dpo1.tokens));
    }
  } catch (const std::exception& error) {
    std::cerr << "error: " << error.what() << "\n";
    return 2;
  }
  return 0;
}
