// bench_validate: throughput of `dpo validate` on one thread, side by side with a bare Python
// loop that only runs json.loads on each line of the same file.
//
//   bench_validate [--rows N] [--file PATH] [--python /usr/bin/python3] [--keep] [--generate-only]
//
// --generate-only writes the file and stops (tools/bench_startup.py times whole processes on it).
// The file holds UltraFeedback-like rows (HuggingFaceH4/ultrafeedback_binarized schema: prompt,
// prompt_id, chosen and rejected as [user, assistant] message lists, messages, score_chosen,
// score_rejected), generated deterministically. Prints MB/s and rows/s for both and their ratio.
#include <sys/stat.h>

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/text.h"
#include "data/validator.h"

namespace {

const char* kWords[] = {
    "the",       "model",      "answer",   "should", "explain",   "why",     "data",
    "training",  "preference", "pair",     "user",   "assistant", "because", "however",
    "therefore", "example",    "function", "value",  "return",    "result",  "consider",
    "following", "step",       "first",    "second", "then",      "finally", "important",
    "note",      "that",       "this",     "with",   "without",   "can",     "will",
    "code",      "python",     "list",     "number", "string",    "error",   "output",
    "input",     "question",   "help",     "please", "write",     "short",   "story",
    "about",     "a",          "an",       "of",     "to",        "in",      "is",
    "are",       "**bold**",   "`x = 1`",  "1.",     "2.",        "-",       "(see",
    "above)",    "e.g.,",      "it's",     "100%"};
constexpr size_t kWordCount = sizeof(kWords) / sizeof(kWords[0]);
// Rare words that exercise escapes and multi-byte UTF-8, as real exports have a few of them.
const char* kRareWords[] = {
    "café", "naïve", "日本語", "données", "🙂", "quote\"inside", "back\\slash", "tab\there"};
constexpr size_t kRareWordCount = sizeof(kRareWords) / sizeof(kRareWords[0]);

std::string sentence(std::mt19937_64& rng, int words) {
  std::string text;
  for (int i = 0; i < words; ++i) {
    if (i)
      text += (rng() % 13 == 0) ? "\n" : " ";
    uint64_t draw = rng();
    text += (draw % 200 == 0) ? kRareWords[(draw >> 8) % kRareWordCount]
                              : kWords[(draw >> 8) % kWordCount];
  }
  return text;
}

std::string message(const std::string& role, const std::string& content) {
  return "{\"content\": " + dpo::json_quote(content) + ", \"role\": \"" + role + "\"}";
}

// One row shaped like HuggingFaceH4/ultrafeedback_binarized (about 6 KB: the prompt appears
// four times, the chosen answer twice).
std::string ultrafeedback_row(std::mt19937_64& rng, uint64_t index) {
  std::string prompt = sentence(rng, 20 + static_cast<int>(rng() % 60));
  std::string chosen = sentence(rng, 80 + static_cast<int>(rng() % 300));
  std::string rejected = sentence(rng, 60 + static_cast<int>(rng() % 300));
  char id[65];
  std::snprintf(
      id,
      sizeof(id),
      "%016" PRIx64 "%016" PRIx64 "%016" PRIx64 "%016" PRIx64,
      rng(),
      rng(),
      rng(),
      index);
  std::string user = message("user", prompt);
  std::string row = "{\"prompt\": " + dpo::json_quote(prompt) + ", \"prompt_id\": \"" + id +
                    "\", \"chosen\": [" + user + ", " + message("assistant", chosen) +
                    "], \"rejected\": [" + user + ", " + message("assistant", rejected) +
                    "], \"messages\": [" + user + ", " + message("assistant", chosen) +
                    "], \"score_chosen\": " + std::to_string(7 + rng() % 4) +
                    ".0, \"score_rejected\": " + std::to_string(1 + rng() % 6) + ".0}\n";
  return row;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

uint64_t file_size(const std::string& path) {
  struct stat info {};
  return stat(path.c_str(), &info) == 0 ? static_cast<uint64_t>(info.st_size) : 0;
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t rows = 40000;  // about 250 MB
  std::string path = "bench-data/ultrafeedback_like.jsonl";
  std::string python = "/usr/bin/python3";
  bool keep = false;
  bool generate_only = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", arg.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--rows")
      rows = std::strtoull(next().c_str(), nullptr, 10);
    else if (arg == "--file")
      path = next();
    else if (arg == "--python")
      python = next();
    else if (arg == "--keep")
      keep = true;
    else if (arg == "--generate-only")
      generate_only = true;
    else {
      std::fprintf(
          stderr,
          "usage: bench_validate [--rows N] [--file PATH] [--python EXE] [--keep] "
          "[--generate-only]\n");
      return 2;
    }
  }

  // 1. The input file (regenerated unless it exists with --keep).
  if (!(keep && file_size(path) > 0)) {
    std::string dir = path.substr(0, path.find_last_of('/'));
    if (dir != path)
      std::system(("mkdir -p '" + dir + "'").c_str());
    std::FILE* out = std::fopen(path.c_str(), "wb");
    if (out == nullptr) {
      std::perror(path.c_str());
      return 2;
    }
    std::mt19937_64 rng(20261125);
    for (uint64_t r = 0; r < rows; ++r) {
      std::string row = ultrafeedback_row(rng, r);
      std::fwrite(row.data(), 1, row.size(), out);
    }
    std::fclose(out);
  }
  double megabytes = static_cast<double>(file_size(path)) / 1e6;
  std::printf("file: %s, %.1f MB\n", path.c_str(), megabytes);
  if (generate_only)
    return 0;

  // 2. Full validation on this thread (every check, split, statistics).
  dpo::ValidateOptions options;
  auto start = std::chrono::steady_clock::now();
  dpo::ValidationReport report = dpo::validate_files({path}, options, nullptr);
  double validate_s = seconds_since(start);

  // 3. The baseline: parse only.
  std::string script =
      "import json,sys,time\n"
      "t=time.perf_counter();n=0\n"
      "with open(sys.argv[1],'rb') as f:\n"
      "    for line in f:\n"
      "        json.loads(line);n+=1\n"
      "print(n, time.perf_counter()-t)\n";
  std::string command = python + " -c \"" + script + "\" '" + path + "'";
  std::FILE* pipe = popen(command.c_str(), "r");
  uint64_t python_rows = 0;
  double python_s = 0;
  if (pipe == nullptr || std::fscanf(pipe, "%" SCNu64 " %lf", &python_rows, &python_s) != 2) {
    std::fprintf(stderr, "could not run the Python baseline: %s\n", command.c_str());
    if (pipe)
      pclose(pipe);
    return 1;
  }
  pclose(pipe);

  std::printf("%-34s %10s %12s %10s\n", "", "MB/s", "rows/s", "seconds");
  std::printf(
      "%-34s %10.0f %12.0f %10.2f\n",
      "dpo validate (1 thread, all checks)",
      megabytes / validate_s,
      report.rows / validate_s,
      validate_s);
  std::printf(
      "%-34s %10.0f %12.0f %10.2f\n",
      "python3 json.loads loop",
      megabytes / python_s,
      python_rows / python_s,
      python_s);
  std::printf("ratio validate / json.loads: %.2fx\n", python_s / validate_s);
  std::printf(
      "rows %" PRIu64 " (python %" PRIu64 "), pairs_ok %" PRIu64 ", errors %" PRIu64
      ", warnings %" PRIu64 "\n",
      report.rows,
      python_rows,
      report.pairs_ok,
      report.errors,
      report.warnings);
  return report.rows == python_rows ? 0 : 1;
}
