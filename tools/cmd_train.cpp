// dpo train --config FILE [--set section.key=value]... [--resume] : a DPO pass (see
// trainer/dpo_trainer.h and docs/config.md). Exit codes: 0 finished, 1 stopped on non-finite
// steps, 2 could not run (also: the memory plan says the run cannot fit on its device, unless
// --ignore-memory-plan), 130/143 stopped by SIGINT/SIGTERM after saving a checkpoint.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cctype>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>

#include "core/error.h"
#include "dataloader/prepare.h"
#include "model/model_config.h"
#include "model/torch_compat.h"
#include "plan/memory_plan.h"
#include "plan/plan_inputs.h"
#include "plan/plan_report.h"
#include "tools/commands.h"
#include "tools/launch_options.h"
#include "trainer/config.h"
#include "trainer/device_setup.h"
#include "trainer/dpo_trainer.h"
#include "trainer/run_folder.h"

// The GPU's memory for the plan's budget: only a CUDA build of LibTorch has these headers (as in
// model/runtime_info.cpp).
#if __has_include(<c10/cuda/impl/cuda_cmake_macros.h>) && __has_include(<cuda_runtime_api.h>)
#include <ATen/cuda/CUDAContext.h>
#define DPO_CUDA_DEVICE_PROPERTIES 1
#else
#define DPO_CUDA_DEVICE_PROPERTIES 0
#endif

namespace dpo {
namespace {

struct TrainFlags {
  std::string config_path;
  std::vector<std::string> overrides;
  bool resume = false;
  bool overwrite = false;
  std::vector<std::string> allowed_changes;
  bool ignore_memory_plan = false;
  std::string memory_budget;     // default: the CUDA device's total memory, or the available RAM
  LaunchFlags launch;            // --nproc-per-node N: this process launches N workers
  int64_t stop_after_steps = 0;  // testing aid (hidden): stop as if signalled after this step
};

// A word for a POSIX shell: as is when it is plain, else in single quotes.
std::string shell_word(const std::string& word) {
  const bool plain = !word.empty() && std::all_of(word.begin(), word.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || std::strchr("_-./=:,+@%", c) != nullptr;
  });
  if (plain)
    return word;
  std::string quoted = "'";
  for (char c : word)
    quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

// The command that continues an interrupted run: this one's config and overrides, with --resume.
std::string resume_command(const TrainFlags& flags) {
  std::string command = "dpo train";
  if (!flags.config_path.empty())
    command += " --config " + shell_word(flags.config_path);
  for (const std::string& assignment : flags.overrides)
    command += " --set " + shell_word(assignment);
  for (const std::string& key : flags.allowed_changes)
    command += " --resume-allow-change " + shell_word(key);
  return command + " --resume";
}

// Console summary of a run stopped by a signal; returns the shell's exit code for it.
int report_interrupted(const TrainResult& result, const TrainFlags& flags) {
  const bool sigint = result.stop_signal == SIGINT;
  std::printf(
      "\ninterrupted by %s at step %lld after %.1f s\n",
      sigint ? "SIGINT" : (result.stop_signal == SIGTERM ? "SIGTERM" : "a stop request"),
      static_cast<long long>(result.steps),
      result.seconds);
  if (result.initial_eval.pairs > 0) {
    std::printf(
        "held-out preference accuracy before training: %.3f (%lld pairs); no final evaluation\n",
        result.initial_eval.rewards_accuracies,
        static_cast<long long>(result.initial_eval.pairs));
  }
  if (!result.last_checkpoint.empty())
    std::printf("checkpoint: %s\n", result.last_checkpoint.c_str());
  std::printf("resume with: %s\n", resume_command(flags).c_str());
  std::fflush(stdout);
  return sigint ? kExitInterrupted : kExitTerminated;
}

// This process's resident memory now (VmRSS): already part of the plan's CPU baseline.
int64_t resident_bytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0)
      return std::atoll(line.c_str() + 6) * 1024;
  }
  return 0;
}

int64_t cuda_total_memory(const at::Device& device) {
#if DPO_CUDA_DEVICE_PROPERTIES
  return static_cast<int64_t>(
      at::cuda::getDeviceProperties(device.has_index() ? device.index() : 0)->totalGlobalMem);
#else
  return 0;
#endif
}

