#include "tests/support/test_support.h"

#include "core/file_io.h"

#include "tokenizer/sentencepiece_model.h"

#include <stdlib.h>
#include <sys/wait.h>
#include <zlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace dpo::testing {

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string pattern = std::string(base && *base ? base : "/tmp") + "/dpo-test-XXXXXX";
  std::vector<char> buffer(pattern.begin(), pattern.end());
  buffer.push_back('\0');
  if (mkdtemp(buffer.data()) == nullptr)
    throw std::runtime_error("mkdtemp failed");
  path_ = buffer.data();
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::string TempDir::file(const std::string& name) const {
  return path_ + "/" + name;
}

void write_file(const std::string& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out)
    throw std::runtime_error("cannot write " + path);
}

std::string read_file(const std::string& path) {
  return dpo::read_file(path);
}

void write_gzip_file(const std::string& path, std::string_view bytes, int members) {
  std::FILE* out = std::fopen(path.c_str(), "wb");
  if (out == nullptr)
    throw std::runtime_error("cannot write " + path);
  size_t per_member = (bytes.size() + members - 1) / static_cast<size_t>(members);
  for (int m = 0; m < members; ++m) {
    std::string_view part = bytes.substr(std::min(bytes.size(), m * per_member), per_member);
    z_stream stream{};
    deflateInit2(&stream, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
    std::vector<unsigned char> compressed(deflateBound(&stream, part.size()) + 64);
    stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(part.data()));
    stream.avail_in = static_cast<uInt>(part.size());
    stream.next_out = compressed.data();
    stream.avail_out = static_cast<uInt>(compressed.size());
    deflate(&stream, Z_FINISH);
    std::fwrite(compressed.data(), 1, stream.total_out, out);
    deflateEnd(&stream);
  }
  std::fclose(out);
}

std::string train_tiny_sentencepiece(
    const TempDir& dir,
    const std::vector<std::string>& sentences,
    int vocab_size,
    const std::string& extra_flags) {
  std::string corpus = dir.file("corpus.txt");
  std::string text;
  for (const std::string& s : sentences)
    text += s + "\n";
  write_file(corpus, text);
  std::string prefix = dir.file("tiny_sp");
  std::string flags = "--input=" + corpus + " --model_prefix=" + prefix +
                      " --vocab_size=" + std::to_string(vocab_size) +
                      " --model_type=bpe --character_coverage=1.0 --minloglevel=2 " + extra_flags;
  dpo::train_sentencepiece(flags);
  return prefix + ".model";
}

CommandResult run_command(const std::string& command) {
  CommandResult result;
  std::FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr)
    throw std::runtime_error("popen failed: " + command);
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0)
    result.output.append(buffer, n);
  int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

std::vector<std::string> tokenizer_test_corpus() {
  const char* words[] = {
      "hello",  "world",    "the",       "quick",  "brown",    "fox",     "jumps",    "over",
      "lazy",   "dog",      "assistant", "user",   "system",   "answer",  "question", "please",
      "thank",  "you",      "order",     "refund", "password", "account", "café",     "naïve",
      "résumé", "日本語",   "テキスト",  "🙂",   "data",     "model",   "token",    "prompt",
      "chosen", "rejected", "Hello",     "World",  "Yes",      "No"};
  const char* marks[] = {".", ",", "!", "?", ":", " 42", " 3.14", " (x)", "", "  "};
  std::vector<std::string> lines;
  uint64_t state = 12345;
  auto next = [&](uint64_t bound) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<size_t>((state >> 33) % bound);
  };
  for (int line = 0; line < 300; ++line) {
    std::string text;
    size_t count = 3 + next(10);
    for (size_t w = 0; w < count; ++w) {
      if (w > 0)
        text += " ";
      text += words[next(sizeof(words) / sizeof(words[0]))];
      text += marks[next(sizeof(marks) / sizeof(marks[0]))];
    }
    lines.push_back(text);
  }
  return lines;
}

std::string train_llama_like_sentencepiece(
    const TempDir& dir, int vocab_size, const std::string& extra_flags) {
  return train_tiny_sentencepiece(
      dir,
      tokenizer_test_corpus(),
      vocab_size,
      "--byte_fallback=true --normalization_rule_name=identity "
      "--remove_extra_whitespaces=false --split_digits=true " +
          extra_flags);
}

}  // namespace dpo::testing
