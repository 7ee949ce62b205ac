// The shared main() of dpo and dpo-torch (tools/cli_main.h): the command table, the hand-over of
// the LibTorch commands to dpo-torch, and the mapping of errors to exit codes: 0 success, 1 the
// command's verdict is "fail", 2 it could not run.
#include "tools/cli_main.h"

#include <CLI/CLI.hpp>

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/log.h"
#include "core/malloc_tuning.h"

namespace dpo {
namespace {

// The first argument that is not an option of the main program (nor an option's value): the
// subcommand, or "" when there is none.
std::string first_positional(const CLI::App& app, int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--")
      return i + 1 < argc ? argv[i + 1] : "";
    if (arg.size() < 2 || arg[0] != '-')
      return arg;
    if (arg.find('=') != std::string::npos)
      continue;  // --log-level=debug
    const CLI::Option* option = app.get_option_no_throw(arg);
    if (option != nullptr && option->get_type_size() != 0)
      ++i;  // skip its value
  }
  return "";
}

bool has_argument(int argc, char** argv, const char* wanted) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--") == 0)
      return false;
    if (std::strcmp(argv[i], wanted) == 0)
      return true;
  }
  return false;
}

std::string directory_of_this_executable() {
  std::vector<char> buffer(4096);
  ssize_t length = readlink("/proc/self/exe", buffer.data(), buffer.size() - 1);
  if (length <= 0)
    return ".";
  std::string path(buffer.data(), static_cast<size_t>(length));
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash == 0 ? 1 : slash);
}

// Replaces this process with dpo-torch, given the same argv (argv[0] included, so its messages
// still say "dpo"). Returns only when that fails, with the exit code after saying why.
int exec_torch_executable(const std::string& command, char** argv) {
  const std::string dir = directory_of_this_executable();
  const std::vector<std::string> candidates = {
      dir + "/" + kTorchExecutableName,                  // the build folder
      dir + "/../libexec/dpo/" + kTorchExecutableName};  // an installed prefix
  for (const std::string& path : candidates) {
    if (access(path.c_str(), X_OK) != 0)
      continue;
    execv(path.c_str(), argv);
    std::fprintf(
        stderr,
        "dpo %s: error: could not start %s: %s\n",
        command.c_str(),
        path.c_str(),
        std::strerror(errno));
    return kExitCannotRun;
  }
  std::fprintf(
      stderr,
      "dpo %s: error: this command needs LibTorch, which runs in the separate executable "
      "%s, and it is not installed: looked for %s and %s\n"
      "hint: install dpo whole (cmake --install, or the Debian package), or build the "
      "%s target beside dpo\n",
      command.c_str(),
      kTorchExecutableName,
      candidates[0].c_str(),
      candidates[1].c_str(),
      kTorchExecutableName);
  return kExitCannotRun;
}

}  // namespace

namespace {
std::vector<std::string> g_command_line;
}  // namespace

const std::vector<std::string>& command_line() {
  return g_command_line;
}

int cli_main(int argc, char** argv, const CliProgram& program) {
  g_command_line.assign(argv, argv + argc);
  // Before any big allocation; commands with a --threads option set their own count later.
  keep_freed_memory_in_heap();
  if (program.start != nullptr)
    program.start();

  CLI::App app{
      "dpo: Direct Preference Optimization for Hugging Face checkpoints.\n"
      "Validate preference data, prepare it, train, check and compare datasets."};
  app.require_subcommand(1);
  app.set_version_flag("--version", program.version_text());
  app.add_flag(
      "--verbose", "With --version: load LibTorch and show its runtime (CUDA devices, SDPA)");
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "debug, info, warn, error or quiet")
      ->capture_default_str();
  app.footer(
      "Exit codes: 0 ok, 1 the verdict is 'fail' (errors found, gate failed), 2 could not run,\n"
      "130/143 interrupted by SIGINT/SIGTERM (dpo train: checkpoint written, resume with "
      "--resume).\n"
      "Run 'dpo <command> --help' for the options of a command.");

  std::vector<Command> commands;
  for (const CommandSpec& spec : program.commands) {
    if (spec.add != nullptr) {
      commands.push_back(spec.add(app));
    } else {
      // Listed in --help; never parsed here: the hand-over below happens first.
      app.add_subcommand(spec.name, spec.description);
    }
  }

  const std::string chosen = first_positional(app, argc, argv);
  for (const CommandSpec& spec : program.commands) {
    if (spec.add == nullptr && chosen == spec.name)
      return exec_torch_executable(chosen, argv);
  }
  const bool holds_all =
      std::all_of(program.commands.begin(), program.commands.end(), [](const CommandSpec& spec) {
        return spec.add != nullptr;
      });
  if (!holds_all && chosen.empty() && has_argument(argc, argv, "--version") &&
      has_argument(argc, argv, "--verbose")) {
    return exec_torch_executable("--version", argv);
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? kExitOk : kExitCannotRun;
  }

  const char* command_name = "dpo";
  try {
    set_log_level(parse_log_level(log_level));
    for (const Command& command : commands) {
      if (command.app->parsed()) {
        command_name = command.app->get_name().c_str();
        return command.run();
      }
    }
  } catch (const Error& e) {
    std::fprintf(stderr, "dpo %s: error: %s\n", command_name, e.what());
    return kExitCannotRun;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "dpo %s: internal error: %s\n", command_name, e.what());
    return kExitCannotRun;
  }
  return kExitCannotRun;
}

}  // namespace dpo
