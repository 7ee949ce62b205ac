// Helpers shared by the test suites: temporary folders, files, gzip, a tiny tokenizer.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace dpo::testing {

// A fresh folder under $TMPDIR, removed with everything in it when the object goes away.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const {
    return path_;
  }
  // path() + "/" + name
  std::string file(const std::string& name) const;

 private:
  std::string path_;
};

void write_file(const std::string& path, std::string_view bytes);
std::string read_file(const std::string& path);
// Writes `bytes` gzip-compressed; `members` > 1 splits them into concatenated gzip members.
void write_gzip_file(const std::string& path, std::string_view bytes, int members = 1);

// Trains a small sentencepiece model on `sentences` in-process (about a second) and returns
// the path of its .model file inside `dir`.
std::string train_tiny_sentencepiece(
    const TempDir& dir,
    const std::vector<std::string>& sentences,
    int vocab_size = 200,
    const std::string& extra_flags = "");

// Runs a shell command, returning its exit status and captured stdout+stderr.
struct CommandResult {
  int exit_code = -1;
  std::string output;
};
CommandResult run_command(const std::string& command);

// A varied corpus (English words, punctuation, digits, accents, CJK, emoji) for tokenizer
// tests; about 300 lines.
std::vector<std::string> tokenizer_test_corpus();

// Trains a Llama-like tokenizer on tokenizer_test_corpus(): BPE, byte fallback, identity
// normalizer, no whitespace collapsing, <unk>=0 <s>=1 </s>=2, `vocab_size` pieces (>= 300), plus
// `extra_flags` (e.g. "--control_symbols=[INST],[/INST]"). Returns the .model path in `dir`.
std::string train_llama_like_sentencepiece(
    const TempDir& dir, int vocab_size = 400, const std::string& extra_flags = "");

}  // namespace dpo::testing
