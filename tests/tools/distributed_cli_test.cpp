// Data-parallel `dpo train` run as users run it: several processes over Gloo on the loopback
// address, started by `--nproc-per-node`, by two launchers as two "nodes", or by hand with
// torchrun's variables. Each is compared with one process that takes the whole global batch:
// the same losses and weights within 1e-6 relative (not bit for bit: every rank packs and runs
// its own shard, so matrix products see other shapes and round differently), resumes across
// world sizes, and failures that end every rank with a message instead of a hang.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "tests/support/test_support.h"
#include "tests/trainer/trainer_fixture.h"

namespace dpo {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using testing::run_command;

const std::string kDpo = DPO_BINARY_PATH;

std::string quote(const std::string& text) {
  return "'" + text + "'";
}

// The global micro-batch is 4 pairs: one process with 4, or two ranks with 2 each. Two micro-
// batches per step, a checkpoint every 2 steps, an evaluation every 4.
const char* kConfig = R"({
  "reference": {"mode": "precomputed"},
  "loss": {"types": ["sigmoid"], "beta": 0.1},
  "optim": {"lr": 5e-3, "warmup_steps": 2, "schedule": "cosine", "min_lr_ratio": 0.1},
  "train": {"device": "cpu", "dtype": "fp32", "micro_batch_pairs": 4, "grad_accum": 2,
            "max_steps": 8, "seed": 5, "threads": 1, "log_every_steps": 1,
            "save_every_steps": 2, "keep_checkpoints": 1},
  "eval": {"every_steps": 4},
  "distributed": {"timeout_s": 20}
})";

class DistributedCli : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(testing::make_cli_world(dir_, kDpo));
    testing::write_file(dir_.file("config.json"), kConfig);
  }

  // `dpo train` on this world into `out`, with extra arguments.
  std::string train(const std::string& out, const std::string& extra = "") const {
    return kDpo + " train --config " + quote(dir_.file("config.json")) +
           " --set data.prepared=" + quote(dir_.file("prepared.h5")) +
           " --set model.path=" + quote(dir_.file("model")) +
           " --set train.out_dir=" + quote(dir_.file(out)) + " " + extra;
  }

  // The single-process run every other run is compared with (it also caches the reference).
  void run_baseline() {
    auto one = run_command(train("one"));
    ASSERT_EQ(one.exit_code, 0) << one.output;
  }

  testing::TempDir dir_;
};

std::map<int64_t, double> losses(const std::string& run_dir, const std::string& split) {
  std::map<int64_t, double> out;
  for (const json& line : testing::metrics_lines(run_dir + "/metrics.jsonl", split))
    out[line["step"].get<int64_t>()] = line["loss"].get<double>();
  return out;
}

void expect_close(double expected, double actual, const std::string& what) {
  EXPECT_LE(std::fabs(actual - expected), 1e-6 * std::max(1.0, std::fabs(expected)))
      << what << ": " << expected << " against " << actual;
}

void expect_same_losses(const std::string& expected_run, const std::string& actual_run) {
  for (const char* split : {"train", "val"}) {
    std::map<int64_t, double> expected = losses(expected_run, split);
    std::map<int64_t, double> actual = losses(actual_run, split);
    ASSERT_FALSE(expected.empty()) << split;
    ASSERT_EQ(expected.size(), actual.size()) << split;
    for (const auto& [step, loss] : expected) {
      ASSERT_EQ(actual.count(step), 1u) << split << " step " << step;
      expect_close(
          loss, actual[step], std::string(split) + " loss at step " + std::to_string(step));
    }
  }
}

// The float32 tensors of a safetensors file by name (the format: an 8-byte little-endian header
// length, a JSON header of dtypes, shapes and offsets, then the data).
std::map<std::string, std::vector<float>> read_safetensors(const std::string& path) {
  const std::string bytes = testing::read_file(path);
  uint64_t header_length = 0;
  std::memcpy(&header_length, bytes.data(), 8);
  const json header = json::parse(bytes.substr(8, header_length));
  std::map<std::string, std::vector<float>> out;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__")
      continue;
    EXPECT_EQ(it.value()["dtype"], "F32") << it.key();
    const size_t begin = it.value()["data_offsets"][0], end = it.value()["data_offsets"][1];
    std::vector<float> values((end - begin) / 4);
    std::memcpy(values.data(), bytes.data() + 8 + header_length + begin, end - begin);
    out[it.key()] = std::move(values);
  }
  return out;
}

