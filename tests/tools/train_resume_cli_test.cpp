// `dpo train --resume` after a real crash: a training process is killed with SIGKILL once its
// first checkpoint is in place, resumed, and every logged loss is compared with an uninterrupted
// run of the same config. Everything goes through the dpo binary (train-tokenizer, init-model,
// prepare, train), on a tiny world made by the test (tests/trainer/trainer_fixture.h).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>
#include <tuple>

#include "tests/support/test_support.h"
#include "tests/trainer/trainer_fixture.h"

namespace dpo {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using testing::run_command;

const std::string kDpo = DPO_BINARY_PATH;

std::string quote(const std::string& text) {
  return "'" + text + "'";  // the test's paths hold no single quote
}

// A config with a checkpoint every 2 steps; paths come with --set.
const char* kConfig = R"({
  // written by train_resume_cli_test.cpp
  "reference": {"mode": "precomputed"},
  "loss": {"types": ["sigmoid"], "beta": 0.1},
  "optim": {"lr": 5e-3, "warmup_steps": 5, "schedule": "cosine", "min_lr_ratio": 0.1, "grad_clip": 1.0},
  "train": {"device": "cpu", "dtype": "fp32", "micro_batch_pairs": 4, "grad_accum": 2,
            "max_steps": 60, "seed": 5, "threads": 1, "log_every_steps": 1,
            "save_every_steps": 2, "keep_checkpoints": 1},
  "eval": {"every_steps": 20}
})";

std::string train_command(const testing::TempDir& dir, const std::string& out_dir) {
  return kDpo + " train --config " + quote(dir.file("config.json")) +
         " --set data.prepared=" + quote(dir.file("prepared.h5")) +
         " --set model.path=" + quote(dir.file("model")) + " --set train.out_dir=" + quote(out_dir);
}

// Train loss by step from metrics.jsonl. A line torn by the kill (the last one) is left out;
// the file may not exist yet while the run starts.
std::map<int64_t, double> train_losses(const std::string& run_dir) {
  std::map<int64_t, double> out;
  const std::string path = run_dir + "/metrics.jsonl";
  if (!fs::exists(path))
    return out;
  std::istringstream lines(testing::read_file(path));
  std::string text;
  while (std::getline(lines, text)) {
    json line = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (line.is_discarded() || line.value("split", "") != "train")
      continue;
    int64_t step = line["step"].get<int64_t>();
    EXPECT_EQ(out.count(step), 0u) << "step " << step << " logged twice";
    out[step] = line["loss"].get<double>();
  }
  return out;
}

