// Small models and reference computations shared by the model tests.
#pragma once

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include "model/checkpoint.h"
#include "model/llama.h"
#include "model/model_config.h"

namespace dpo::testing {

// A decoder small enough for exact comparisons in milliseconds.
inline ModelConfig test_config(int64_t heads = 4, int64_t kv_heads = 2, bool tie = false) {
  ModelConfig c;
  c.hidden_size = 32;
  c.intermediate_size = 48;
  c.num_hidden_layers = 2;
  c.num_attention_heads = heads;
  c.num_key_value_heads = kv_heads;
  c.head_dim = 32 / heads;
  c.vocab_size = 53;
  c.rms_norm_eps = 1e-5;
  c.max_position_embeddings = 64;
  c.tie_word_embeddings = tie;
  c.initializer_range = 0.2;  // larger than usual, so that logits are far from uniform
  c.bos_token_id = 1;
  c.eos_token_ids = {2};
  return c;
}

inline LlamaForCausalLM make_test_model(
    const ModelConfig& config, uint64_t seed = 7, at::ScalarType dtype = at::kFloat) {
  LlamaForCausalLM model(config, at::TensorOptions().dtype(dtype));
  init_random_weights(*model, seed);
  return model;
}

// Random token ids in [0, vocab) [n, t], from a seeded generator.
inline at::Tensor random_ids(int64_t n, int64_t t, int64_t vocab, uint64_t seed = 3) {
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  return at::randint(vocab, {n, t}, gen, at::kLong);
}

inline double max_abs_diff(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>();
}

}  // namespace dpo::testing
