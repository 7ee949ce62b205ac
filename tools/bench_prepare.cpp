// bench_prepare: throughput of `dpo prepare` (validate, render with the chat template,
// tokenize, split, write HDF5) on 1 and 2 threads, side by side with sentencepiece's own
// `spm_encode` tokenizing the same rendered text.
//
//   bench_prepare [--repeat N] [--rounds R] [--tokenizer tokenizer.model] [--template chatml]
//                 [--spm spm_encode]
//
// Each round runs prepare on 1 thread, on 2 threads and spm_encode once, one after the other; the
// best time of each over R rounds (default 3) is reported, since a shared machine's speed drifts
// by tens of percent from minute to minute. The malloc settings are the `dpo` binary's.
//
// Data: examples/support/pairs.jsonl repeated N times (default 10: 12,000 pairs) with fresh ids.
// Tokenizer: the given tokenizer.model, bare; or one trained on the data (2,000 pieces) in a
// temporary model folder where the ChatML markers are special tokens (see below).
// The text given to spm_encode is what prepare tokenizes for each pair: the prompt rendered with
// the generation prompt, and the full chosen and rejected conversations (newlines turned into
// spaces, since spm_encode reads one sentence per line). spm_encode encodes each text whole;
// prepare encodes the pieces between special tokens, each distinct piece of a pair once.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/malloc_tuning.h"
#include "core/text.h"
#include "dataloader/prepare.h"
#include "dataloader/tokenizer_training.h"
#include "templates/chat_template.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_folder.h"
#include "tools/bench_spm_encode.h"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string flatten(std::string text) {
  for (char& c : text)
    if (c == '\n' || c == '\r')
      c = ' ';
  return text;
}

}  // namespace

