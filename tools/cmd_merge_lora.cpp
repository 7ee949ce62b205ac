// dpo merge-lora --base DIR --adapter DIR --out DIR: a PEFT LoRA adapter folded into its base
// model, written as a Hugging Face folder (what peft's merge_and_unload + save_pretrained give).
#include <CLI/CLI.hpp>

#include <ATen/ATen.h>

#include <cstdio>
#include <memory>
#include <string>

#include "core/error.h"
#include "model/checkpoint.h"
#include "model/lora.h"
#include "model/peft_adapter.h"
#include "tools/commands.h"

namespace dpo {

namespace {

struct MergeLoraOptions {
  std::string base, adapter, out;
  std::string dtype = "auto";
  bool overwrite = false;
};

int run_merge_lora(const MergeLoraOptions& options) {
  // The merge runs in fp32 (one rounding into the saved dtype); "auto" keeps the base's dtype.
  LoadedModel base = load_pretrained(options.base, at::kFloat, at::kCPU);
  const at::ScalarType save_dtype = options.dtype == "auto"
                                        ? parse_model_dtype(base.config.torch_dtype)
                                        : parse_model_dtype(options.dtype);
  // An adapter dpo wrote records its base's hash: another base is refused.
  PeftAdapterConfig adapter =
      load_peft_adapter(*base.model, options.adapter, model_content_hash(*base.model));
  const size_t layers = lora_adapted_paths(*base.model).size();
  merge_lora(*base.model);

  SaveOptions save;
  save.tokenizer_source = options.base;
  save.overwrite = options.overwrite;
  if (save_dtype == at::kFloat) {
    save_pretrained(*base.model, options.out, save);
  } else {
    at::NoGradGuard no_grad;
    LlamaForCausalLM converted(base.config, at::TensorOptions().dtype(save_dtype));
    auto source = base.model->named_parameters(/*recurse=*/true);
    for (auto& item : converted->named_parameters(/*recurse=*/true))
      item.value().copy_(source[item.key()].to(save_dtype));
    save_pretrained(*converted, options.out, save);
  }
  std::printf(
      "wrote %s: %s + adapter %s (rank %lld, alpha %g, %zu layers) merged, %s\n",
      options.out.c_str(),
      options.base.c_str(),
      options.adapter.c_str(),
      static_cast<long long>(adapter.lora.rank),
      adapter.lora.alpha,
      layers,
      model_dtype_name(save_dtype).c_str());
  return kExitOk;
}

}  // namespace

Command add_merge_lora_command(CLI::App& dpo) {
  auto options = std::make_shared<MergeLoraOptions>();
  CLI::App* app = dpo.add_subcommand(
      "merge-lora",
      "Fold a PEFT LoRA adapter into its base model and write a Hugging Face model folder.");
  app->add_option("--base", options->base, "The base model's Hugging Face folder")->required();
  app->add_option(
         "--adapter",
         options->adapter,
         "A PEFT adapter folder (adapter_config.json, adapter_model.safetensors), e.g. a LoRA "
         "run's final/")
      ->required();
  app->add_option("--out", options->out, "Folder to create")->required();
  app->add_option("--dtype", options->dtype, "auto (the base's), fp32 or bf16")
      ->capture_default_str();
  app->add_flag("--overwrite", options->overwrite, "Replace an existing --out folder");
  return Command{app, [options]() { return run_merge_lora(*options); }};
}

}  // namespace dpo
