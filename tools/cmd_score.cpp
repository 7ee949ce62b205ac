// dpo score --model DIR --data FILE.h5 --out FILE [--write-reference] : completion log-probs of
// every pair under a model.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <memory>

#include "core/error.h"
#include "distributed/communicator.h"
#include "tools/commands.h"
#include "tools/launch_options.h"
#include "trainer/config.h"
#include "trainer/scoring.h"

namespace dpo {

namespace {

struct ScoreFlags {
  ScoreRequest request;
  std::string device = "auto", dtype = "fp32";
  LaunchFlags launch;
};

int run_score(ScoreFlags& flags) {
  if (flags.launch.launching())
    return launch_workers(flags.launch, {});
  // --device and --dtype read as train.device and train.dtype are.
  Config config;
  apply_override(config, "train.device=" + flags.device);
  apply_override(config, "train.dtype=" + flags.dtype);
  flags.request.device = config.train.device;
  flags.request.dtype = config.train.dtype;
  // Several ranks (torchrun, SLURM, --nproc-per-node): each scores its share; rank 0 writes.
  std::unique_ptr<Communicator> ranks = join_rank_world(config);
  flags.request.communicator = ranks.get();
  ScoreSummary s = score_prepared(flags.request);
  if (!ranks->is_main())
    return kExitOk;
  std::printf(
      "scored %lld pairs (%lld tokens) with %s on %s in %.2f s: %.0f tokens/s%s\n",
      static_cast<long long>(s.pairs),
      static_cast<long long>(s.tokens),
      s.model_hash.substr(0, 16).c_str(),
      s.device.c_str(),
      s.seconds,
      s.seconds > 0 ? s.tokens / s.seconds : 0.0,
      ranks->world_size() > 1 ? (" (" + std::to_string(ranks->world_size()) + " ranks)").c_str()
                              : "");
  return kExitOk;
}

}  // namespace

Command add_score_command(CLI::App& dpo) {
  auto flags = std::make_shared<ScoreFlags>();
  ScoreRequest* request = &flags->request;
  CLI::App* app = dpo.add_subcommand(
      "score",
      "Per pair, the summed completion log-probs and token counts of chosen and rejected under a "
      "model.");
  app->add_option("--model", request->model_dir, "Model folder")->required();
  app->add_option("--data", request->prepared_path, "A prepared file (.h5)")->required();
  app->add_option("--split", request->split, "train, val or all")->capture_default_str();
  app->add_option("--batch-pairs", request->batch_pairs, "Pairs per forward pass")
      ->capture_default_str();
  app->add_option("--device", flags->device, "auto, cpu or cuda")->capture_default_str();
  app->add_option("--dtype", flags->dtype, "fp32 or bf16")->capture_default_str();
  app->add_option("--threads", request->threads, "CPU threads (0: all cores)")
      ->capture_default_str();
  app->add_option("--out", request->out_path, "Output: .jsonl (one line per pair) or .h5");
  app->add_flag(
      "--write-reference",
      request->write_reference,
      "Store the values in the prepared file as reference log-probs of this model");
  add_launch_options(*app, flags->launch);
  return Command{app, [flags]() { return run_score(*flags); }};
}

}  // namespace dpo