TEST(TrainResumeCli, KilledRunResumesToTheSameLossesBitForBit) {
  testing::TempDir dir;
  ASSERT_NO_FATAL_FAILURE(testing::make_cli_world(dir, kDpo));
  testing::write_file(dir.file("config.json"), kConfig);

  // A: uninterrupted (it also caches the reference log-probs that B then reuses).
  auto straight = run_command(train_command(dir, dir.file("a")));
  ASSERT_EQ(straight.exit_code, 0) << straight.output;

  // B: started in the background and killed with SIGKILL (no chance to save) once a checkpoint
  // is complete and five steps are logged, so that logged steps newer than LATEST are likely.
  const std::string run_b = dir.file("b");
  const std::string command =
      "exec " + train_command(dir, run_b) + " > " + quote(dir.file("b.log")) + " 2>&1";
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  int status = 0;
  bool exited = false;
  while (!(fs::exists(run_b + "/checkpoints/LATEST") && train_losses(run_b).size() >= 5) &&
         std::chrono::steady_clock::now() < deadline) {
    if (waitpid(pid, &status, WNOHANG) == pid) {
      exited = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (!exited) {
    kill(pid, SIGKILL);
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
  }
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      << "the run ended before it could be killed (status " << status << ")\n"
      << testing::read_file(dir.file("b.log"));
  std::map<int64_t, double> before = train_losses(run_b);
  ASSERT_LT(before.size(), 60u) << "killed too late to test anything";
  EXPECT_GE(before.size(), 5u);
  RecordProperty("steps_logged_when_killed", static_cast<int>(before.size()));

  // Resume B to the end.
  auto resumed = run_command(train_command(dir, run_b) + " --resume");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("resumed from"), std::string::npos) << resumed.output;

  std::map<int64_t, double> expected = train_losses(dir.file("a")), actual = train_losses(run_b);
  ASSERT_EQ(expected.size(), 60u);
  ASSERT_EQ(actual.size(), 60u);
  for (const auto& [step, loss] : expected) {
    ASSERT_EQ(actual.count(step), 1u) << "step " << step;
    EXPECT_EQ(actual[step], loss) << "step " << step;  // bit for bit
  }
  json manifest_a = json::parse(testing::read_file(dir.file("a/manifest.json")));
  json manifest_b = json::parse(testing::read_file(run_b + "/manifest.json"));
  EXPECT_EQ(manifest_a["final_model"]["content_hash"], manifest_b["final_model"]["content_hash"]);
  // keep_checkpoints = 1: only the newest checkpoint is left.
  size_t checkpoints = 0;
  for (const auto& entry : fs::directory_iterator(run_b + "/checkpoints")) {
    checkpoints += entry.is_directory() ? 1 : 0;
  }
  EXPECT_EQ(checkpoints, 1u);
}

// A config whose run lasts long enough to be signalled: no checkpoint but the one a signal asks
// for, a metrics line every step.
const char* kLongConfig = R"({
  // written by train_resume_cli_test.cpp
  "loss": {"types": ["sigmoid"], "beta": 0.1},
  "optim": {"lr": 5e-3, "schedule": "constant"},
  "train": {"device": "cpu", "dtype": "fp32", "micro_batch_pairs": 4, "max_steps": 400,
            "seed": 5, "threads": 1, "log_every_steps": 1, "save_every_steps": 0},
  "eval": {"every_steps": 0}
})";

struct Signalled {
  int exit_code = -1;
  std::string output;
};

