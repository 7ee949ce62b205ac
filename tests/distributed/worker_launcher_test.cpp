// The --nproc-per-node launcher, with small shell scripts as workers: their variables, their
// output with the rank prefix, and what happens when one fails.
#include "distributed/worker_launcher.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fcntl.h>
#include <chrono>
#include <cstdio>

#include "core/error.h"
#include "tests/support/test_support.h"

namespace dpo {
namespace {

// Runs `script` as every worker, with stdout and stderr captured into one string.
struct Launched {
  int exit_code = -1;
  std::string output;
  double seconds = 0;
};

Launched launch_sh(const std::string& script, int nproc, double grace = 10) {
  testing::TempDir dir;
  const std::string log = dir.file("out.log");
  LaunchOptions options;
  options.nproc_per_node = nproc;
  options.executable = "/bin/sh";
  options.argv = {"sh", "-c", script};
  options.stop_grace_seconds = grace;
  // The launcher writes to this process's stdout and stderr: point them at a file meanwhile.
  std::fflush(stdout);
  std::fflush(stderr);
  const int saved_out = dup(STDOUT_FILENO), saved_err = dup(STDERR_FILENO);
  const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  dup2(fd, STDOUT_FILENO);
  dup2(fd, STDERR_FILENO);
  close(fd);
  Launched result;
  const auto start = std::chrono::steady_clock::now();
  result.exit_code = run_workers(options);
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  dup2(saved_out, STDOUT_FILENO);
  dup2(saved_err, STDERR_FILENO);
  close(saved_out);
  close(saved_err);
  result.output = testing::read_file(log);
  return result;
}

TEST(WorkerLauncher, SetsTorchrunsVariablesAndPrefixesEachLine) {
  Launched run = launch_sh(
      "echo \"rank $RANK of $WORLD_SIZE, local $LOCAL_RANK of $LOCAL_WORLD_SIZE at "
      "$MASTER_ADDR\"; echo to-stderr >&2",
      2);
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("[rank 0] rank 0 of 2, local 0 of 2 at 127.0.0.1"), std::string::npos)
      << run.output;
  EXPECT_NE(run.output.find("[rank 1] rank 1 of 2, local 1 of 2 at 127.0.0.1"), std::string::npos)
      << run.output;
  EXPECT_NE(run.output.find("[rank 1] to-stderr"), std::string::npos) << run.output;
}

TEST(WorkerLauncher, AFailedWorkerStopsTheOthersAndGivesItsExitCode) {
  // Rank 1 fails at once; rank 0 would run for a minute but is stopped with SIGTERM.
  Launched run = launch_sh("if [ $RANK = 1 ]; then exit 3; fi; sleep 60", 2);
  EXPECT_EQ(run.exit_code, 3) << run.output;
  EXPECT_LT(run.seconds, 30) << run.output;
  EXPECT_NE(
      run.output.find("rank 1 exited with code 3; stopping the other 1 rank(s)"), std::string::npos)
      << run.output;
}

TEST(WorkerLauncher, AWorkerThatIgnoresSigtermIsKilledAfterTheGracePeriod) {
  Launched run = launch_sh("if [ $RANK = 1 ]; then exit 4; fi; trap '' TERM; sleep 60", 2, 1.0);
  EXPECT_EQ(run.exit_code, 4) << run.output;
  EXPECT_LT(run.seconds, 30) << run.output;
  EXPECT_NE(run.output.find("still running after 1 s: killing them"), std::string::npos)
      << run.output;
}

TEST(WorkerLauncher, AllSucceedingIsZero) {
  EXPECT_EQ(launch_sh("exit 0", 3).exit_code, 0);
}

TEST(WorkerLauncher, OptionsOutOfRangeAreUsageErrors) {
  LaunchOptions options;
  options.executable = "/bin/true";
  options.argv = {"true"};
  options.nproc_per_node = 0;
  EXPECT_THROW(run_workers(options), UsageError);
  options.nproc_per_node = 1;
  options.nnodes = 2;
  options.node_rank = 2;
  EXPECT_THROW(run_workers(options), UsageError);
  options.node_rank = 1;
  options.master_port = 0;  // several nodes must agree on a port
  EXPECT_THROW(run_workers(options), UsageError);
}

TEST(WorkerLauncher, FreeLocalPortCanBeBound) {
  const int port = free_local_port();
  EXPECT_GT(port, 0);
  EXPECT_LE(port, 65535);
}

}  // namespace
}  // namespace dpo