void expect_same_weights(const std::string& expected_model, const std::string& actual_model) {
  auto expected = read_safetensors(expected_model + "/model.safetensors");
  auto actual = read_safetensors(actual_model + "/model.safetensors");
  ASSERT_EQ(expected.size(), actual.size());
  double worst = 0;
  for (const auto& [name, values] : expected) {
    ASSERT_EQ(actual[name].size(), values.size()) << name;
    for (size_t i = 0; i < values.size(); ++i) {
      worst = std::max(
          worst,
          std::fabs(static_cast<double>(actual[name][i]) - values[i]) /
              std::max(1.0, std::fabs(static_cast<double>(values[i]))));
    }
  }
  EXPECT_LE(worst, 1e-6);
  ::testing::Test::RecordProperty("worst_relative_weight_difference", std::to_string(worst));
}

TEST_F(DistributedCli, TwoRanksTrainLikeOneProcessWithTheWholeBatch) {
  ASSERT_NO_FATAL_FAILURE(run_baseline());
  auto two = run_command(train("two", "--set train.micro_batch_pairs=2 --nproc-per-node 2"));
  ASSERT_EQ(two.exit_code, 0) << two.output;
  // Rank 0 reports; every line comes with its rank.
  EXPECT_NE(two.output.find("[rank 0] step 8/8"), std::string::npos) << two.output;
  EXPECT_EQ(two.output.find("[rank 1] step"), std::string::npos) << two.output;
  expect_same_losses(dir_.file("one"), dir_.file("two"));
  expect_same_weights(dir_.file("one/final"), dir_.file("two/final"));
  const json manifest = json::parse(testing::read_file(dir_.file("two/manifest.json")));
  EXPECT_EQ(manifest["distributed"]["world_size"], 2);
  EXPECT_EQ(manifest["distributed"]["backend"], "gloo");
  EXPECT_EQ(manifest["distributed"]["rank_devices"], json({"cpu", "cpu"}));
}

TEST_F(DistributedCli, TwoNodesOnTheLoopbackAddressTrainLikeOneProcess) {
  ASSERT_NO_FATAL_FAILURE(run_baseline());
  // Two launchers, one rank each, meeting at a fixed port as two machines would.
  const std::string port = std::to_string(29000 + getpid() % 2000);
  const std::string node =
      " --set train.micro_batch_pairs=2 --nproc-per-node 1 --nnodes 2"
      " --master-addr 127.0.0.1 --master-port " +
      port + " --node-rank ";
  const std::string both = "(" + train("nodes", node + "1") + " > " +
                           quote(dir_.file("node1.log")) + " 2>&1) & node1=$!; " +
                           train("nodes", node + "0") + "; r0=$?; wait $node1; r1=$?; cat " +
                           quote(dir_.file("node1.log")) + "; exit $((r0 | r1))";
  auto run = run_command("sh -c " + quote(both));
  ASSERT_EQ(run.exit_code, 0) << run.output;
  expect_same_losses(dir_.file("one"), dir_.file("nodes"));
  expect_same_weights(dir_.file("one/final"), dir_.file("nodes/final"));
}

TEST_F(DistributedCli, ResumesOnAnotherNumberOfRanksWithTheSameGlobalBatch) {
  ASSERT_NO_FATAL_FAILURE(run_baseline());
  // 2 -> 1: two ranks stop after step 4 (a checkpoint), one process with 4 pairs finishes.
  auto first = run_command(
      train("two-one", "--set train.micro_batch_pairs=2 --nproc-per-node 2 --stop-after-steps 4"));
  ASSERT_EQ(first.exit_code, 143) << first.output;  // stopped as a SIGTERM would
  auto second = run_command(train("two-one", "--resume"));
  ASSERT_EQ(second.exit_code, 0) << second.output;
  EXPECT_NE(second.output.find("ranks: 2 -> 1"), std::string::npos) << second.output;
  expect_same_losses(dir_.file("one"), dir_.file("two-one"));
  // 1 -> 2.
  auto third = run_command(train("one-two", "--stop-after-steps 4"));
  ASSERT_EQ(third.exit_code, 143) << third.output;
  auto fourth =
      run_command(train("one-two", "--set train.micro_batch_pairs=2 --nproc-per-node 2 --resume"));
  ASSERT_EQ(fourth.exit_code, 0) << fourth.output;
  expect_same_losses(dir_.file("one"), dir_.file("one-two"));
  // Another global batch is refused: 1 process of 2 pairs after 2 ranks of 2.
  auto other = run_command(train("one-two", "--set train.micro_batch_pairs=2 --resume"));
  EXPECT_EQ(other.exit_code, 2) << other.output;
  EXPECT_NE(other.output.find("global micro-batch"), std::string::npos) << other.output;
}