// Starts `command` (through sh, exec'd), sends `signal_number` once `run_dir` has logged three
// steps, and waits for the exit.
Signalled signal_run(
    const std::string& command,
    const std::string& log,
    const std::string& run_dir,
    int signal_number) {
  Signalled result;
  const std::string shell = "exec " + command + " > " + quote(log) + " 2>&1";
  pid_t pid = fork();
  if (pid == 0) {
    execl("/bin/sh", "sh", "-c", shell.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  int status = 0;
  bool exited = false;
  while (train_losses(run_dir).size() < 3 && std::chrono::steady_clock::now() < deadline) {
    if (waitpid(pid, &status, WNOHANG) == pid) {
      exited = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (!exited) {
    kill(pid, signal_number);
    // A stuck process is killed after a minute: the test fails instead of hanging.
    const auto stop_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (waitpid(pid, &status, WNOHANG) != pid) {
      if (std::chrono::steady_clock::now() > stop_deadline) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 1000 + WTERMSIG(status);
  result.output = testing::read_file(log);
  return result;
}

// SIGTERM or SIGINT: the step ends, a checkpoint is written, the exit code is the shell's 128 +
// signal, and the summary says so, names the checkpoint and prints the command that resumes; that
// command finishes the run.
TEST(TrainSignalCli, ASignalledRunSavesExitsWithTheSignalsCodeAndSaysHowToResume) {
  testing::TempDir dir;
  ASSERT_NO_FATAL_FAILURE(testing::make_cli_world(dir, kDpo));
  testing::write_file(dir.file("config.json"), kLongConfig);
  for (const auto& [signal_number, name, code] :
       {std::tuple<int, std::string, int>{SIGTERM, "SIGTERM", 143},
        std::tuple<int, std::string, int>{SIGINT, "SIGINT", 130}}) {
    SCOPED_TRACE(name);
    const std::string run_dir = dir.file("run-" + name);
    Signalled run =
        signal_run(train_command(dir, run_dir), dir.file(name + ".log"), run_dir, signal_number);
    ASSERT_EQ(run.exit_code, code) << run.output;
    const size_t at = run.output.find("interrupted by " + name + " at step ");
    ASSERT_NE(at, std::string::npos) << run.output;
    const int64_t step =
        std::stoll(run.output.substr(at + ("interrupted by " + name + " at step ").size()));
    EXPECT_GE(step, 3);
    EXPECT_LT(step, 400);
    const std::string checkpoint = run_dir + "/checkpoints/step-" +
                                   std::string(8 - std::to_string(step).size(), '0') +
                                   std::to_string(step);
    EXPECT_NE(run.output.find("checkpoint: " + checkpoint + "\n"), std::string::npos) << run.output;
    EXPECT_TRUE(fs::is_directory(checkpoint));
    EXPECT_EQ(
        testing::read_file(run_dir + "/checkpoints/LATEST"),
        fs::path(checkpoint).filename().string() + "\n");
    EXPECT_EQ(run.output.find("(0 pairs)"), std::string::npos) << run.output;
    EXPECT_EQ(run.output.find("-> 0.000"), std::string::npos) << run.output;
    EXPECT_NE(
        run.output.find("held-out preference accuracy before training: 0.500"), std::string::npos)
        << run.output;
    const size_t resume_at = run.output.find("resume with: dpo train --config ");
    ASSERT_NE(resume_at, std::string::npos) << run.output;
    std::string resume = run.output.substr(resume_at + std::string("resume with: dpo").size());
    resume = resume.substr(0, resume.find('\n'));
    EXPECT_NE(resume.find(" --set train.out_dir=" + run_dir), std::string::npos) << resume;
    ASSERT_EQ(resume.substr(resume.size() - 9), " --resume") << resume;
    if (signal_number == SIGTERM) {
      auto resumed = run_command(kDpo + resume);
      ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
      EXPECT_NE(resumed.output.find("resumed from " + checkpoint), std::string::npos)
          << resumed.output;
      EXPECT_EQ(train_losses(run_dir).size(), 400u);
      EXPECT_TRUE(fs::is_directory(run_dir + "/final"));
    }
  }
}

// Bad run folders and resume states are dpo errors naming the path and the place (exit 2), never
// "internal error".
TEST(TrainSignalCli, BadFoldersAndStatesAreNamedErrors) {
  testing::TempDir dir;
  ASSERT_NO_FATAL_FAILURE(testing::make_cli_world(dir, kDpo));
  testing::write_file(dir.file("config.json"), kConfig);
  testing::write_file(dir.file("file"), "x");
  for (const std::string& out_dir : {dir.file("file"), dir.file("file/sub")}) {
    auto result = run_command(train_command(dir, out_dir));
    EXPECT_EQ(result.exit_code, 2) << result.output;
    EXPECT_EQ(result.output.find("internal error"), std::string::npos) << result.output;
    EXPECT_NE(
        result.output.find("the run folder '" + out_dir + "' (train.out_dir)"), std::string::npos)
        << result.output;
  }
  // Garbage in LATEST is shown escaped.
  const std::string run_dir = dir.file("garbage");
  fs::create_directories(run_dir + "/checkpoints");
  testing::write_file(run_dir + "/checkpoints/LATEST", std::string("\x1b]0;pwned\x07\n", 11));
  auto result = run_command(train_command(dir, run_dir) + " --resume");
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("holds '\\x1b]0;pwned\\x07\\n'"), std::string::npos)
      << result.output;
  EXPECT_EQ(result.output.find('\x1b'), std::string::npos);
  // --resume-allow-change is only for --resume.
  auto misuse = run_command(train_command(dir, dir.file("x")) + " --resume-allow-change optim.lr");
  EXPECT_EQ(misuse.exit_code, 2) << misuse.output;
  EXPECT_NE(misuse.output.find("--resume-allow-change is for --resume"), std::string::npos);
}

}  // namespace
}  // namespace dpo
