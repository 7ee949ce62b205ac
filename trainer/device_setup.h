// What train, eval and score do before the first forward pass: the device and dtype from the
// config's enums, and the check that a prepared file was made with the model's tokenizer and
// chat template.
#pragma once

#include <ATen/core/Tensor.h>

#include <string>

#include "trainer/config.h"

namespace dpo {

class Tokenizer;
struct PreparedHeader;

// cpu, cuda (UsageError when this LibTorch has no usable CUDA device), auto: cuda when there is
// one.
// `local_rank`: a data-parallel rank's place on its node; CUDA device `local_rank` is its GPU
// (UsageError when the node has fewer).
at::Device resolve_device(DeviceChoice device, int local_rank = 0);
// The dtype of the weights in the forward pass: fp32 -> float32; bf16 and bf16_pure -> bfloat16
// (bf16 keeps fp32 master weights in the optimizer, see AdamWOptions::master_weights).
at::ScalarType compute_dtype(TrainDtype dtype);

// The prepared file must have been made with this model's tokenizer and chat template
// (`template_spec`: empty for the model's own). Called with the header alone, before the token
// ids are read: a file from a larger vocabulary would otherwise fail the ids' range check first,
// without naming the two tokenizers. CacheError naming both hashes otherwise.
void check_prepared_matches_model(
    const PreparedHeader& header,
    const std::string& prepared_path,
    const std::string& model_dir,
    const Tokenizer& tokenizer,
    const std::string& template_spec = "");

}  // namespace dpo
