// dpo compare --baseline A --candidate B --model DIR [--config FILE] [--eval-data E]
//             [--report FILE.json] : is dataset version B worse than A? Exit 1 on regression.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <memory>

#include "core/atomic_file.h"
#include "core/error.h"
#include "pipeline/data_gates.h"
#include "tools/commands.h"

namespace dpo {
namespace {

struct CompareFlags {
  CompareRequest request;
  std::string report_path;
};

int run_compare_command(const CompareFlags& flags) {
  CompareOutcome outcome = run_compare(flags.request);
  std::fputs(outcome.summary.c_str(), stdout);
  if (!flags.report_path.empty())
    write_file_atomically(flags.report_path, outcome.report_json);
  for (const std::string& warning : outcome.warnings)
    std::printf("warning: %s\n", warning.c_str());
  if (!outcome.regression) {
    std::printf("PASS: no regression\n");
    return kExitOk;
  }
  std::printf("REGRESSION:\n");
  for (const std::string& reason : outcome.reasons)
    std::printf("  %s\n", reason.c_str());
  return kExitFailed;
}

}  // namespace

Command add_compare_command(CLI::App& dpo) {
  auto flags = std::make_shared<CompareFlags>();
  CLI::App* app = dpo.add_subcommand(
      "compare",
      "Gate: compare two versions of a dataset (data diff and the same short training run on "
      "each); "
      "exit 1 on regression, 0 otherwise, 2 could not run.");
  app->add_option("--baseline", flags->request.baseline, "Files of the baseline version")
      ->required();
  app->add_option("--candidate", flags->request.candidate, "Files of the candidate version")
      ->required();
  app->add_option("--model", flags->request.model_dir, "The SFT model folder")->required();
  app->add_option(
      "--config", flags->request.config_path, "A JSON config (thresholds in its compare section)");
  app->add_option("--set", flags->request.overrides, "Override a config key (repeatable)");
  app->add_option(
      "--eval-data",
      flags->request.eval_data,
      "A common held-out set (default: held-out pairs present in both versions)");
  app->add_option("--out", flags->request.out_dir, "Working folder")->capture_default_str();
  app->add_option("--report", flags->report_path, "Write the report as JSON");
  app->add_option(
      "--slice-by",
      flags->request.slice_by,
      "Compare held-out accuracy per value of this key too (metadata.rubric, source; "
      "repeatable): a slice regresses beyond its own noise");
  return Command{app, [flags]() { return run_compare_command(*flags); }};
}

}  // namespace dpo
