// dpo check DATA... --model DIR [--config FILE] [--steps N] [--report FILE.json] : does this
// dataset train cleanly? Exit 0 pass, 1 fail, 2 could not run.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <memory>

#include "core/atomic_file.h"
#include "core/error.h"
#include "pipeline/data_gates.h"
#include "tools/commands.h"

namespace dpo {
namespace {

struct CheckFlags {
  CheckRequest request;
  std::string report_path;
};

int run_check_command(const CheckFlags& flags) {
  CheckOutcome outcome = run_check(flags.request);
  std::printf(
      "\ncheck of %zu file(s) with %s\n",
      flags.request.files.size(),
      flags.request.model_dir.c_str());
  std::printf("  %-24s %-6s %12s %12s  %s\n", "criterion", "", "value", "threshold", "detail");
  for (const Criterion& c : outcome.criteria) {
    std::printf(
        "  %-24s %-6s %12.4g %12.4g  %s\n",
        c.name.c_str(),
        c.passed ? "ok" : "FAIL",
        c.value,
        c.threshold,
        c.detail.c_str());
  }
  if (!outcome.informativeness.empty())
    std::printf("%s\n", outcome.informativeness.c_str());
  for (const std::string& warning : outcome.warnings)
    std::printf("warning: %s\n", warning.c_str());
  if (!flags.report_path.empty())
    write_file_atomically(flags.report_path, outcome.report_json);
  std::printf(
      "%s\n", outcome.passed ? "PASS: the dataset trains cleanly" : "FAIL: see the criteria above");
  return outcome.passed ? kExitOk : kExitFailed;
}

}  // namespace

Command add_check_command(CLI::App& dpo) {
  auto flags = std::make_shared<CheckFlags>();
  CLI::App* app = dpo.add_subcommand(
      "check",
      "Gate: validate, prepare and run a short DPO pass; pass only when the data trains cleanly "
      "(exit 0 pass, 1 fail, 2 could not run).");
  app->add_option("data", flags->request.files, "Data files")->required();
  app->add_option("--model", flags->request.model_dir, "The SFT model folder")->required();
  app->add_option(
      "--config", flags->request.config_path, "A JSON config (thresholds in its check section)");
  app->add_option("--set", flags->request.overrides, "Override a config key (repeatable)");
  app->add_option("--steps", flags->request.steps, "Training steps (default: check.steps)");
  app->add_option("--out", flags->request.out_dir, "Working folder (prepared file, run)")
      ->capture_default_str();
  app->add_option("--report", flags->report_path, "Write the report as JSON");
  app->add_option(
      "--slice-by",
      flags->request.slice_by,
      "Judge held-out accuracy per value of this key too (metadata.rubric, source; repeatable; "
      "threshold check.min_slice_accuracy)");
  return Command{app, [flags]() { return run_check_command(*flags); }};
}

}  // namespace dpo
