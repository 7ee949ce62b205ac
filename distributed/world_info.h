// Who this process is in a data-parallel run: its rank among WORLD_SIZE processes, its place on
// its node, and where rank 0's rendezvous store listens. Read from the environment the launchers
// set: torchrun (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT), SLURM's
// srun (SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID, ... mapped to the same), or `dpo train
// --nproc-per-node N` (distributed/worker_launcher.h, which sets torchrun's variables). None of
// them set: one process, no process group. No LibTorch here.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace dpo {

struct WorldInfo {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;        // rank on this node: picks the GPU (cuda:LOCAL_RANK)
  int local_world_size = 1;  // processes on this node
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  std::string launcher = "none";  // "none" | "torchrun" | "slurm" (dpo's launcher sets torchrun's)

  bool distributed() const {
    return world_size > 1;
  }
};

// getenv, or a map in tests: the value of a variable, nullopt when unset.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;
EnvLookup process_environment();

// The world of this process. torchrun's variables win over SLURM's (torchrun inside an
// allocation). SLURM needs MASTER_ADDR (the first node of the allocation: set it in the batch
// script, docs/distributed.md); MASTER_PORT defaults to 29500. ConfigError naming the variable
// for a value that is not a number, out of range, or inconsistent (RANK >= WORLD_SIZE, ...).
WorldInfo world_from_environment(const EnvLookup& env);

}  // namespace dpo