// The memory plan (plan/memory_plan.h), printed before the run. Refuses, with the breakdown and
// the settings that would fit, a run whose estimate exceeds the device's memory (the CPU: the
// available RAM plus what this process already holds), unless --ignore-memory-plan.
// `ranks_per_node`: processes sharing this node's memory (the CPU's RAM is theirs together; a GPU
// is one rank's).
void check_memory_plan(
    const Config& config, const TrainFlags& flags, int ranks_per_node, bool print) {
  if (config.model.path.empty())
    return;  // train_dpo names what is missing
  at::Device device = at::kCPU;
  PlanInputs inputs;
  try {
    const ModelConfig model = read_model_config(config.model.path + "/config.json");
    device = resolve_device(config.train.device);
    const PlanDevice plan_device = device.is_cuda() ? PlanDevice::cuda : PlanDevice::cpu;
    inputs = plan_inputs_from_config(config, model, plan_device);
    // This LibTorch's attention: SDPA keeps no [T, T] scores (on the CPU only without a mask,
    // as the padding-free views run).
    inputs.sdpa = DPO_HAS_SDPA != 0 && (device.is_cuda() || config.train.padding_free);
  } catch (const Error& e) {
    // A model or data file the plan cannot read: train_dpo checks them in its own order and
    // says what is wrong with each, so the plan steps aside.
    std::printf("[plan] no memory plan: %s\n", e.what());
    std::fflush(stdout);
    return;
  }
  int64_t budget = 0;
  std::string budget_name;
  if (!flags.memory_budget.empty()) {
    budget = parse_byte_size(flags.memory_budget, "--memory-budget");
    budget_name = "--memory-budget";
  } else if (device.is_cuda()) {
    budget = cuda_total_memory(device);
    budget_name = "the device's memory";
  } else {
    const int64_t available = available_host_memory_bytes();
    budget = available > 0 ? (available + resident_bytes()) / ranks_per_node : 0;
    budget_name = ranks_per_node > 1
                      ? "available RAM / " + std::to_string(ranks_per_node) + " ranks on this node"
                      : "available RAM";
  }
  const PlanVerdict verdict = judge_memory_plan(inputs, budget);
  if (print) {
    std::fputs(plan_report_text(inputs, verdict, budget_name).c_str(), stdout);
    std::fflush(stdout);
  }
  if (verdict.fits)
    return;
  if (flags.ignore_memory_plan) {
    std::printf("[plan] --ignore-memory-plan: starting anyway\n");
    std::fflush(stdout);
    return;
  }
  throw ConfigError(
      "the run needs about " + format_bytes(verdict.plan.peak_bytes) + " but " +
          format_bytes(budget) + " (" + budget_name + ") is there: it would run out of memory",
      "use one of the settings above that fit (--set ...), or pass --ignore-memory-plan to try "
      "anyway");
}

// JSONL data in the config: prepared first into the run folder with the model's template.
void prepare_if_needed(Config& config) {
  if (!config.data.prepared.empty() || config.data.files.empty())
    return;
  create_run_folder(config.train.out_dir);
  PrepareOptions prepare = prepare_options_from_config(
      config, config.data.files, config.model.path, config.train.out_dir + "/prepared.h5");
  PrepareResult result = prepare_dataset(prepare);
  std::fputs(prepare_summary(result, prepare.out_path).c_str(), stdout);
  config.data.prepared = prepare.out_path;
}

// --nproc-per-node N: prepare and plan once here, then run N workers (one per device) and wait.
// The workers run this command line with the prepared file set and without the plan.
int launch_train_workers(const TrainFlags& flags) {
  Config config = load_config(flags.config_path, flags.overrides);
  prepare_if_needed(config);
  check_memory_plan(config, flags, flags.launch.nproc_per_node, /*print=*/true);
  return launch_workers(flags.launch, {"--set", "data.prepared=" + config.data.prepared});
}

