// A small end-to-end setup for the CLI tests of prepare/inspect/score/check/compare/report: the
// first 300 rows of the bundled support data, a tokenizer trained on them (800 pieces, with the
// ChatML markers as pieces), a `tiny` model with the chatml template, and the prepared file.
//
// ctest runs every test in its own process, so the setup is built once per build of `dpo` and
// kept on disk beside it (build/test-cache/tiny-pipeline-<key>): the first process builds it in a
// private folder and renames it into place; a process that loses the race uses the winner's.
// Tests must not modify these files: copy what you change.
#pragma once

#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "tests/support/test_support.h"

namespace dpo::testing {

struct TinyPipeline {
  std::string dir;        // the cache folder
  std::string data;       // 300 rows of examples/support/pairs.jsonl
  std::string tokenizer;  // tokenizer folder (tokenizer.model inside)
  std::string model;      // `dpo init-model --preset tiny --template chatml`
  std::string prepared;   // `dpo prepare --max-length 384`
};

inline const std::string& dpo_binary() {
  static const std::string path = DPO_BINARY_PATH;
  return path;
}

// The first `n` lines of the bundled data set.
inline std::string bundled_rows(size_t n) {
  std::ifstream in(std::string(DPO_SOURCE_DIR) + "/examples/support/pairs.jsonl");
  std::string text, line;
  for (size_t i = 0; i < n && std::getline(in, line); ++i)
    text += line + "\n";
  return text;
}

// Runs `dpo ARGS` and fails the current test when it does not exit 0.
inline CommandResult dpo_ok(const std::string& args) {
  CommandResult result = run_command(dpo_binary() + " " + args);
  EXPECT_EQ(result.exit_code, 0) << "dpo " << args << "\n" << result.output;
  return result;
}

inline const TinyPipeline& tiny_pipeline() {
  namespace fs = std::filesystem;
  static const TinyPipeline pipeline = [] {
    auto stamp = fs::last_write_time(dpo_binary()).time_since_epoch().count();
    fs::path cache = fs::path(dpo_binary()).parent_path() / "test-cache";
    fs::path final_dir = cache / ("tiny-pipeline-" + std::to_string(stamp));
    TinyPipeline p;
    auto fill = [&](const fs::path& dir) {
      p.dir = dir.string();
      p.data = p.dir + "/pairs300.jsonl";
      p.tokenizer = p.dir + "/tokenizer";
      p.model = p.dir + "/model";
      p.prepared = p.dir + "/prepared.h5";
    };
    if (fs::exists(final_dir / "complete")) {
      fill(final_dir);
      return p;
    }
    fs::create_directories(cache);
    fs::path building = cache / ("building-" + std::to_string(getpid()));
    fs::remove_all(building);
    fs::create_directories(building);
    fill(building);
    write_file(p.data, bundled_rows(300));
    const std::string chatml = " --user-symbol '<|im_start|>' --user-symbol '<|im_end|>'";
    auto step = [](const std::string& args) {
      CommandResult r = run_command(dpo_binary() + " " + args);
      if (r.exit_code != 0)
        throw std::runtime_error("setup failed: dpo " + args + "\n" + r.output);
    };
    step("train-tokenizer " + p.data + " --out " + p.tokenizer + " --vocab-size 800" + chatml);
    step(
        "init-model --preset tiny --tokenizer " + p.tokenizer +
        "/tokenizer.model --template chatml --special-token '<|im_start|>' --special-token "
        "'<|im_end|>' --eos-token '<|im_end|>' --seed 1 --out " +
        p.model);
    step(
        "prepare --data " + p.data + " --model " + p.model +
        " --max-length 384 --threads 1 --out " + p.prepared);
    write_file(p.dir + "/complete", "");
    std::error_code error;
    fs::rename(building, final_dir, error);  // fails when another process got there first
    if (error)
      fs::remove_all(building);
    fill(final_dir);
    // Older caches belong to older builds of dpo.
    for (const auto& entry : fs::directory_iterator(cache)) {
      std::string name = entry.path().filename().string();
      if (name.rfind("tiny-pipeline-", 0) == 0 && entry.path() != final_dir)
        fs::remove_all(entry.path(), error);
    }
    return p;
  }();
  return pipeline;
}

}  // namespace dpo::testing
