// Completion log-probs: chunked evaluation equals full log_softmax (values and gradients),
// padding changes nothing, no-grad use, span checks.
#include "model/sequence_logprobs.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/csrc/autograd/autograd.h>

#include <vector>

#include "core/error.h"
#include "tests/model/model_test_util.h"

namespace dpo {
namespace {

using testing::make_test_model;
using testing::max_abs_diff;
using testing::random_ids;
using testing::test_config;

// The straightforward way: full logits, fp32 log_softmax, completion tokens summed.
at::Tensor reference_logprobs(
    LlamaForCausalLMImpl& model,
    const at::Tensor& ids,
    const std::vector<int64_t>& start,
    const std::vector<int64_t>& length) {
  std::vector<int64_t> lengths;
  for (size_t r = 0; r < start.size(); ++r)
    lengths.push_back(start[r] + length[r]);
  at::Tensor logp =
      at::log_softmax(model.forward(ids, at::tensor(lengths)).to(at::kFloat), -1);  // [N, T, V]
  std::vector<at::Tensor> sums;
  for (size_t r = 0; r < start.size(); ++r) {
    at::Tensor total = at::zeros({}, at::kFloat);
    for (int64_t p = start[r]; p < start[r] + length[r]; ++p)
      total = total + logp[r][p - 1][ids[r][p].item<int64_t>()];
    sums.push_back(total);
  }
  return at::stack(sums);
}

struct Batch {
  at::Tensor ids;
  std::vector<int64_t> start, length;
};

Batch test_batch(int64_t vocab) {
  // Rows: prompt 3 + completion 5 (no padding), prompt 1 + completion 2, prompt 4 + empty
  // completion.
  return {random_ids(3, 8, vocab, 17), {3, 1, 4}, {5, 2, 0}};
}

TEST(SequenceLogprobs, ChunkedEqualsFullLogSoftmax) {
  for (bool tie : {false, true}) {
    ModelConfig c = test_config(4, 2, tie);
    LlamaForCausalLM model = make_test_model(c);
    Batch b = test_batch(c.vocab_size);
    at::Tensor expected = reference_logprobs(*model, b.ids, b.start, b.length);
    for (int64_t chunk_positions : {1, 3, 100}) {
      LogprobOptions options;
      options.max_chunk_logits = chunk_positions * c.vocab_size;
      SequenceLogprobs got =
          sequence_logprobs(*model, b.ids, at::tensor(b.start), at::tensor(b.length), options);
      EXPECT_EQ(got.sum.scalar_type(), at::kFloat);
      EXPECT_LT(max_abs_diff(got.sum, expected), 1e-5)
          << "chunk " << chunk_positions << " tie " << tie;
      EXPECT_TRUE(at::equal(got.count, at::tensor(b.length)));
    }
    EXPECT_EQ(expected[2].item<float>(), 0.0f);   // an empty completion sums to 0
    EXPECT_LT(expected[0].item<float>(), -1.0f);  // and a real one does not
  }
}

TEST(SequenceLogprobs, GradientsEqualFullLogSoftmax) {
  for (bool tie : {false, true}) {
    ModelConfig c = test_config(4, 2, tie);
    Batch b = test_batch(c.vocab_size);
    at::Tensor weights = at::tensor({0.7f, -1.3f, 2.0f});  // any loss that mixes the rows
    std::vector<at::Tensor> grads[2];
    for (int chunked = 0; chunked < 2; ++chunked) {
      LlamaForCausalLM model = make_test_model(c, 5);
      at::Tensor sums;
      if (chunked) {
        LogprobOptions options;
        options.max_chunk_logits = 2 * c.vocab_size;
        sums = sequence_logprobs(*model, b.ids, at::tensor(b.start), at::tensor(b.length), options)
                   .sum;
      } else {
        sums = reference_logprobs(*model, b.ids, b.start, b.length);
      }
      (sums * weights).sum().backward();
      for (const auto& p : model->parameters())
        grads[chunked].push_back(p.grad().clone());
    }
    for (size_t i = 0; i < grads[0].size(); ++i) {
      EXPECT_LT(max_abs_diff(grads[0][i], grads[1][i]), 1e-5)
          << "parameter " << i << " tie " << tie;
    }
  }
}

TEST(SequenceLogprobs, PaddingDoesNotChangeTheResult) {
  ModelConfig c = test_config(4, 1);
  LlamaForCausalLM model = make_test_model(c);
  Batch b = test_batch(c.vocab_size);
  SequenceLogprobs batch =
      sequence_logprobs(*model, b.ids, at::tensor(b.start), at::tensor(b.length));
  for (int64_t r = 0; r < 3; ++r) {
    // Alone, without padding; and with different padding tokens after the completion.
    at::Tensor alone = b.ids[r].narrow(0, 0, b.start[r] + b.length[r]).unsqueeze(0);
    at::Tensor repadded = b.ids[r].clone().unsqueeze(0);
    repadded.narrow(1, b.start[r] + b.length[r], 8 - b.start[r] - b.length[r])
        .fill_(c.vocab_size - 1);
    for (const at::Tensor& ids : {alone, repadded}) {
      SequenceLogprobs one =
          sequence_logprobs(*model, ids, at::tensor({b.start[r]}), at::tensor({b.length[r]}));
      EXPECT_LT(std::abs(one.sum[0].item<float>() - batch.sum[r].item<float>()), 1e-5)
          << "row " << r;
    }
  }
}

TEST(SequenceLogprobs, WorksWithoutGradForTheReference) {
  ModelConfig c = test_config();
  LlamaForCausalLM model = make_test_model(c);
  Batch b = test_batch(c.vocab_size);
  at::NoGradGuard no_grad;
  SequenceLogprobs out =
      sequence_logprobs(*model, b.ids, at::tensor(b.start), at::tensor(b.length));
  EXPECT_FALSE(out.sum.requires_grad());
  EXPECT_LT(max_abs_diff(out.sum, reference_logprobs(*model, b.ids, b.start, b.length)), 1e-5);
}

TEST(SequenceLogprobs, Bf16ModelGivesFp32Sums) {
  ModelConfig c = test_config();
  LlamaForCausalLM fp32 = make_test_model(c, 3);
  LlamaForCausalLM bf16 = make_test_model(c, 3, at::kBFloat16);
  Batch b = test_batch(c.vocab_size);
  at::Tensor a = sequence_logprobs(*fp32, b.ids, at::tensor(b.start), at::tensor(b.length)).sum;
  at::Tensor h = sequence_logprobs(*bf16, b.ids, at::tensor(b.start), at::tensor(b.length)).sum;
  EXPECT_EQ(h.scalar_type(), at::kFloat);
  EXPECT_LT(max_abs_diff(a, h), 0.5);  // bf16 rounding over 5 tokens
}

TEST(SequenceLogprobs, RejectsSpansOutsideTheRow) {
  ModelConfig c = test_config();
  LlamaForCausalLM model = make_test_model(c);
  at::Tensor ids = random_ids(1, 5, c.vocab_size);
  EXPECT_THROW(
      sequence_logprobs(*model, ids, at::tensor({0}), at::tensor({3})), DataError);  // no prompt
  EXPECT_THROW(
      sequence_logprobs(*model, ids, at::tensor({2}), at::tensor({4})), DataError);  // past the end
  EXPECT_THROW(
      sequence_logprobs(*model, ids, at::tensor({2}), at::tensor({-1})), DataError);  // negative
}

TEST(SequenceLogprobs, ChunkedTokenLogprobsMatchLogSoftmax) {
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(1);
  at::Tensor hidden = at::randn({7, 6}, gen, at::TensorOptions()).requires_grad_(true);
  at::Tensor weight = at::randn({11, 6}, gen, at::TensorOptions()).requires_grad_(true);
  at::Tensor targets = at::tensor(std::vector<int64_t>{0, 10, 3, 3, 5, 1, 9});
  at::Tensor got = chunked_token_logprobs(hidden, weight, targets, 3);
  at::Tensor expected = at::log_softmax(at::matmul(hidden, weight.t()), -1)
                            .gather(1, targets.unsqueeze(1))
                            .squeeze(1);
  EXPECT_LT(max_abs_diff(got, expected), 1e-5);
  at::Tensor g = at::linspace(-1, 1, 7);
  auto grads_got = torch::autograd::grad({got}, {hidden, weight}, {g});
  auto grads_expected = torch::autograd::grad({expected}, {hidden, weight}, {g});
  EXPECT_LT(max_abs_diff(grads_got[0], grads_expected[0]), 1e-5);
  EXPECT_LT(max_abs_diff(grads_got[1], grads_expected[1]), 1e-5);
}

}  // namespace
}  // namespace dpo