int main(int argc, char** argv) {
  int repeat = 10, rounds = 3;
  std::string tokenizer_path, template_name = "chatml", spm = "spm_encode";
  std::string source = "examples/support/pairs.jsonl";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--repeat")
      repeat = std::atoi(value.c_str());
    else if (flag == "--rounds")
      rounds = std::max(1, std::atoi(value.c_str()));
    else if (flag == "--tokenizer")
      tokenizer_path = value;
    else if (flag == "--template")
      template_name = value;
    else if (flag == "--spm")
      spm = value;
    else if (flag == "--data")
      source = value;
    else {
      std::fprintf(
          stderr,
          "usage: bench_prepare [--repeat N] [--rounds R] [--tokenizer F] [--template NAME] [--spm "
          "EXE] [--data F]\n");
      return 2;
    }
  }
  dpo::keep_freed_memory_in_heap();  // as the dpo binary does
  try {
    dpo_bench::require_spm_encode(spm);
    fs::path dir = fs::temp_directory_path() / ("dpo-bench-prepare-" + std::to_string(getpid()));
    fs::create_directories(dir);

    // 1. Data: the source repeated with fresh ids (so duplicate checks do not fire).
    std::ifstream in(source);
    if (!in)
      throw std::runtime_error("cannot read " + source);
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);)
      if (!line.empty())
        lines.push_back(line);
    std::string data_path = (dir / "pairs.jsonl").string();
    {
      std::ofstream out(data_path);
      for (int r = 0; r < repeat; ++r) {
        for (const std::string& line : lines) {
          // Each copy differs in its id and, to stay a distinct prompt, in a leading marker.
          std::string copy = line;
          size_t content = copy.find("\"content\": \"");
          if (content != std::string::npos)
            copy.insert(content + 12, "[" + std::to_string(r) + "] ");
          out << copy << "\n";
        }
      }
    }
    double megabytes = static_cast<double>(fs::file_size(data_path)) / 1e6;

    // 2. Tokenizer.
    // A given tokenizer.model is used bare: the template's markers are text to it. The trained
    // one goes into a model folder whose config makes the ChatML markers special tokens, as
    // `dpo init-model` writes it and as real ChatML models ship: the text is then split on them
    // before sentencepiece runs, and the turns a pair's three texts share are encoded once.
    std::string model_dir;
    if (tokenizer_path.empty()) {
      dpo::TokenizerTrainingOptions training;
      training.user_symbols = {"<|im_start|>", "<|im_end|>"};
      tokenizer_path =
          dpo::train_tokenizer_on_pairs({source}, (dir / "tok").string(), training).model_path;
      model_dir = (dir / "model").string();
      fs::create_directories(model_dir);
      dpo::TokenizerFolderOptions folder;
      folder.added_special_tokens = training.user_symbols;
      dpo::write_tokenizer_folder(model_dir, tokenizer_path, folder);
    }
    std::printf(
        "tokenizer: %s (%s)\n",
        tokenizer_path.c_str(),
        model_dir.empty() ? "bare tokenizer.model: the template's markers are text"
                          : "in a model folder: <|im_start|> and <|im_end|> are special tokens");

    // 3. prepare on 1 and 2 threads.
    dpo::PrepareOptions options;
    options.files = {data_path};
    if (model_dir.empty())
      options.tokenizer_path = tokenizer_path;
    else
      options.model_dir = model_dir;
    options.template_spec = template_name;
    options.max_length = 4096;
    options.out_path = (dir / "pairs.h5").string();
    options.force = true;
    dpo::PrepareResult result = dpo::prepare_dataset(options);  // warm-up: page cache, tokenizer
    const int64_t pairs = static_cast<int64_t>(result.train_pairs + result.val_pairs);

    // 4. The same rendered text through spm_encode; count the tokens dpo produced for it.
    dpo::Tokenizer tokenizer = model_dir.empty() ? dpo::Tokenizer::from_model_file(tokenizer_path)
                                                 : dpo::Tokenizer::from_model_folder(model_dir);
    dpo::ChatTemplate chat = dpo::ChatTemplate::load(template_name);
    dpo::ChatTemplateVariables variables;
    variables.bos_token = tokenizer.bos_token();
    variables.eos_token = tokenizer.eos_token();
    std::string text_path = (dir / "rendered.txt").string();
    int64_t dpo_tokens = 0;
    double text_megabytes = 0;
    {
      std::ofstream text(text_path);
      dpo::ValidateOptions validate;
      dpo::validate_files(
          {data_path},
          validate,
          [&](const dpo::PreferenceRow& row, const dpo::RowLocation&, dpo::Split) {
            std::vector<dpo::Message> chosen = row.prompt, rejected = row.prompt;
            chosen.insert(chosen.end(), row.chosen.begin(), row.chosen.end());
            rejected.insert(rejected.end(), row.rejected.begin(), row.rejected.end());
            for (const std::string& rendered :
                 {chat.render(row.prompt, true, variables),
                  chat.render(chosen, false, variables),
                  chat.render(rejected, false, variables)}) {
              text << flatten(rendered) << "\n";
              text_megabytes += rendered.size() / 1e6;
              dpo_tokens += static_cast<int64_t>(tokenizer.encode(rendered).size());
            }
          });
    }
    std::string command = spm + " --model=" + tokenizer_path + " --output_format=id < " +
                          text_path + " > " + (dir / "ids.txt").string();

    // 5. Interleaved rounds; the best time of each.
    double seconds[2] = {1e30, 1e30}, spm_seconds = 1e30;
    for (int round = 0; round < rounds; ++round) {
      for (int threads : {1, 2}) {
        options.threads = threads;
        auto start = Clock::now();
        dpo::prepare_dataset(options);
        seconds[threads - 1] = std::min(seconds[threads - 1], seconds_since(start));
      }
      auto start = Clock::now();
      int status = std::system(command.c_str());
      spm_seconds = std::min(spm_seconds, seconds_since(start));
      if (status != 0)
        throw std::runtime_error("spm_encode failed: " + command);
    }

    std::printf(
        "data: %lld pairs, %.1f MB of JSONL; rendered text %.1f MB, %lld tokens; best of %d "
        "rounds\n",
        static_cast<long long>(pairs),
        megabytes,
        text_megabytes,
        static_cast<long long>(dpo_tokens),
        rounds);
    std::printf("%-44s %10s %12s %12s %10s\n", "", "pairs/s", "tokens/s", "MB/s text", "seconds");
    auto row = [&](const char* name, double s) {
      std::printf(
          "%-44s %10.0f %12.0f %12.2f %10.2f\n",
          name,
          pairs / s,
          dpo_tokens / s,
          text_megabytes / s,
          s);
    };
    row("dpo prepare, 1 thread (everything)", seconds[0]);
    row("dpo prepare, 2 threads (everything)", seconds[1]);
    row("spm_encode, same rendered text (1 process)", spm_seconds);
    std::printf(
        "prepare 1 thread / spm_encode: %.2fx; 2 threads / spm_encode: %.2fx (wall time)\n",
        spm_seconds / seconds[0],
        spm_seconds / seconds[1]);
    fs::remove_all(dir);
    return 0;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "bench_prepare: %s\n", error.what());
    return 1;
  }
}
