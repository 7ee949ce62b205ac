// dpo plan --model DIR --config C.json [--gpu-memory 24GiB] [--device cpu|cuda] [--json]: the
// expected peak memory of `dpo train` under that config, term by term, whether it fits and, if
// not, which settings would (plan/memory_plan.h). Reads config.json only, no weights. Exit
// codes: 0 fits (or no memory size to judge against), 1 does not fit, 2 could not run.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "model/model_config.h"
#include "plan/memory_plan.h"
#include "plan/plan_inputs.h"
#include "plan/plan_report.h"
#include "tools/commands.h"
#include "trainer/config.h"

namespace dpo {
namespace {

struct PlanFlags {
  std::string model_dir;
  std::string config_path;
  std::vector<std::string> overrides;
  std::string gpu_memory, cpu_memory;
  std::string device;     // "", "cpu" or "cuda"
  std::string attention;  // "", "eager" or "sdpa"
  bool json = false;
};

int run_plan(const PlanFlags& flags) {
  Config config = load_config(flags.config_path, flags.overrides);
  const std::string model_dir = flags.model_dir.empty() ? config.model.path : flags.model_dir;
  if (model_dir.empty())
    throw UsageError("no model: give --model DIR or model.path in the config");
  const ModelConfig model = read_model_config(model_dir + "/config.json");

  PlanDevice device = PlanDevice::cpu;
  if (flags.device == "cuda")
    device = PlanDevice::cuda;
  else if (flags.device.empty())
    device = config.train.device == DeviceChoice::cuda ||
                     (config.train.device == DeviceChoice::auto_detect && !flags.gpu_memory.empty())
                 ? PlanDevice::cuda
                 : PlanDevice::cpu;
  if (device == PlanDevice::cpu && !flags.gpu_memory.empty())
    throw UsageError("--gpu-memory is for --device cuda", "use --cpu-memory for the CPU");

  PlanInputs inputs = plan_inputs_from_config(config, model, device);
  if (!flags.attention.empty())
    inputs.sdpa = flags.attention == "sdpa";
  int64_t budget = 0;
  std::string budget_name;
  if (device == PlanDevice::cuda && !flags.gpu_memory.empty()) {
    budget = parse_byte_size(flags.gpu_memory, "--gpu-memory");
    budget_name = "--gpu-memory";
  } else if (device == PlanDevice::cpu) {
    budget = flags.cpu_memory.empty() ? available_host_memory_bytes()
                                      : parse_byte_size(flags.cpu_memory, "--cpu-memory");
    budget_name = flags.cpu_memory.empty() ? "available RAM" : "--cpu-memory";
  }
  const PlanVerdict verdict = judge_memory_plan(inputs, budget);
  const std::string text = flags.json ? plan_report_json(inputs, verdict, budget_name)
                                      : plan_report_text(inputs, verdict, budget_name);
  std::fputs(text.c_str(), stdout);
  return verdict.fits ? kExitOk : kExitFailed;
}

}  // namespace

Command add_plan_command(CLI::App& dpo) {
  auto flags = std::make_shared<PlanFlags>();
  CLI::App* app = dpo.add_subcommand(
      "plan",
      "Estimate the peak memory of dpo train under a config (config.json only, no weights): the "
      "breakdown, whether it fits, and which settings would.");
  app->add_option(
      "--model", flags->model_dir, "Model folder (its config.json); default model.path");
  app->add_option("--config", flags->config_path, "The run config (configs/*.json)");
  app->add_option("--set", flags->overrides, "Override a key: --set train.micro_batch_pairs=2");
  app->add_option("--gpu-memory", flags->gpu_memory, "The GPU's memory, e.g. 24GiB or 80GB");
  app->add_option(
      "--cpu-memory",
      flags->cpu_memory,
      "The memory to plan for on the CPU (default: available RAM)");
  app->add_option(
         "--device",
         flags->device,
         "cpu or cuda (default: train.device; auto: cuda when --gpu-memory is given)")
      ->check(CLI::IsMember({"cpu", "cuda"}));
  app->add_option(
         "--attention",
         flags->attention,
         "eager (LibTorch 1.13) or sdpa (LibTorch 2.x); default: sdpa on cuda, on cpu that of this "
         "build's LibTorch")
      ->check(CLI::IsMember({"eager", "sdpa"}));
  app->add_flag("--json", flags->json, "Print the plan as JSON");
  return Command{app, [flags]() { return run_plan(*flags); }};
}

}  // namespace dpo
