// The data-parallel options that `dpo train`, `dpo eval` and `dpo score` share: --nproc-per-node
// and its companions turn the command into a launcher of worker processes running the same
// command line (distributed/worker_launcher.h, docs/distributed.md).
#pragma once

#include <CLI/CLI.hpp>

#include <memory>
#include <string>
#include <vector>

#include "distributed/world_info.h"

namespace dpo {

class Communicator;
struct Config;

struct LaunchFlags {
  int nproc_per_node = 0;  // 0: not a launcher (one process, or a rank started by torchrun)
  int nnodes = 1;
  int node_rank = 0;
  std::string master_addr = "127.0.0.1";
  int master_port = 0;
  bool launched_worker = false;  // hidden: set by the launcher on its workers' command lines

  bool launching() const {
    return nproc_per_node > 0;
  }
};

void add_launch_options(CLI::App& app, LaunchFlags& flags);

// Starts the workers: this process's command line without the launcher's options, with
// --launched-worker and `extra` arguments (e.g. "--set", "data.prepared=FILE") appended, on
// /proc/self/exe. Returns the launcher's exit code (run_workers).
int launch_workers(const LaunchFlags& flags, const std::vector<std::string>& extra);

// This process's rank from the environment (torchrun, SLURM, the launcher; one process when none
// is set). Ranks other than 0 log warnings and errors only: rank 0 reports.
WorldInfo rank_world();

// rank_world() joined over `config.distributed`, on the rank's device for `config.train.device`
// (a world of one without a launcher): what `dpo eval` and `dpo score` hand to the library.
std::unique_ptr<Communicator> join_rank_world(const Config& config);

// `argv` without the launcher's options ("--nproc-per-node 2", "--master-port=29500", ...).
std::vector<std::string> without_launch_options(const std::vector<std::string>& argv);

}  // namespace dpo
