// dpo-torch: every dpo command, LibTorch loaded. `dpo` execv()s it for the commands that need
// LibTorch (train, eval, score, check, compare, init-model, import-llama2c), with dpo's argv, so
// its messages still say "dpo <command>". Installed under libexec/dpo/, not on PATH.
#include <algorithm>
#include <string>
#include <thread>

#include "core/build_info.h"
#include "core/malloc_tuning.h"
#include "model/cpu_runtime.h"
#include "model/runtime_info.h"
#include "tools/cli_main.h"
#include "tools/commands.h"

namespace {

std::string version_text() {
  dpo::TorchRuntimeInfo torch = dpo::torch_runtime_info();
  std::string text = "dpo " + dpo::dpo_version() + " (git " + dpo::dpo_git_commit() + ")\n";
  text += "LibTorch " + torch.version;
  if (torch.cuda_built)
    text += " with CUDA " + std::to_string(torch.cuda_runtime / 1000) + "." +
            std::to_string(torch.cuda_runtime % 1000 / 10) + ", " +
            std::to_string(torch.cuda_devices) + " CUDA device(s)";
  else
    text += " (CPU only)";
  text += std::string(", scaled_dot_product_attention: ") + (torch.has_sdpa ? "yes" : "no");
  text += ", malloc: " + dpo::malloc_name();
  return text;
}

void start() {
  // Before any tensor is allocated; commands with a --threads option set their own count later.
  dpo::set_cpu_threads(static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
}

}  // namespace

int main(int argc, char** argv) {
  dpo::CliProgram program;
  program.version_text = version_text;
  program.start = start;
  program.commands = {
      {"validate", dpo::add_validate_command},
      {"template", dpo::add_template_command},
      {"prepare", dpo::add_prepare_command},
      {"inspect", dpo::add_inspect_command},
      {"train-tokenizer", dpo::add_train_tokenizer_command},
      {"init-model", dpo::add_init_model_command},
      {"import-llama2c", dpo::add_import_llama2c_command},
      {"score", dpo::add_score_command},
      {"train", dpo::add_train_command},
      {"eval", dpo::add_eval_command},
      {"check", dpo::add_check_command},
      {"compare", dpo::add_compare_command},
      {"merge-lora", dpo::add_merge_lora_command},
      {"report", dpo::add_report_command},
      {"plan", dpo::add_plan_command},
  };
  return dpo::cli_main(argc, argv, program);
}