TEST_F(DistributedCli, ScoreAndEvalInTwoRanksGiveWhatOneProcessGives) {
  const std::string model =
      " --model " + quote(dir_.file("model")) + " --data " + quote(dir_.file("prepared.h5"));
  auto one =
      run_command(kDpo + " score" + model + " --threads 1 --out " + quote(dir_.file("one.jsonl")));
  ASSERT_EQ(one.exit_code, 0) << one.output;
  auto two = run_command(
      kDpo + " score" + model + " --threads 1 --nproc-per-node 2 --out " +
      quote(dir_.file("two.jsonl")));
  ASSERT_EQ(two.exit_code, 0) << two.output;
  EXPECT_NE(two.output.find("(2 ranks)"), std::string::npos) << two.output;
  // Every pair, in split order, each scored by one of the ranks.
  const auto expected = testing::read_jsonl(dir_.file("one.jsonl"));
  const auto actual = testing::read_jsonl(dir_.file("two.jsonl"));
  ASSERT_EQ(expected.size(), actual.size());
  ASSERT_GT(expected.size(), 100u);
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(actual[i]["id"], expected[i]["id"]) << i;
    EXPECT_EQ(actual[i]["chosen_tokens"], expected[i]["chosen_tokens"]) << i;
    expect_close(
        expected[i]["chosen_logps"],
        actual[i]["chosen_logps"],
        "chosen, pair " + std::to_string(i));
    expect_close(
        expected[i]["rejected_logps"],
        actual[i]["rejected_logps"],
        "rejected, pair " + std::to_string(i));
  }
  // dpo eval of the same model: the same held-out figures (printed with 4 decimals).
  auto eval_one = run_command(kDpo + " eval" + model);
  auto eval_two = run_command(kDpo + " eval" + model + " --nproc-per-node 2");
  ASSERT_EQ(eval_one.exit_code, 0) << eval_one.output;
  ASSERT_EQ(eval_two.exit_code, 0) << eval_two.output;
  for (const char* figure : {"held-out pairs", "  loss", "  accuracy"}) {
    const size_t a = eval_one.output.find(figure), b = eval_two.output.find(figure);
    ASSERT_NE(a, std::string::npos) << eval_one.output;
    ASSERT_NE(b, std::string::npos) << eval_two.output;
    EXPECT_EQ(
        eval_one.output.substr(a, eval_one.output.find('\n', a) - a),
        eval_two.output.substr(b, eval_two.output.find('\n', b) - b));
  }
}

// Children of `pid` whose environment has RANK=`rank`.
pid_t child_with_rank(pid_t pid, int rank) {
  std::ifstream children(
      "/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children");
  pid_t child = 0;
  while (children >> child) {
    // "\0RANK=1\0": not LOCAL_RANK=1 (the launcher appends RANK after other variables).
    const std::string environ = testing::read_file("/proc/" + std::to_string(child) + "/environ");
    const std::string needle = std::string(1, '\0') + "RANK=" + std::to_string(rank) + '\0';
    if (environ.find(needle) != std::string::npos)
      return child;
  }
  return 0;
}

struct Background {
  pid_t pid = -1;
  std::string log;
};

