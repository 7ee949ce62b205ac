// bench_hf_tokenize: single-thread throughput of dpo's tokenizer.json implementation, the C++
// half of tools/bench_hf_tokenize.py (which runs the Python tokenizers library on the same
// texts in the same run and prints both side by side).
//   bench_hf_tokenize TOKENIZER.json TEXTS.jsonl [REPEAT [TOKENIZER.model]]
// TEXTS.jsonl holds one JSON string per line. The texts are encoded (add_special_tokens=False)
// REPEAT times over on one thread; prints one JSON line: the load time, the best pass's
// wall-clock and CPU seconds, texts/s, tokens/s and MB/s (wall clock), and a checksum of the ids
// (so that the work is not optimised away and both sides can be compared). With a
// tokenizer.model of the same model, the same texts are also encoded by dpo's sentencepiece
// path (spm_mb_per_second, spm_cpu_seconds).
#include <algorithm>
#include <chrono>
#include <ctime>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/error.h"
#include "tokenizer/hf_json_tokenizer.h"
#include "tokenizer/tokenizer.h"

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3 || argc > 5) {
    std::cerr << "usage: bench_hf_tokenize TOKENIZER.json TEXTS.jsonl [REPEAT [TOKENIZER.model]]\n";
    return 2;
  }
  try {
    const int repeat = argc >= 4 ? std::max(1, std::stoi(argv[3])) : 3;
    std::ifstream in(argv[2]);
    if (!in)
      throw dpo::IoError(std::string("cannot open '") + argv[2] + "'");
    std::vector<std::string> texts;
    size_t bytes = 0;
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty())
        continue;
      texts.push_back(nlohmann::json::parse(line).get<std::string>());
      bytes += texts.back().size();
    }
    const auto load_start = Clock::now();
    auto tokenizer = dpo::HfJsonTokenizer::from_file(argv[1]);
    const double load_seconds = seconds_since(load_start);
    double best = 1e30, first = 0, best_cpu = 1e30;
    size_t tokens = 0;
    uint64_t checksum = 0;
    std::vector<int32_t> ids;
    for (int pass = 0; pass < repeat; ++pass) {
      tokens = 0;
      checksum = 0;
      const auto start = Clock::now();
      const std::clock_t cpu_start = std::clock();
      for (const std::string& text : texts) {
        ids.clear();
        tokenizer->encode(text, false, ids);
        tokens += ids.size();
        for (int32_t id : ids)
          checksum = checksum * 1000003 + static_cast<uint64_t>(id);
      }
      const double elapsed = seconds_since(start);
      best_cpu = std::min(best_cpu, double(std::clock() - cpu_start) / CLOCKS_PER_SEC);
      if (pass == 0)
        first = elapsed;
      best = std::min(best, elapsed);
    }
    nlohmann::json out = {
        {"load_seconds", load_seconds},
        {"first_pass_seconds", first},
        {"seconds", best},
        {"cpu_seconds", best_cpu},
        {"texts", texts.size()},
        {"tokens", tokens},
        {"bytes", bytes},
        {"texts_per_second", texts.size() / best},
        {"tokens_per_second", tokens / best},
        {"mb_per_second", bytes / best / 1e6},
        {"checksum", std::to_string(checksum)}};
    if (argc == 5) {
      const dpo::Tokenizer spm = dpo::Tokenizer::from_model_file(argv[4]);
      double spm_best = 1e30, spm_cpu = 1e30;
      for (int pass = 0; pass < repeat; ++pass) {
        const auto start = Clock::now();
        const std::clock_t cpu_start = std::clock();
        for (const std::string& text : texts) {
          ids.clear();
          spm.encode(text, ids);
        }
        spm_best = std::min(spm_best, seconds_since(start));
        spm_cpu = std::min(spm_cpu, double(std::clock() - cpu_start) / CLOCKS_PER_SEC);
      }
      out["spm_mb_per_second"] = bytes / spm_best / 1e6;
      out["spm_cpu_seconds"] = spm_cpu;
    }
    std::cout << out.dump() << "\n";
    return 0;
  } catch (const dpo::Error& error) {
    std::cerr << "bench_hf_tokenize: " << error.what() << "\n";
    return 2;
  }
}
