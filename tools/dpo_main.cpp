// dpo: the command-line entry point, without LibTorch. It holds the commands that read and write
// data (validate, template, prepare, inspect, train-tokenizer, report) or plan (plan) and hands the
// ones that need LibTorch to dpo-torch (tools/dpo_torch_main.cpp) with execv(): see
// tools/cli_main.h.
#include <string>

#include "core/build_info.h"
#include "tools/cli_main.h"
#include "tools/commands.h"

#ifndef DPO_TORCH_BUILD_VERSION
#error "DPO_TORCH_BUILD_VERSION (the LibTorch version found by CMake) must be defined"
#endif

namespace {

std::string version_text() {
  return "dpo " + dpo::dpo_version() + " (git " + dpo::dpo_git_commit() + ")\n" +
         "LibTorch " DPO_TORCH_BUILD_VERSION
         " (built against; loaded only by the commands that need it; "
         "'dpo --version --verbose' shows its runtime)";
}

}  // namespace

int main(int argc, char** argv) {
  // The descriptions of the LibTorch commands are theirs in tools/cmd_*.cpp; the test
  // Startup.HelpListsTheSameCommandsAsTheTorchExecutable keeps the two the same.
  dpo::CliProgram program;
  program.version_text = version_text;
  program.commands = {
      {"validate", dpo::add_validate_command},
      {"template", dpo::add_template_command},
      {"prepare", dpo::add_prepare_command},
      {"inspect", dpo::add_inspect_command},
      {"train-tokenizer", dpo::add_train_tokenizer_command},
      {"init-model",
       nullptr,
       "Write a randomly initialised Llama-family model as a Hugging Face folder."},
      {"import-llama2c",
       nullptr,
       "Convert a llama2.c checkpoint (export version 0, e.g. stories15M.bin) and its "
       "sentencepiece tokenizer into a Hugging Face Llama folder (config.json, "
       "model.safetensors, tokenizer files)."},
      {"score",
       nullptr,
       "Per pair, the summed completion log-probs and token counts of chosen and rejected "
       "under a model."},
      {"train",
       nullptr,
       "Train a policy with DPO (or another loss of the family) on a prepared dataset."},
      {"eval", nullptr, "Evaluate a checkpoint on the held-out split of a prepared file."},
      {"check",
       nullptr,
       "Gate: validate, prepare and run a short DPO pass; pass only when the data trains "
       "cleanly (exit 0 pass, 1 fail, 2 could not run)."},
      {"compare",
       nullptr,
       "Gate: compare two versions of a dataset (data diff and the same short training run on "
       "each); exit 1 on regression, 0 otherwise, 2 could not run."},
      {"merge-lora",
       nullptr,
       "Fold a PEFT LoRA adapter into its base model and write a Hugging Face model folder."},
      {"report", dpo::add_report_command},
      {"plan", dpo::add_plan_command},
  };
  return dpo::cli_main(argc, argv, program);
}