int run_train(const TrainFlags& flags) {
  if (!flags.allowed_changes.empty() && !flags.resume)
    throw UsageError("--resume-allow-change is for --resume: a fresh run has nothing to compare");
  if (flags.launch.launching())
    return launch_train_workers(flags);
  RunFlags run;
  run.world = rank_world();  // rank 0 reports the progress, the figures and the plan
  const bool main_rank = run.world.rank == 0;
  Config config = load_config(flags.config_path, flags.overrides);
  if (run.world.distributed() && config.data.prepared.empty() && !config.data.files.empty()) {
    throw UsageError(
        "data.files with " + std::to_string(run.world.world_size) +
            " ranks: every rank would prepare the same file",
        "prepare once first (dpo prepare ... --out FILE, then --set data.prepared=FILE), or "
        "start the ranks with dpo train --nproc-per-node N, which prepares before it starts them");
  }
  prepare_if_needed(config);
  if (!flags.launch.launched_worker)
    check_memory_plan(config, flags, run.world.local_world_size, main_rank);
  run.stop_after_steps = flags.stop_after_steps;
  run.resume = flags.resume;
  run.overwrite = flags.overwrite;
  run.allowed_changes = flags.allowed_changes;
  TrainResult result = train_dpo(config, run);
  if (!main_rank && result.stop_reason == "interrupted")
    return result.stop_signal == SIGINT ? kExitInterrupted : kExitTerminated;
  if (!main_rank)
    return result.stop_reason == "bad_steps" ? kExitFailed : kExitOk;
  if (result.stop_reason == "interrupted")
    return report_interrupted(result, flags);

  std::printf(
      "\n%s after %lld steps (%s) in %.1f s, %.0f tokens/s\n",
      result.stop_reason == "max_steps" || result.stop_reason == "early_stop" ? "finished"
                                                                              : "stopped",
      static_cast<long long>(result.steps),
      result.stop_reason.c_str(),
      result.seconds,
      result.tokens_per_second);
  if (result.final_eval.pairs > 0 && result.initial_eval.pairs == 0) {
    // Resumed: the evaluation before training belongs to the first process.
    std::printf(
        "held-out preference accuracy: %.3f   val loss: %.4f   (%lld pairs)\n",
        result.final_eval.rewards_accuracies,
        result.final_eval.loss,
        static_cast<long long>(result.final_eval.pairs));
  } else if (result.final_eval.pairs > 0) {
    std::printf(
        "held-out preference accuracy: %.3f -> %.3f   val loss: %.4f -> %.4f   (%lld pairs)\n",
        result.initial_eval.rewards_accuracies,
        result.final_eval.rewards_accuracies,
        result.initial_eval.loss,
        result.final_eval.loss,
        static_cast<long long>(result.final_eval.pairs));
  }
  if (result.bad_steps > 0)
    std::printf("non-finite steps skipped: %lld\n", static_cast<long long>(result.bad_steps));
  for (const std::string& alarm : result.alarms)
    std::printf("alarm: %s\n", alarm.c_str());
  if (!result.final_dir.empty())
    std::printf("model: %s\nrun:   %s\n", result.final_dir.c_str(), config.train.out_dir.c_str());
  if (result.stop_reason == "bad_steps")
    return kExitFailed;
  return kExitOk;
}

}  // namespace

Command add_train_command(CLI::App& dpo) {
  auto flags = std::make_shared<TrainFlags>();
  CLI::App* app = dpo.add_subcommand(
      "train", "Train a policy with DPO (or another loss of the family) on a prepared dataset.");
  app->add_option(
      "--config",
      flags->config_path,
      "A JSON config (configs/*.json); every key in docs/config.md");
  app->add_option("--set", flags->overrides, "Override a key: --set optim.lr=5e-7 (repeatable)");
  app->add_flag("--resume", flags->resume, "Continue from train.out_dir/checkpoints/LATEST");
  app->add_flag(
      "--overwrite",
      flags->overwrite,
      "Replace the run train.out_dir holds (without it, a fresh run refuses such a folder)");
  app->add_option(
      "--resume-allow-change",
      flags->allowed_changes,
      "With --resume: accept a changed value of this config key although it changes the data "
      "order or the optimisation (repeatable; the resumed run is then not the one it continues)");
  app->add_flag(
      "--ignore-memory-plan",
      flags->ignore_memory_plan,
      "Start even when the memory plan says the run does not fit on its device");
  app->add_option(
      "--memory-budget",
      flags->memory_budget,
      "The memory to plan for (e.g. 24GiB; default: the device's total memory, or on the CPU the "
      "available RAM)");
  add_launch_options(*app, flags->launch);
  app->add_option("--stop-after-steps", flags->stop_after_steps)->group("");  // testing aid
  return Command{app, [flags]() { return run_train(*flags); }};
}

}  // namespace dpo
