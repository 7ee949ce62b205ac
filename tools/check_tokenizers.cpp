// check_tokenizers: compares dpo's Tokenizer with sentencepiece's own `spm_encode` on real
// tokenizer.model files (not part of ctest: the models are not shipped with the tests).
//   check_tokenizers DIR_WITH_MODELS [SPM_ENCODE]
// For every *.model* file in DIR: a set of texts is encoded by `spm_encode --output_format=id`
// and by dpo (no config: plain pieces must match exactly; texts with special tokens must equal
// the pieces between them encoded on their own, legacy=true); legacy=false must equal
// legacy=true on texts that neither start with a space nor contain special tokens. Also checks
// the README fact "Hello world" -> 22557 1526 for Mistral v1. Exit status 0 when all agree.
#include <dirent.h>
#include <unistd.h>

#include <algorithm>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/file_io.h"
#include "tokenizer/tokenizer.h"

namespace {

const std::vector<std::string> kTexts = {
    "Hello world",
    "Hello, world!",
    " leading space",
    "  two leading spaces",
    "trailing space ",
    "multiple   inner    spaces",
    "tabs\tinside",
    "Unicode: café naïve résumé",
    "日本語のテキスト",
    "emoji 🙂👍 and symbols ∑ ∞",
    "Ελληνικά και русский",
    "numbers 1234567890 3.14159",
    "code: for (int i = 0; i < n; ++i) { x += i; }",
    "a",
    "The quick brown fox jumps over the lazy dog.",
    "▁already▁underlined",
};

std::string run_spm_encode(
    const std::string& spm,
    const std::string& model,
    const std::vector<std::string>& texts,
    const std::string& tmp) {
  std::ofstream out(tmp);
  for (const std::string& text : texts)
    out << text << "\n";
  out.close();
  std::string command = spm + " --model=" + model + " --output_format=id < " + tmp;
  std::FILE* pipe = popen(command.c_str(), "r");
  if (!pipe)
    throw std::runtime_error("cannot run " + command);
  std::string output;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0)
    output.append(buffer, n);
  if (pclose(pipe) != 0)
    throw std::runtime_error("failed: " + command);
  return output;
}

std::vector<std::vector<int32_t>> parse_lines(const std::string& output) {
  std::vector<std::vector<int32_t>> lines;
  std::istringstream in(output);
  std::string line;
  while (std::getline(in, line)) {
    std::vector<int32_t> ids;
    std::istringstream words(line);
    int32_t id;
    while (words >> id)
      ids.push_back(id);
    lines.push_back(ids);
  }
  return lines;
}

std::string join(const std::vector<int32_t>& ids) {
  std::string text;
  for (size_t i = 0; i < ids.size(); ++i)
    text += (i ? " " : "") + std::to_string(ids[i]);
  return text;
}

int failures = 0;
int checks = 0;

void expect(
    bool ok,
    const std::string& what,
    const std::vector<int32_t>& ours,
    const std::vector<int32_t>& expected) {
  ++checks;
  if (ok)
    return;
  ++failures;
  std::cout << "  MISMATCH " << what << "\n    dpo:      " << join(ours)
            << "\n    expected: " << join(expected) << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: check_tokenizers DIR_WITH_MODELS [SPM_ENCODE]\n";
    return 2;
  }
  std::string dir = argv[1];
  std::string spm = argc > 2 ? argv[2] : "spm_encode";
  std::vector<std::string> models;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* entry = readdir(d)) {
      std::string name = entry->d_name;
      if (name.find(".model") != std::string::npos)
        models.push_back(dir + "/" + name);
    }
    closedir(d);
  }
  std::sort(models.begin(), models.end());
  std::string tmp = "/tmp/check_tokenizers_" + std::to_string(getpid()) + ".txt";
  try {
    for (const std::string& model : models) {
      dpo::Tokenizer tokenizer = dpo::Tokenizer::from_model_file(model);
      const auto& info = tokenizer.model_info();
      std::cout << model << ": " << info.model_type << ", " << tokenizer.vocab_size()
                << " pieces, normalizer " << info.normalizer_name << ", byte_fallback "
                << info.byte_fallback << ", add_dummy_prefix " << info.add_dummy_prefix
                << ", remove_extra_whitespaces " << info.remove_extra_whitespaces << ", "
                << tokenizer.special_tokens().size() << " special tokens\n";
      auto expected = parse_lines(run_spm_encode(spm, model, kTexts, tmp));
      for (size_t i = 0; i < kTexts.size(); ++i) {
        auto ours = tokenizer.encode(kTexts[i]);
        expect(ours == expected.at(i), "plain text '" + kTexts[i] + "'", ours, expected[i]);
      }
      // Special tokens between texts (legacy: each piece on its own, with the dummy prefix).
      if (tokenizer.bos_id() >= 0 && tokenizer.eos_id() >= 0) {
        std::string bos = tokenizer.bos_token(), eos = tokenizer.eos_token();
        for (size_t i = 0; i + 1 < kTexts.size(); i += 3) {
          std::string text = bos + kTexts[i] + eos + bos + eos + kTexts[i + 1];
          std::vector<int32_t> want = {tokenizer.bos_id()};
          want.insert(want.end(), expected[i].begin(), expected[i].end());
          want.insert(want.end(), {tokenizer.eos_id(), tokenizer.bos_id(), tokenizer.eos_id()});
          want.insert(want.end(), expected[i + 1].begin(), expected[i + 1].end());
          auto ours = tokenizer.encode(text);
          expect(ours == want, "with special tokens '" + text + "'", ours, want);
        }
      }
      // legacy=false agrees with legacy=true where no special token or leading space is
      // involved (the dummy prefix then lands in the same place).
      if (!info.remove_extra_whitespaces) {
        dpo::TokenizerSpec spec;
        spec.legacy = false;
        dpo::Tokenizer strict(model, dpo::read_file(model, "tokenizer model"), spec);
        for (size_t i = 0; i < kTexts.size(); ++i) {
          if (kTexts[i][0] == ' ' || kTexts[i].rfind("▁", 0) == 0)
            continue;
          auto ours = strict.encode(kTexts[i]);
          expect(ours == expected[i], "legacy=false '" + kTexts[i] + "'", ours, expected[i]);
        }
        if (strict.bos_id() >= 0) {
          // "<s>Hello": no dummy prefix after the special token.
          auto ours = strict.encode(strict.bos_token() + "Hello");
          auto plain = tokenizer.encode("Hello");
          bool ok = ours.size() >= 2 && ours[0] == strict.bos_id() &&
                    std::vector<int32_t>(ours.begin() + 1, ours.end()) != plain;
          std::vector<int32_t> want = {strict.bos_id()};
          expect(
              ok, "legacy=false: no '▁' after <s> in '<s>Hello' (differs from legacy)", ours, want);
        }
      }
      if (model.find("mistral_tokenizer.model.v1") != std::string::npos) {
        auto ours = tokenizer.encode("Hello world");
        expect(
            ours == std::vector<int32_t>{22557, 1526},
            "README: Mistral v1 'Hello world'",
            ours,
            {22557, 1526});
        std::cout << "  README fact: 'Hello world' -> " << join(ours) << "\n";
      }
    }
  } catch (const std::exception& error) {
    std::remove(tmp.c_str());
    std::cerr << "error: " << error.what() << "\n";
    return 2;
  }
  std::remove(tmp.c_str());
  std::cout << checks - failures << "/" << checks << " checks agree on " << models.size()
            << " models\n";
  return failures == 0 ? 0 : 1;
}
