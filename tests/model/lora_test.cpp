// LoRA adapters on the test decoder: the identity at initialisation, "off" as the base, merge
// equal to the unmerged forward, PEFT's names and scaling, and the configs refused by name.
#include "model/lora.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "core/error.h"
#include "model/checkpoint.h"
#include "model/cpu_tensor_memory.h"
#include "tests/model/model_test_util.h"

namespace dpo {
namespace {

using testing::make_test_model;
using testing::max_abs_diff;
using testing::random_ids;
using testing::test_config;

LoraConfig all_linear(int64_t rank = 4) {
  LoraConfig config;
  config.enabled = true;
  config.rank = rank;
  config.alpha = 8;
  config.target_modules = {"all-linear"};
  return config;
}

// Gives every B random values (B starts at zero, which would hide the adapters' effect).
void randomise_b(LlamaForCausalLMImpl& model, uint64_t seed) {
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  at::NoGradGuard no_grad;
  for (auto& [name, tensor] : lora_parameters(model)) {
    if (name.find("lora_B") != std::string::npos)
      tensor.copy_(at::randn(tensor.sizes(), gen, at::kFloat) * 0.1);
  }
}

TEST(Lora, AtInitialisationLogitsEqualTheBaseExactly) {
  auto model = make_test_model(test_config());
  at::Tensor ids = random_ids(2, 9, 53);
  at::Tensor base = model->forward(ids);
  attach_lora(*model, all_linear(), 1);
  EXPECT_TRUE(at::equal(model->forward(ids), base));
}

TEST(Lora, AtInitialisationBf16LogitsEqualTheBaseExactly) {
  auto model = make_test_model(test_config(), 7, at::kBFloat16);
  at::Tensor ids = random_ids(2, 9, 53);
  at::Tensor base = model->forward(ids);
  attach_lora(*model, all_linear(), 1);
  at::Tensor lora = model->forward(ids);
  EXPECT_EQ(lora.scalar_type(), at::kBFloat16);
  EXPECT_TRUE(at::equal(lora, base));
}

// The tensor bytes a forward pass leaves live for its backward (autograd's saved values and the
// logits), counted by the CPU tensor counter.
int64_t bytes_kept_for_backward(LlamaForCausalLMImpl& model, const at::Tensor& ids) {
  const int64_t before = cpu_tensor_memory().live_bytes;
  at::Tensor logits = model.forward(ids);
  return cpu_tensor_memory().live_bytes - before;
}

// On a bf16 base the adapters' products run in bf16, as peft's under autocast: autograd keeps
// each module's own bf16 input (one shared by q/k/v, one by gate/up) for A's gradient, not an
// fp32 copy per module. So a LoRA forward keeps less than full training's, which keeps those
// inputs for the weights' gradients too, and the adapters still get fp32 gradients.
TEST(Lora, OnABf16BaseAForwardKeepsLessThanFullTrainingAndTheGradientsAreFp32) {
  ASSERT_TRUE(count_cpu_tensor_memory());
  at::Tensor ids = random_ids(2, 48, 53);
  auto full = make_test_model(test_config(), 7, at::kBFloat16);
  const int64_t full_kept = bytes_kept_for_backward(*full, ids);
  auto model = make_test_model(test_config(), 7, at::kBFloat16);
  attach_lora(*model, all_linear(), 1);
  randomise_b(*model, 5);
  const int64_t lora_kept = bytes_kept_for_backward(*model, ids);
  EXPECT_LT(lora_kept, full_kept);

  model->forward(ids).to(at::kFloat).logsumexp(-1).sum().backward();
  for (auto& [name, tensor] : lora_parameters(*model)) {
    EXPECT_EQ(tensor.scalar_type(), at::kFloat) << name;
    ASSERT_TRUE(tensor.grad().defined()) << name;
    EXPECT_EQ(tensor.grad().scalar_type(), at::kFloat) << name;
    EXPECT_GT(tensor.grad().abs().sum().item<double>(), 0) << name;
  }
}

TEST(Lora, AdaptersOffEqualTheBaseAndOnDiffer) {
  auto model = make_test_model(test_config());
  at::Tensor ids = random_ids(2, 9, 53);
  at::Tensor base = model->forward(ids);
  attach_lora(*model, all_linear(), 1);
  randomise_b(*model, 5);
  EXPECT_GT(max_abs_diff(model->forward(ids), base), 1e-3);
  set_lora_mode(*model, LoraMode::off);
  EXPECT_TRUE(at::equal(model->forward(ids), base));
}

TEST(Lora, InitialModeUsesTheKeptCopyNotTheTrainedTensors) {
  auto model = make_test_model(test_config());
  at::Tensor ids = random_ids(2, 9, 53);
  attach_lora(*model, all_linear(), 1);
  randomise_b(*model, 5);
  at::Tensor start = model->forward(ids);
  keep_initial_lora(*model);
  randomise_b(*model, 6);  // "training" moves the adapters
  EXPECT_GT(max_abs_diff(model->forward(ids), start), 1e-3);
  set_lora_mode(*model, LoraMode::initial);
  EXPECT_TRUE(at::equal(model->forward(ids), start));
}

TEST(Lora, MergedForwardEqualsTheUnmergedOne) {
  auto model = make_test_model(test_config());
  at::Tensor ids = random_ids(2, 9, 53);
  LoraConfig config = all_linear();
  config.train_embeddings = true;
  config.train_lm_head = true;
  attach_lora(*model, config, 1);
  randomise_b(*model, 5);
  {
    at::NoGradGuard no_grad;  // the trained copies move too
    model->model->embed_tokens->trained_copy->weight.add_(0.01);
    model->lm_head->trained_copy->weight.mul_(1.1);
  }
  at::Tensor unmerged = model->forward(ids);
  merge_lora(*model);
  EXPECT_FALSE(has_lora(*model));
  EXPECT_LT(max_abs_diff(model->forward(ids), unmerged), 1e-5);
}

TEST(Lora, GradientsReachOnlyTheAdapters) {
  auto model = make_test_model(test_config());
  attach_lora(*model, all_linear(), 1);
  randomise_b(*model, 5);
  model->forward(random_ids(2, 9, 53)).logsumexp(-1).sum().backward();
  for (auto& item : model->named_parameters(/*recurse=*/true))
    EXPECT_FALSE(item.value().grad().defined()) << item.key();
  for (auto& [name, tensor] : lora_parameters(*model)) {
    ASSERT_TRUE(tensor.grad().defined()) << name;
    EXPECT_GT(tensor.grad().abs().sum().item<double>(), 0) << name;
  }
}

TEST(Lora, GradientCheckpointingGivesTheAdaptersTheSameGradients) {
  at::Tensor ids = random_ids(2, 9, 53);
  auto grads = [&](bool checkpointing) {
    auto model = make_test_model(test_config());
    attach_lora(*model, all_linear(), 1);
    randomise_b(*model, 5);
    model->set_gradient_checkpointing(checkpointing);
    model->forward(ids).logsumexp(-1).sum().backward();
    std::vector<at::Tensor> out;
    for (auto& [name, tensor] : lora_parameters(*model))
      out.push_back(tensor.grad().clone());
    return out;
  };
  std::vector<at::Tensor> plain = grads(false), checkpointed = grads(true);
  ASSERT_EQ(plain.size(), checkpointed.size());
  for (size_t i = 0; i < plain.size(); ++i)
    EXPECT_LT(max_abs_diff(plain[i], checkpointed[i]), 1e-6);
}

TEST(Lora, NamesAreThoseTheAdapterFileOfPeftHolds) {
  auto model = make_test_model(test_config());
  LoraConfig config;
  config.target_modules = {"q_proj", "v_proj"};
  attach_lora(*model, config, 1);
  LoraTensors tensors = lora_parameters(*model);
  ASSERT_EQ(tensors.size(), 8u);  // 2 layers x 2 modules x (A, B)
  EXPECT_EQ(tensors[0].first, "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight");
  EXPECT_EQ(tensors[1].first, "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight");
  EXPECT_EQ(tensors[2].first, "base_model.model.model.layers.0.self_attn.v_proj.lora_A.weight");
  EXPECT_EQ(tensors[0].second.sizes(), at::IntArrayRef({8, 32}));  // [r, in]
  EXPECT_EQ(tensors[3].second.sizes(), at::IntArrayRef({16, 8}));  // v_proj: [kv * head_dim, r]
  EXPECT_EQ(tensors[0].second.scalar_type(), at::kFloat);

  auto other = make_test_model(test_config());
  LoraConfig copies = all_linear();
  copies.train_embeddings = true;
  copies.train_lm_head = true;
  attach_lora(*other, copies, 1);
  LoraTensors all = lora_parameters(*other);
  ASSERT_EQ(all.size(), 2u * 7 * 2 + 2);
  EXPECT_EQ(all[all.size() - 2].first, "base_model.model.model.embed_tokens.weight");
  EXPECT_EQ(all.back().first, "base_model.model.lm_head.weight");
}

TEST(Lora, KaimingInitDrawsWithinOneOverSqrtFanInAndGaussianHasStdOneOverRank) {
  auto model = make_test_model(test_config());
  attach_lora(*model, all_linear(16), 1);
  at::Tensor a = lora_parameters(*model)[0].second;  // q_proj A [16, 32]
  const double bound = 1.0 / std::sqrt(32.0);
  EXPECT_LE(a.abs().max().item<double>(), bound);
  EXPECT_GT(a.abs().max().item<double>(), 0.9 * bound);
  EXPECT_EQ(lora_parameters(*model)[1].second.abs().sum().item<double>(), 0.0);  // B zero

  auto gaussian = make_test_model(test_config());
  LoraConfig config = all_linear(16);
  config.init = LoraInit::gaussian;
  attach_lora(*gaussian, config, 1);
  at::Tensor all_a = lora_parameters(*gaussian)[0].second;
  EXPECT_NEAR(all_a.std().item<double>(), 1.0 / 16, 0.01);
}

TEST(Lora, TheSameSeedGivesTheSameAdapters) {
  auto first = make_test_model(test_config()), second = make_test_model(test_config());
  attach_lora(*first, all_linear(), 42);
  attach_lora(*second, all_linear(), 42);
  EXPECT_EQ(lora_content_hash(*first), lora_content_hash(*second));
  auto third = make_test_model(test_config());
  attach_lora(*third, all_linear(), 43);
  EXPECT_NE(lora_content_hash(*first), lora_content_hash(*third));
}

TEST(Lora, ScalingIsAlphaOverRankOrOverItsRootWithRslora) {
  LoraConfig config;
  config.rank = 16;
  config.alpha = 32;
  EXPECT_DOUBLE_EQ(lora_scaling(config), 2.0);
  config.use_rslora = true;
  EXPECT_DOUBLE_EQ(lora_scaling(config), 8.0);  // 32 / sqrt(16)

  // The forward uses it: doubling alpha doubles the adapter's contribution.
  auto delta_of = [&](double alpha, bool rslora) {
    auto model = make_test_model(test_config());
    LoraConfig c = all_linear(4);
    c.target_modules = {"o_proj"};
    c.alpha = alpha;
    c.use_rslora = rslora;
    attach_lora(*model, c, 1);
    randomise_b(*model, 5);
    // The adapter's term of one layer on a fixed input.
    LinearImpl& o = *model->model->layers[1]->as<LlamaDecoderLayerImpl>()->self_attn->o_proj;
    at::Tensor x = at::ones({1, 32});
    return (o.forward(x) - at::linear(x, o.weight)).detach();
  };
  at::Tensor plain = delta_of(8, false), doubled = delta_of(16, false), rs = delta_of(8, true);
  EXPECT_LT(max_abs_diff(doubled, plain * 2), 1e-5);
  EXPECT_LT(max_abs_diff(rs, plain * 2), 1e-5);  // 8/sqrt(4) = 4 = 2 x (8/4)
}

TEST(Lora, BaseParametersAreFrozenAndTheirHashUnchanged) {
  auto model = make_test_model(test_config());
  const std::string before = model_content_hash(*model);
  attach_lora(*model, all_linear(), 1);
  randomise_b(*model, 5);
  EXPECT_EQ(model_content_hash(*model), before);
  for (auto& item : model->named_parameters(/*recurse=*/true))
    EXPECT_FALSE(item.value().requires_grad()) << item.key();
}

void expect_config_error(const LoraConfig& config, const std::string& needle) {
  auto model = make_test_model(test_config());
  try {
    attach_lora(*model, config, 1);
    FAIL() << "no error for " << needle;
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(Lora, BadConfigsAreRefusedByName) {
  LoraConfig zero = all_linear();
  zero.rank = 0;
  expect_config_error(zero, "lora.rank is 0");
  LoraConfig unknown = all_linear();
  unknown.target_modules = {"q_proj", "qkv_proj"};
  expect_config_error(unknown, "'qkv_proj'");
  LoraConfig empty = all_linear();
  empty.target_modules = {};
  expect_config_error(empty, "target_modules is empty");
  LoraConfig dropout = all_linear();
  dropout.dropout = 1.0;
  expect_config_error(dropout, "lora.dropout");

  // A full module path that the model does not have (what an adapter_config.json can hold).
  auto model = make_test_model(test_config());
  try {
    lora_target_paths(*model, {"model.layers.7.self_attn.q_proj"});
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(
        std::string(e.what()).find("'model.layers.7.self_attn.q_proj' matches no linear layer"),
        std::string::npos)
        << e.what();
  }
  EXPECT_EQ(lora_target_paths(*model, {"model.layers.1.mlp.up_proj"}).size(), 1u);

  auto tied = make_test_model(test_config(4, 2, /*tie=*/true));
  LoraConfig head = all_linear();
  head.train_lm_head = true;
  EXPECT_THROW(attach_lora(*tied, head, 1), ConfigError);
}

TEST(Lora, LoadRefusesMissingAndMisshapenTensorsByName) {
  auto source = make_test_model(test_config());
  attach_lora(*source, all_linear(), 1);
  randomise_b(*source, 5);
  LoraTensors saved;
  for (auto& [name, tensor] : lora_parameters(*source))
    saved.emplace_back(name, tensor.detach().clone());

  auto target = make_test_model(test_config());
  attach_lora(*target, all_linear(), 2);
  load_lora_tensors(*target, saved, "adapter");
  EXPECT_EQ(lora_content_hash(*target), lora_content_hash(*source));

  LoraTensors missing(saved.begin() + 1, saved.end());
  try {
    load_lora_tensors(*target, missing, "adapter");
    FAIL();
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find(saved[0].first), std::string::npos) << e.what();
  }
  LoraTensors misshapen = saved;
  misshapen[0].second = at::zeros({3, 32});
  try {
    load_lora_tensors(*target, misshapen, "adapter");
    FAIL();
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("has shape [3, 32]"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace dpo
