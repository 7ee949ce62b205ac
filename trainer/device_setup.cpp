#include "trainer/device_setup.h"

#include <ATen/Context.h>

#include "core/error.h"
#include "dataloader/prepared_dataset.h"
#include "templates/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace dpo {

at::Device resolve_device(DeviceChoice device) {
  switch (device) {
    case DeviceChoice::cpu:
      return at::kCPU;
    case DeviceChoice::cuda:
      if (!at::hasCUDA()) {
        throw UsageError(
            "train.device is cuda but this LibTorch has no usable CUDA device",
            "use device auto or cpu");
      }
      return at::Device(at::kCUDA, 0);
    case DeviceChoice::auto_detect:
      break;
  }
  return at::hasCUDA() ? at::Device(at::kCUDA, 0) : at::Device(at::kCPU);
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
