// dpo eval --model DIR --data FILE.h5 [--reference DIR] : held-out metrics of a checkpoint.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <memory>

#include "core/error.h"
#include "distributed/communicator.h"
#include "tools/commands.h"
#include "tools/launch_options.h"
#include "trainer/config.h"
#include "trainer/evaluation.h"

namespace dpo {
namespace {

struct EvalFlags {
  std::string model_dir, prepared_path, reference_dir, config_path, pairs_out;
  std::vector<std::string> overrides;
  std::vector<std::string> slice_by;  // added to data.slice_by
  std::string device = "auto", dtype = "fp32";
  int64_t batch_pairs = 8;
  LaunchFlags launch;
};

int run_eval(const EvalFlags& flags) {
  if (flags.launch.launching())
    return launch_workers(flags.launch, {});
  Config config = load_config(flags.config_path, flags.overrides);
  // --device and --dtype read as train.device and train.dtype are (same names and aliases).
  apply_override(config, "train.device=" + flags.device);
  apply_override(config, "train.dtype=" + flags.dtype);
  EvalDetails details;
  details.slice_by = config.data.slice_by;
  details.slice_by.insert(details.slice_by.end(), flags.slice_by.begin(), flags.slice_by.end());
  // Several ranks (torchrun, SLURM, --nproc-per-node): each scores its share; rank 0 reports.
  std::unique_ptr<Communicator> ranks = join_rank_world(config);
  LossMeans m = evaluate_model(
      flags.model_dir,
      flags.prepared_path,
      flags.reference_dir,
      config.loss,
      config.train.device,
      config.train.dtype,
      flags.batch_pairs,
      flags.pairs_out,
      ranks.get(),
      &details);
  if (!ranks->is_main())
    return kExitOk;
  std::printf(
      "held-out pairs %lld\n  loss %.4f\n  accuracy %.4f\n  margin %.4f\n"
      "  reward chosen %.4f  rejected %.4f\n  logps chosen %.3f  rejected %.3f "
      "(per token %.4f / %.4f)\n",
      static_cast<long long>(m.pairs),
      m.loss,
      m.rewards_accuracies,
      m.rewards_margins,
      m.rewards_chosen,
      m.rewards_rejected,
      m.logps_chosen,
      m.logps_rejected,
      m.logps_chosen_per_token,
      m.logps_rejected_per_token);
  std::fputs(slices_table(details.slices).c_str(), stdout);
  return kExitOk;
}

}  // namespace

Command add_eval_command(CLI::App& dpo) {
  auto flags = std::make_shared<EvalFlags>();
  CLI::App* app =
      dpo.add_subcommand("eval", "Evaluate a checkpoint on the held-out split of a prepared file.");
  app->add_option("--model", flags->model_dir, "The model folder to evaluate")->required();
  app->add_option("--data", flags->prepared_path, "A prepared file (.h5)")->required();
  app->add_option(
      "--reference", flags->reference_dir, "Reference model folder (default: the model itself)");
  app->add_option(
      "--config", flags->config_path, "Config for the loss section (default: DPO, beta 0.1)");
  app->add_option("--set", flags->overrides, "Override a config key (repeatable)");
  app->add_option("--pairs-out", flags->pairs_out, "Write per-pair results (JSONL) here");
  app->add_option(
      "--slice-by",
      flags->slice_by,
      "Loss, accuracy and margin per value of this key (metadata.rubric, source; repeatable)");
  app->add_option("--device", flags->device, "auto, cpu or cuda")->capture_default_str();
  app->add_option("--dtype", flags->dtype, "fp32 or bf16")->capture_default_str();
  app->add_option("--batch-pairs", flags->batch_pairs, "Pairs per forward pass")
      ->capture_default_str();
  add_launch_options(*app, flags->launch);
  return Command{app, [flags]() { return run_eval(*flags); }};
}

}  // namespace dpo
