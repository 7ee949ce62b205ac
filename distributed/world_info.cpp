#include "distributed/world_info.h"

#include <cerrno>
#include <cstdlib>

#include "core/error.h"

namespace dpo {
namespace {

constexpr const char* kDocs = "see docs/distributed.md for the variables each launcher sets";

int parse_int(const std::string& name, const std::string& text, int min, int max) {
  errno = 0;
  char* end = nullptr;
  const long value = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || errno != 0 || *end != '\0' || value < min || value > max) {
    throw ConfigError(
        "environment variable " + name + "='" + text + "' is not a whole number in [" +
            std::to_string(min) + ", " + std::to_string(max) + "]",
        kDocs);
  }
  return static_cast<int>(value);
}

// SLURM_TASKS_PER_NODE looks like "4(x2),3": the count of the first node group is enough when the
// node's own count is not given (SLURM_NTASKS_PER_NODE is set only with --ntasks-per-node).
std::string first_tasks_per_node(const std::string& text) {
  size_t end = 0;
  while (end < text.size() && text[end] >= '0' && text[end] <= '9')
    ++end;
  return text.substr(0, end);
}

}  // namespace

EnvLookup process_environment() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr)
      return std::nullopt;
    return std::string(value);
  };
}

WorldInfo world_from_environment(const EnvLookup& env) {
  WorldInfo world;
  auto read = [&](const std::string& name, int min, int max) -> std::optional<int> {
    std::optional<std::string> text = env(name);
    if (!text)
      return std::nullopt;
    return parse_int(name, *text, min, max);
  };
  const int kMaxRanks = 1 << 20;
  std::optional<int> world_size = read("WORLD_SIZE", 1, kMaxRanks);
  std::optional<int> rank = read("RANK", 0, kMaxRanks);
  if (world_size || rank) {
    world.launcher = "torchrun";
    if (!world_size || !rank) {
      throw ConfigError(
          std::string("environment variable ") + (world_size ? "RANK" : "WORLD_SIZE") +
              " is not set although " + (world_size ? "WORLD_SIZE" : "RANK") + " is",
          kDocs);
    }
    world.world_size = *world_size;
    world.rank = *rank;
    world.local_rank = read("LOCAL_RANK", 0, kMaxRanks).value_or(world.rank);
    world.local_world_size = read("LOCAL_WORLD_SIZE", 1, kMaxRanks).value_or(world.world_size);
  } else if (std::optional<int> tasks = read("SLURM_NTASKS", 1, kMaxRanks)) {
    world.launcher = "slurm";
    world.world_size = *tasks;
    std::optional<int> procid = read("SLURM_PROCID", 0, kMaxRanks);
    if (!procid)
      throw ConfigError(
          "environment variable SLURM_PROCID is not set although SLURM_NTASKS is", kDocs);
    world.rank = *procid;
    world.local_rank = read("SLURM_LOCALID", 0, kMaxRanks).value_or(0);
    std::optional<int> per_node = read("SLURM_NTASKS_PER_NODE", 1, kMaxRanks);
    if (!per_node) {
      if (std::optional<std::string> text = env("SLURM_TASKS_PER_NODE")) {
        const std::string first = first_tasks_per_node(*text);
        if (!first.empty())
          per_node = parse_int("SLURM_TASKS_PER_NODE", first, 1, kMaxRanks);
      }
    }
    world.local_world_size = per_node.value_or(world.world_size);
    if (world.world_size > 1 && !env("MASTER_ADDR")) {
      throw ConfigError(
          "a SLURM job of " + std::to_string(world.world_size) +
              " tasks needs MASTER_ADDR (the host of rank 0)",
          "export MASTER_ADDR=$(scontrol show hostnames \"$SLURM_JOB_NODELIST\" | head -n 1) in "
          "the batch script (docs/distributed.md)");
    }
  }
  if (std::optional<std::string> addr = env("MASTER_ADDR"))
    world.master_addr = *addr;
  if (world.master_addr.empty())
    throw ConfigError("environment variable MASTER_ADDR is empty", kDocs);
  world.master_port = read("MASTER_PORT", 1, 65535).value_or(world.master_port);
  if (world.rank >= world.world_size) {
    throw ConfigError(
        "rank " + std::to_string(world.rank) + " is not below the world size " +
            std::to_string(world.world_size) + " (" +
            (world.launcher == "slurm" ? "SLURM_PROCID, SLURM_NTASKS" : "RANK, WORLD_SIZE") + ")",
        kDocs);
  }
  if (world.local_rank >= world.local_world_size || world.local_world_size > world.world_size) {
    throw ConfigError(
        "local rank " + std::to_string(world.local_rank) + " of " +
            std::to_string(world.local_world_size) +
            " processes on this node does not fit a world of " + std::to_string(world.world_size),
        kDocs);
  }
  return world;
}

}  // namespace dpo
