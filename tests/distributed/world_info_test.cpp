// Who a process is in a data-parallel run, from the variables each launcher sets.
#include "distributed/world_info.h"

#include <gtest/gtest.h>

#include <map>

#include "core/error.h"

namespace dpo {
namespace {

EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end())
      return std::nullopt;
    return it->second;
  };
}

TEST(WorldInfo, NoLauncherIsOneProcess) {
  WorldInfo world = world_from_environment(env_of({}));
  EXPECT_FALSE(world.distributed());
  EXPECT_EQ(world.rank, 0);
  EXPECT_EQ(world.world_size, 1);
  EXPECT_EQ(world.launcher, "none");
}

TEST(WorldInfo, TorchrunVariables) {
  WorldInfo world = world_from_environment(env_of(
      {{"RANK", "5"},
       {"WORLD_SIZE", "8"},
       {"LOCAL_RANK", "1"},
       {"LOCAL_WORLD_SIZE", "4"},
       {"MASTER_ADDR", "node-0"},
       {"MASTER_PORT", "29555"}}));
  EXPECT_TRUE(world.distributed());
  EXPECT_EQ(world.rank, 5);
  EXPECT_EQ(world.world_size, 8);
  EXPECT_EQ(world.local_rank, 1);
  EXPECT_EQ(world.local_world_size, 4);
  EXPECT_EQ(world.master_addr, "node-0");
  EXPECT_EQ(world.master_port, 29555);
  EXPECT_EQ(world.launcher, "torchrun");
}

TEST(WorldInfo, SlurmVariablesMapToTheSame) {
  WorldInfo world = world_from_environment(env_of(
      {{"SLURM_NTASKS", "8"},
       {"SLURM_PROCID", "6"},
       {"SLURM_LOCALID", "2"},
       {"SLURM_TASKS_PER_NODE", "4(x2)"},
       {"MASTER_ADDR", "gpu-017"}}));
  EXPECT_EQ(world.launcher, "slurm");
  EXPECT_EQ(world.rank, 6);
  EXPECT_EQ(world.world_size, 8);
  EXPECT_EQ(world.local_rank, 2);
  EXPECT_EQ(world.local_world_size, 4);
  EXPECT_EQ(world.master_addr, "gpu-017");
  EXPECT_EQ(world.master_port, 29500);  // torchrun's default
}

TEST(WorldInfo, TorchrunInsideASlurmJobWins) {
  WorldInfo world = world_from_environment(
      env_of({{"SLURM_NTASKS", "1"}, {"SLURM_PROCID", "0"}, {"RANK", "1"}, {"WORLD_SIZE", "2"}}));
  EXPECT_EQ(world.launcher, "torchrun");
  EXPECT_EQ(world.rank, 1);
}

// What each mistake says: the variable and the value.
std::string error_of(std::map<std::string, std::string> vars) {
  try {
    world_from_environment(env_of(std::move(vars)));
  } catch (const ConfigError& e) {
    return e.message();
  }
  return "";
}

TEST(WorldInfo, MistakesNameTheVariable) {
  EXPECT_NE(error_of({{"RANK", "x"}, {"WORLD_SIZE", "2"}}).find("RANK='x'"), std::string::npos);
  EXPECT_NE(
      error_of({{"RANK", "2"}, {"WORLD_SIZE", "2"}}).find("rank 2 is not below"),
      std::string::npos);
  EXPECT_NE(error_of({{"WORLD_SIZE", "2"}}).find("RANK is not set"), std::string::npos);
  EXPECT_NE(
      error_of({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_PORT", "70000"}}).find("MASTER_PORT"),
      std::string::npos);
  EXPECT_NE(
      error_of({{"SLURM_NTASKS", "4"}, {"SLURM_PROCID", "0"}}).find("needs MASTER_ADDR"),
      std::string::npos);
  EXPECT_NE(
      error_of({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"LOCAL_RANK", "3"}, {"LOCAL_WORLD_SIZE", "2"}})
          .find("local rank 3"),
      std::string::npos);
}

}  // namespace
}  // namespace dpo