Background start(const std::string& command, const std::string& log) {
  Background run{-1, log};
  const std::string shell = "exec " + command + " > " + quote(log) + " 2>&1";
  run.pid = fork();
  if (run.pid == 0) {
    execl("/bin/sh", "sh", "-c", shell.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  return run;
}

// Waits for `pid` up to `seconds`; its exit status, or -1 on timeout.
int wait_for(pid_t pid, double seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    if (waitpid(pid, &status, WNOHANG) == pid)
      return status;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return -1;
}

bool wait_for_steps(const std::string& run_dir, size_t steps, double seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    if (fs::exists(run_dir + "/metrics.jsonl") && losses(run_dir, "train").size() >= steps)
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

// LATEST, when there is one, names a checkpoint with every part in place.
void expect_complete_checkpoint(const std::string& run_dir) {
  const std::string latest = run_dir + "/checkpoints/LATEST";
  if (!fs::exists(latest))
    return;
  std::string name = testing::read_file(latest);
  while (!name.empty() && std::isspace(static_cast<unsigned char>(name.back())))
    name.pop_back();
  const std::string folder = run_dir + "/checkpoints/" + fs::path(name).filename().string();
  EXPECT_TRUE(fs::is_directory(folder + "/model")) << folder;
  EXPECT_TRUE(fs::is_regular_file(folder + "/optimizer.safetensors")) << folder;
  EXPECT_TRUE(fs::is_regular_file(folder + "/trainer_state.json")) << folder;
}

TEST_F(DistributedCli, AKilledRankEndsTheRunAndTheLauncherNamesIt) {
  Background run = start(
      train(
          "killed",
          "--set train.micro_batch_pairs=2 --set train.max_steps=2000 --nproc-per-node 2"),
      dir_.file("killed.log"));
  ASSERT_TRUE(wait_for_steps(dir_.file("killed"), 3, 120)) << testing::read_file(run.log);
  const pid_t rank1 = child_with_rank(run.pid, 1);
  ASSERT_GT(rank1, 0) << "no worker with RANK=1 under the launcher";
  kill(rank1, SIGKILL);
  const int status = wait_for(run.pid, 60);
  if (status == -1)
    kill(run.pid, SIGKILL);
  ASSERT_NE(status, -1) << "the launcher still runs a minute after rank 1 died\n"
                        << testing::read_file(run.log);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) != 0) << status;
  const std::string log = testing::read_file(run.log);
  EXPECT_NE(log.find("rank 1 was killed by signal 9"), std::string::npos) << log;
  expect_complete_checkpoint(dir_.file("killed"));
}

// Two ranks started by hand with torchrun's variables (as torchrun or SLURM start them).
std::string with_rank(int rank, int port, const std::string& command) {
  return "env RANK=" + std::to_string(rank) + " WORLD_SIZE=2 LOCAL_RANK=" + std::to_string(rank) +
         " LOCAL_WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=" + std::to_string(port) + " " +
         command;
}

int free_port_guess() {
  return 31000 + static_cast<int>(getpid() % 3000);
}

TEST_F(DistributedCli, AHungRankIsGivenUpAfterTheTimeout) {
  const int port = free_port_guess();
  const std::string args =
      "--set train.micro_batch_pairs=2 --set train.max_steps=2000 --set distributed.timeout_s=5";
  Background rank0 = start(with_rank(0, port, train("hung", args)), dir_.file("rank0.log"));
  Background rank1 = start(with_rank(1, port, train("hung", args)), dir_.file("rank1.log"));
  ASSERT_TRUE(wait_for_steps(dir_.file("hung"), 3, 120)) << testing::read_file(rank0.log);
  kill(rank1.pid, SIGSTOP);  // alive, silent
  const auto stopped = std::chrono::steady_clock::now();
  const int status = wait_for(rank0.pid, 60);
  const double waited =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - stopped).count();
  kill(rank1.pid, SIGKILL);
  waitpid(rank1.pid, nullptr, 0);
  if (status == -1)
    kill(rank0.pid, SIGKILL);
  ASSERT_NE(status, -1) << "rank 0 still waits a minute after rank 1 stopped answering";
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 2) << status;
  EXPECT_LT(waited, 40);
  RecordProperty("seconds_to_give_up", std::to_string(waited));
  const std::string log = testing::read_file(rank0.log);
  EXPECT_NE(log.find("over the ranks failed"), std::string::npos) << log;
  expect_complete_checkpoint(dir_.file("hung"));
}

TEST_F(DistributedCli, RanksWithDifferentConfigsAreRefusedAtTheStart) {
  const int port = free_port_guess() + 1;
  Background rank0 = start(
      with_rank(0, port, train("mismatch", "--set train.micro_batch_pairs=2")),
      dir_.file("r0.log"));
  Background rank1 = start(
      with_rank(1, port, train("mismatch", "--set train.micro_batch_pairs=2 --set optim.lr=1e-3")),
      dir_.file("r1.log"));
  const int status0 = wait_for(rank0.pid, 120), status1 = wait_for(rank1.pid, 120);
  ASSERT_NE(status0, -1);
  ASSERT_NE(status1, -1);
  EXPECT_TRUE(WIFEXITED(status0) && WEXITSTATUS(status0) == 2) << testing::read_file(rank0.log);
  EXPECT_TRUE(WIFEXITED(status1) && WEXITSTATUS(status1) == 2) << testing::read_file(rank1.log);
  EXPECT_NE(testing::read_file(rank0.log).find("rank 1 has another config"), std::string::npos)
      << testing::read_file(rank0.log);
}

TEST_F(DistributedCli, DataFilesWithSeveralRanksAreRefusedUnlessTheLauncherPrepares) {
  auto run = run_command(with_rank(
      0,
      free_port_guess() + 2,
      kDpo + " train --config " + quote(dir_.file("config.json")) + " --set data.files='[\"" +
          dir_.file("pairs.jsonl") + "\"]' --set model.path=" + quote(dir_.file("model")) +
          " --set train.out_dir=" + quote(dir_.file("files"))));
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_NE(run.output.find("every rank would prepare the same file"), std::string::npos)
      << run.output;
}

}  // namespace
}  // namespace dpo
