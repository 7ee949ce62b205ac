// The dpo command line is a table of subcommands. Each cmd_*.cpp declares its flags, and its
// run function loads what it needs, calls one library function and returns an exit code
// (core/error.h). Errors thrown below are turned into messages once, in cli_main.cpp.
#pragma once

#include <functional>

namespace CLI {
class App;
}

namespace dpo {

struct Command {
  CLI::App* app = nullptr;   // the subcommand, to ask whether it was chosen
  std::function<int()> run;  // runs it after parsing; returns the exit code
};

Command add_validate_command(CLI::App& dpo);
Command add_template_command(CLI::App& dpo);
Command add_import_llama2c_command(CLI::App& dpo);
Command add_train_tokenizer_command(CLI::App& dpo);
Command add_inspect_command(CLI::App& dpo);
Command add_prepare_command(CLI::App& dpo);
Command add_init_model_command(CLI::App& dpo);
Command add_score_command(CLI::App& dpo);
Command add_train_command(CLI::App& dpo);
Command add_eval_command(CLI::App& dpo);
Command add_check_command(CLI::App& dpo);
Command add_compare_command(CLI::App& dpo);
Command add_report_command(CLI::App& dpo);
Command add_plan_command(CLI::App& dpo);
Command add_merge_lora_command(CLI::App& dpo);

}  // namespace dpo
