// `dpo train --nproc-per-node N` (and eval, score): this process becomes a launcher that starts N
// copies of the same command as workers, one per device, with torchrun's variables set (RANK,
// WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT), forwards their output line
// by line with a "[rank K] " prefix, forwards SIGINT and SIGTERM to them, and when one fails ends
// the others (SIGTERM, then SIGKILL after a grace period). Several nodes: one launcher per node
// with --nnodes and --node-rank, the same --master-addr and --master-port. No LibTorch here.
#pragma once

#include <string>
#include <vector>

namespace dpo {

struct LaunchOptions {
  int nproc_per_node = 1;
  int nnodes = 1;
  int node_rank = 0;
  std::string master_addr = "127.0.0.1";
  int master_port = 0;  // 0: a free port of this host (one node only)
  // The worker command: executable and argv (argv[0] included), without the launcher's flags.
  std::string executable;
  std::vector<std::string> argv;
  // Seconds the other workers get between SIGTERM and SIGKILL once one has failed.
  double stop_grace_seconds = 10;
};

// Starts the workers and waits for all of them. Returns 0 when every worker exited with 0, else
// the exit code of the first worker that failed (128 + the signal for one killed by a signal).
// UsageError for options out of range; IoError when a worker cannot be started.
int run_workers(const LaunchOptions& options);

// A TCP port that was free on the loopback address a moment ago.
int free_local_port();

}  // namespace dpo
