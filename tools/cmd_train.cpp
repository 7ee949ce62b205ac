// dpo train --config FILE [--set section.key=value]... [--resume] : a DPO pass (see
// trainer/dpo_trainer.h and docs/config.md).
#include <CLI/CLI.hpp>

#include <cstdio>
#include <memory>

#include "core/error.h"
#include "dataloader/prepare.h"
#include "tools/commands.h"
#include "trainer/config.h"
#include "trainer/dpo_trainer.h"

namespace dpo {
namespace {

struct TrainFlags {
  std::string config_path;
  std::vector<std::string> overrides;
  bool resume = false;
  bool overwrite = false;
};

// JSONL data in the config: prepared first into the run folder with the model's template.
void prepare_if_needed(Config& config) {
  if (!config.data.prepared.empty() || config.data.files.empty())
    return;
  PrepareOptions prepare = prepare_options_from_config(
      config, config.data.files, config.model.path, config.train.out_dir + "/prepared.h5");
  PrepareResult result = prepare_dataset(prepare);
  std::fputs(prepare_summary(result, prepare.out_path).c_str(), stdout);
  config.data.prepared = prepare.out_path;
}

int run_train(const TrainFlags& flags) {
  Config config = load_config(flags.config_path, flags.overrides);
  prepare_if_needed(config);
  RunFlags run;
  run.resume = flags.resume;
  run.overwrite = flags.overwrite;
  TrainResult result = train_dpo(config, run);

  std::printf(
      "\n%s after %lld steps (%s) in %.1f s, %.0f tokens/s\n",
      result.stop_reason == "interrupted" ? "stopped" : "finished",
      static_cast<long long>(result.steps),
      result.stop_reason.c_str(),
      result.seconds,
      result.tokens_per_second);
  if (result.initial_eval.pairs > 0 || result.final_eval.pairs > 0) {
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
  return Command{app, [flags]() { return run_train(*flags); }};
}

}  // namespace dpo
