// check_hf_tokenizers: the C++ half of tools/check_hf_tokenizers.py, which compares dpo's
// tokenizer.json implementation with the Python `tokenizers` library on real tokenizer files
// (not part of ctest: those files are not shipped with the tests).
//   check_hf_tokenizers --json FILE TEXTS.jsonl      HfJsonTokenizer on a tokenizer.json
//   check_hf_tokenizers --spm FILE TEXTS.jsonl       dpo::Tokenizer on a tokenizer.model alone
//   check_hf_tokenizers --folder DIR [--format F] [--pipeline file|transformers] TEXTS.jsonl
//                                                    dpo::Tokenizer::from_model_folder
// TEXTS.jsonl holds one JSON string per line. For each text one JSON line is printed:
//   --json: {"ids": encode(text, add_special_tokens=false), "ids_special": ...(true),
//            "decode": decode(ids, false), "decode_skip": decode(ids_special, true)}
//   others: {"ids": Tokenizer::encode(text)}
// Exit status 2 (with the message) when a file is refused.
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/error.h"
#include "tokenizer/hf_json_tokenizer.h"
#include "tokenizer/tokenizer.h"

namespace {

std::vector<std::string> read_texts(const std::string& path) {
  std::ifstream in(path);
  if (!in)
    throw dpo::IoError("cannot open '" + path + "'");
  std::vector<std::string> texts;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty())
      texts.push_back(nlohmann::json::parse(line).get<std::string>());
  }
  return texts;
}

int usage() {
  std::cerr << "usage: check_hf_tokenizers --json FILE | --spm FILE | --folder DIR [--format "
               "automatic|json|sentencepiece] [--pipeline file|transformers] TEXTS.jsonl\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() < 3 || args.size() % 2 == 0)
    return usage();
  try {
    const std::string mode = args[0];
    const std::string path = args[1];
    dpo::TokenizerFormat format = dpo::TokenizerFormat::automatic;
    dpo::JsonPipeline pipeline = dpo::JsonPipeline::file;
    for (size_t i = 2; i + 1 < args.size(); i += 2) {
      if (args[i] == "--format") {
        format = dpo::parse_tokenizer_format(args[i + 1]);
      } else if (args[i] == "--pipeline") {
        pipeline = dpo::parse_json_pipeline(args[i + 1]);
      } else {
        return usage();
      }
    }
    const std::vector<std::string> texts = read_texts(args.back());
    std::ios::sync_with_stdio(false);
    if (mode == "--json") {
      auto tokenizer = dpo::HfJsonTokenizer::from_file(path);
      for (const std::string& text : texts) {
        nlohmann::json out;
        const std::vector<int32_t> ids = tokenizer->encode(text, false);
        const std::vector<int32_t> ids_special = tokenizer->encode(text, true);
        out["ids"] = ids;
        out["ids_special"] = ids_special;
        out["decode"] = tokenizer->decode(ids, false);
        out["decode_skip"] = tokenizer->decode(ids_special, true);
        std::cout << out.dump(-1, ' ', true, nlohmann::json::error_handler_t::replace) << "\n";
      }
      return 0;
    }
    dpo::Tokenizer tokenizer = mode == "--spm" ? dpo::Tokenizer::from_model_file(path)
                               : mode == "--folder"
                                   ? dpo::Tokenizer::from_model_folder(path, format, pipeline)
                                   : throw dpo::UsageError("unknown mode " + mode);
    for (const std::string& text : texts) {
      nlohmann::json out;
      out["ids"] = tokenizer.encode(text);
      std::cout << out.dump() << "\n";
    }
    return 0;
  } catch (const dpo::Error& error) {
    std::cerr << "check_hf_tokenizers: " << error.what() << "\n";
    return 2;
  }
}
