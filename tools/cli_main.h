// The one main() of the two dpo executables. `dpo` links only the torch-free libraries and
// starts in milliseconds; `dpo-torch` (libexec/dpo/ when installed) adds the commands that need
// LibTorch. `dpo` hands those commands to `dpo-torch` with execv(), so the process, its stdio,
// signals and exit code stay the same (docs/architecture.md, "Why two executables").
#pragma once

#include <string>
#include <vector>

#include "tools/commands.h"

namespace dpo {

// One row of the command table, in the order `dpo --help` lists them.
struct CommandSpec {
  const char* name;
  // Declares the subcommand; nullptr where this executable does not hold the command and hands
  // it to dpo-torch (then `description` is what `dpo --help` shows for it).
  Command (*add)(CLI::App&) = nullptr;
  const char* description = "";
};

struct CliProgram {
  std::vector<CommandSpec> commands;
  // The --version text; with --verbose, `dpo` hands --version to dpo-torch (runtime details).
  std::string (*version_text)() = nullptr;
  // Process settings made before any command is declared (dpo-torch: CPU threads).
  void (*start)() = nullptr;
};

// The file name of the LibTorch executable, looked for beside /proc/self/exe, then in
// ../libexec/dpo/ beside it.
inline constexpr const char* kTorchExecutableName = "dpo-torch";

// Parses argv, runs the chosen command (or execv()s dpo-torch for one it does not hold) and
// returns the exit code (core/error.h).
int cli_main(int argc, char** argv, const CliProgram& program);

// The arguments this process was started with (argv[0] included), as cli_main received them: the
// command line a launcher hands to its workers (tools/launch_options.h).
const std::vector<std::string>& command_line();

}  // namespace dpo
