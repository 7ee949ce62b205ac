#include "tools/launch_options.h"

#include <cstdio>

#include "core/log.h"
#include "distributed/communicator.h"
#include "distributed/worker_launcher.h"
#include "tools/cli_main.h"
#include "trainer/config.h"
#include "trainer/device_setup.h"

namespace dpo {

namespace {

const char* const kLaunchOptions[] = {
    "--nproc-per-node", "--nnodes", "--node-rank", "--master-addr", "--master-port"};

}  // namespace

void add_launch_options(CLI::App& app, LaunchFlags& flags) {
  app.add_option(
         "--nproc-per-node",
         flags.nproc_per_node,
         "Data parallelism: start this many worker processes on this node, one per device, "
         "each with its share of the pairs (docs/distributed.md); torchrun and SLURM can start "
         "them instead")
      ->check(CLI::Range(1, 1024));
  app.add_option(
         "--nnodes", flags.nnodes, "With --nproc-per-node: the number of nodes (one launcher each)")
      ->check(CLI::Range(1, 1 << 16));
  app.add_option("--node-rank", flags.node_rank, "With --nnodes: this node's index, from 0")
      ->check(CLI::NonNegativeNumber);
  app.add_option(
      "--master-addr",
      flags.master_addr,
      "With --nproc-per-node: the host of rank 0, reachable from every node (default 127.0.0.1)");
  app.add_option(
         "--master-port",
         flags.master_port,
         "With --nproc-per-node: rank 0's rendezvous port (default: a free port; required with "
         "--nnodes > 1)")
      ->check(CLI::Range(1, 65535));
  // Not for users (hidden): how the launcher marks its workers.
  app.add_flag("--launched-worker", flags.launched_worker)->group("");
}

WorldInfo rank_world() {
  const WorldInfo world = world_from_environment(process_environment());
  if (world.rank != 0 && log_level() < LogLevel::warn)
    set_log_level(LogLevel::warn);
  return world;
}

std::unique_ptr<Communicator> join_rank_world(const Config& config) {
  const WorldInfo world = rank_world();
  return join_world(
      world,
      CommunicatorOptions{
          config.distributed.backend,
          config.distributed.timeout_s,
          resolve_device(config.train.device, world.local_rank)});
}

std::vector<std::string> without_launch_options(const std::vector<std::string>& argv) {
  std::vector<std::string> out;
  for (size_t i = 0; i < argv.size(); ++i) {
    bool dropped = false;
    for (const char* option : kLaunchOptions) {
      const std::string name = option;
      if (argv[i] == name) {
        ++i;  // and its value
        dropped = true;
        break;
      }
      if (argv[i].rfind(name + "=", 0) == 0) {
        dropped = true;
        break;
      }
    }
    if (!dropped)
      out.push_back(argv[i]);
  }
  return out;
}

int launch_workers(const LaunchFlags& flags, const std::vector<std::string>& extra) {
  LaunchOptions launch;
  launch.nproc_per_node = flags.nproc_per_node;
  launch.nnodes = flags.nnodes;
  launch.node_rank = flags.node_rank;
  launch.master_addr = flags.master_addr;
  launch.master_port = flags.master_port;
  launch.executable = "/proc/self/exe";
  launch.argv = without_launch_options(command_line());
  launch.argv.push_back("--launched-worker");
  launch.argv.insert(launch.argv.end(), extra.begin(), extra.end());
  std::printf(
      "[launch] %d rank(s) on this node (node %d of %d), rendezvous at %s:%s\n",
      flags.nproc_per_node,
      flags.node_rank,
      flags.nnodes,
      flags.master_addr.c_str(),
      flags.master_port > 0 ? std::to_string(flags.master_port).c_str() : "<a free port>");
  std::fflush(stdout);
  return run_workers(launch);
}

}  // namespace dpo
