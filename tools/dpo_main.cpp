// dpo: the command-line entry point. Parses the subcommand, runs it, and maps errors to exit
// codes: 0 success, 1 the command's verdict is "fail", 2 it could not run.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>
#include <string>
#include <thread>
#include <algorithm>
#include <vector>

#include "core/build_info.h"
#include "core/error.h"
#include "core/log.h"
#include "core/malloc_tuning.h"
#include "model/cpu_runtime.h"
#include "model/runtime_info.h"
#include "tools/commands.h"

namespace {

std::string version_text() {
  dpo::TorchRuntimeInfo torch = dpo::torch_runtime_info();
  std::string text = "dpo " + dpo::dpo_version() + " (git " + dpo::dpo_git_commit() + ")\n";
  text += "LibTorch " + torch.version + (torch.cuda_built ? " with CUDA" : " (CPU only)");
  if (torch.cuda_built) text += ", " + std::to_string(torch.cuda_devices) + " CUDA device(s)";
  text += std::string(", scaled_dot_product_attention: ") + (torch.has_sdpa ? "yes" : "no");
  return text;
}

}  // namespace

int main(int argc, char** argv) {
  // Before any tensor is allocated; commands with a --threads option set their own count later.
  dpo::keep_freed_memory_in_heap();
  dpo::set_cpu_threads(static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  CLI::App app{
      "dpo: Direct Preference Optimization for Hugging Face checkpoints.\n"
      "Validate preference data, prepare it, train, check and compare datasets."};
  app.require_subcommand(1);
  app.set_version_flag("--version", version_text());
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "debug, info, warn, error or quiet")
      ->capture_default_str();
  app.footer(
      "Exit codes: 0 ok, 1 the verdict is 'fail' (errors found, gate failed), 2 could not run.\n"
      "Run 'dpo <command> --help' for the options of a command.");

  std::vector<dpo::Command> commands = {
      dpo::add_validate_command(app),
      dpo::add_template_command(app),
      dpo::add_prepare_command(app),
      dpo::add_inspect_command(app),
      dpo::add_train_tokenizer_command(app),
      dpo::add_init_model_command(app),
      dpo::add_import_llama2c_command(app),
      dpo::add_score_command(app),
      dpo::add_train_command(app),
      dpo::add_eval_command(app),
      dpo::add_check_command(app),
      dpo::add_compare_command(app),
      dpo::add_report_command(app),
  };

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? dpo::kExitOk : dpo::kExitCannotRun;
  }

  const char* command_name = "dpo";
  try {
    dpo::set_log_level(dpo::parse_log_level(log_level));
    for (const dpo::Command& command : commands) {
      if (command.app->parsed()) {
        command_name = command.app->get_name().c_str();
        return command.run();
      }
    }
  } catch (const dpo::Error& e) {
    std::fprintf(stderr, "dpo %s: error: %s\n", command_name, e.what());
    return dpo::kExitCannotRun;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "dpo %s: internal error: %s\n", command_name, e.what());
    return dpo::kExitCannotRun;
  }
  return dpo::kExitCannotRun;
}
