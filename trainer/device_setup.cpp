#include "trainer/device_setup.h"

#include <ATen/Context.h>
#include <ATen/detail/CUDAHooksInterface.h>

#include "core/error.h"
#include "dataloader/prepared_dataset.h"
#include "templates/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace dpo {

at::Device resolve_device(DeviceChoice device, int local_rank) {
  bool cuda = false;
  switch (device) {
    case DeviceChoice::cpu:
      return at::kCPU;
    case DeviceChoice::cuda:
      if (!at::hasCUDA()) {
        throw UsageError(
            "train.device is cuda but this LibTorch has no usable CUDA device",
            "use device auto or cpu");
      }
      cuda = true;
      break;
    case DeviceChoice::auto_detect:
      cuda = at::hasCUDA();
      break;
  }
  if (!cuda)
    return at::kCPU;
  const int devices = static_cast<int>(at::detail::getCUDAHooks().getNumGPUs());
  if (local_rank >= devices) {
    throw UsageError(
        "local rank " + std::to_string(local_rank) + " needs CUDA device " +
            std::to_string(local_rank) + ", but this node has " + std::to_string(devices),
        "start at most one rank per GPU (--nproc-per-node, torchrun's --nproc-per-node)");
  }
  return at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(local_rank));
}

at::ScalarType compute_dtype(TrainDtype dtype) {
  return dtype == TrainDtype::fp32 ? at::kFloat : at::kBFloat16;
}

void check_prepared_matches_model(
    const PreparedHeader& header,
    const std::string& prepared_path,
    const std::string& model_dir,
    const Tokenizer& tokenizer,
    const std::string& template_spec) {
  if (header.tokenizer_sha256 != tokenizer.sha256()) {
    throw CacheError(
        "'" + prepared_path + "' was prepared with tokenizer " + header.tokenizer_sha256 +
            ", but the model '" + model_dir + "' has tokenizer " + tokenizer.sha256(),
        "run dpo prepare again with --model " + model_dir);
  }
  std::string model_template =
      ChatTemplate::load(template_spec.empty() ? model_dir : template_spec).sha256();
  if (header.template_sha256 != model_template) {
    throw CacheError(
        "'" + prepared_path + "' was prepared with chat template " + header.template_sha256 +
            ", but the model '" + model_dir + "' has template " + model_template,
        "run dpo prepare again with --model " + model_dir);
  }
}

}  // namespace dpo
