// Less work per pair: the shared-prefix, the padding-free and the shared + padding-free layouts
// give the padded forward's per-token log-probs (fp32, within 1e-5 per token) and its gradients
// for every architecture (Llama, Qwen2 with biases, Qwen3 with q/k norm and tied embeddings,
// Mistral and Qwen3 sliding windows), with and without gradient checkpointing; the layouts
// themselves are checked by hand.
#include "model/packed_batch.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/error.h"
#include "model/sequence_logprobs.h"
#include "tests/model/model_test_util.h"

namespace dpo {
namespace {

using testing::make_test_model;
using testing::max_abs_diff;
using testing::test_config;

const PairLayout kLayouts[] = {{true, false}, {false, true}, {true, true}};

std::string name(PairLayout layout) {
  return std::string(layout.prefix_sharing ? "shared" : "unshared") +
         (layout.padding_free ? "+packed" : "+padded");
}

// B pairs as the loader lays them out: rows 0..B-1 chosen, B..2B-1 rejected, the same prompt
// in rows i and B + i, random padding after each sequence (it must change nothing).
struct PairBatch {
  at::Tensor ids;  // [2B, T]
  std::vector<int64_t> start, length;
};

PairBatch make_pairs(
    const std::vector<int64_t>& prompt,
    const std::vector<int64_t>& chosen,
    const std::vector<int64_t>& rejected,
    int64_t vocab,
    uint64_t seed) {
  const int64_t pairs = static_cast<int64_t>(prompt.size());
  int64_t t = 0;
  for (int64_t i = 0; i < pairs; ++i)
    t = std::max({t, prompt[i] + chosen[i], prompt[i] + rejected[i]});
  t += 3;
  PairBatch b;
  b.ids = testing::random_ids(2 * pairs, t, vocab, seed);
  for (int64_t i = 0; i < pairs; ++i) {
    b.ids[pairs + i].narrow(0, 0, prompt[i]).copy_(b.ids[i].narrow(0, 0, prompt[i]));
  }
  b.start = prompt;
  b.start.insert(b.start.end(), prompt.begin(), prompt.end());
  b.length = chosen;
  b.length.insert(b.length.end(), rejected.begin(), rejected.end());
  return b;
}

// Prompts and completions of different lengths, length-1 completions and a length-1 prompt.
PairBatch standard_pairs(int64_t vocab) {
  return make_pairs({4, 1, 6, 3}, {5, 1, 2, 9}, {1, 7, 3, 4}, vocab, 11);
}

// Random weights with every parameter (biases and norm weights too) moved off its init.
LlamaForCausalLM model_for(const ModelConfig& config) {
  LlamaForCausalLM model = make_test_model(config, 5);
  at::NoGradGuard no_grad;
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(29);
  for (at::Tensor& p : model->parameters())
    p.add_(at::randn(p.sizes(), gen, at::kFloat) * 0.05);
  return model;
}

struct Arch {
  std::string label;
  ModelConfig config;
};

std::vector<Arch> architectures() {
  std::vector<Arch> out;
  out.push_back({"llama", test_config(4, 2, false)});
  ModelConfig qwen2 = test_config(4, 2, false);
  qwen2.architecture = "Qwen2ForCausalLM";
  out.push_back({"qwen2", qwen2});
  ModelConfig qwen3 = test_config(4, 1, true);
  qwen3.architecture = "Qwen3ForCausalLM";
  out.push_back({"qwen3-tied", qwen3});
  ModelConfig mistral = test_config(4, 2, false);
  mistral.architecture = "MistralForCausalLM";
  mistral.sliding_window = 3;  // shorter than most prompts + completions here
  out.push_back({"mistral-window", mistral});
  ModelConfig qwen3_window = qwen3;
  qwen3_window.sliding_window = 4;
  qwen3_window.layer_types = {"sliding_attention", "full_attention"};
  out.push_back({"qwen3-window-layer0", qwen3_window});
  return out;
}

// Per-token log-probs of the padded forward: [sequence][token] from full log_softmax.
std::vector<std::vector<double>> padded_token_logprobs(
    LlamaForCausalLMImpl& model, const PairBatch& b) {
  std::vector<int64_t> lengths;
  for (size_t r = 0; r < b.start.size(); ++r)
    lengths.push_back(b.start[r] + b.length[r]);
  at::Tensor logp =
      at::log_softmax(model.forward(b.ids, at::tensor(lengths)).to(at::kFloat), -1);  // [N,T,V]
  std::vector<std::vector<double>> out(b.start.size());
  for (size_t r = 0; r < b.start.size(); ++r) {
    const int64_t row = static_cast<int64_t>(r);
    for (int64_t p = b.start[r]; p < b.start[r] + b.length[r]; ++p)
      out[r].push_back(logp[row][p - 1][b.ids[row][p].item<int64_t>()].item<double>());
  }
  return out;
}

// The same from a packed layout: its predicting positions through full log_softmax.
std::vector<std::vector<double>> packed_token_logprobs(
    LlamaForCausalLMImpl& model, const PackedBatch& packed) {
  at::Tensor hidden =
      model.packed_hidden_states(packed.input_ids, packed.positions, packed.segments, packed.views);
  at::Tensor selected = hidden.reshape({-1, hidden.size(2)}).index_select(0, packed.predict);
  at::Tensor logp = at::log_softmax(model.head(selected).to(at::kFloat), -1);  // [M, V]
  at::Tensor token = logp.gather(1, packed.targets.unsqueeze(1)).squeeze(1);   // [M]
  std::vector<std::vector<double>> out(static_cast<size_t>(packed.sequences));
  for (int64_t m = 0; m < token.size(0); ++m)
    out[static_cast<size_t>(packed.sequence[m].item<int64_t>())].push_back(token[m].item<double>());
  return out;
}

TEST(PackedBatch, SharedPackedLayoutByHand) {
  // One pair: prompt [10 11 12], chosen [20 21], rejected [30]; padding 0.
  at::Tensor ids = at::tensor({10, 11, 12, 20, 21, 10, 11, 12, 30, 0}, at::kLong).view({2, 5});
  PackedBatch p = pack_sequences(ids, at::tensor({3, 3}), at::tensor({2, 1}), {true, true});
  EXPECT_TRUE(at::equal(p.input_ids, at::tensor({10, 11, 12, 20, 21, 30}, at::kLong).view({1, 6})));
  EXPECT_TRUE(at::equal(p.positions, at::tensor({0, 1, 2, 3, 4, 3}, at::kLong).view({1, 6})));
  // Attention views: the chosen sequence [prompt, chosen], the rejected one [prompt, rejected].
  EXPECT_EQ(p.views, (std::vector<std::vector<int64_t>>{{0, 1, 2, 3, 4}, {0, 1, 2, 5}}));
  EXPECT_FALSE(p.segments.defined());  // the views keep the completions apart
  // Chosen 20 from position 2, 21 from 3; rejected 30 from the last prompt position, 2.
  EXPECT_TRUE(at::equal(p.predict, at::tensor({2, 3, 2}, at::kLong)));
  EXPECT_TRUE(at::equal(p.targets, at::tensor({20, 21, 30}, at::kLong)));
  EXPECT_TRUE(at::equal(p.sequence, at::tensor({0, 0, 1}, at::kLong)));
  EXPECT_EQ(p.real_tokens, 9);
  EXPECT_EQ(p.padded_tokens, 10);
  EXPECT_EQ(p.computed_tokens, 6);
  // The same pair in padded rows: segments; rejected (segment 2) sees the prompt and itself,
  // never the chosen tokens.
  PackedBatch rows = pack_sequences(ids, at::tensor({3, 3}), at::tensor({2, 1}), {true, false});
  EXPECT_TRUE(at::equal(rows.segments, at::tensor({0, 0, 0, 1, 1, 2}, at::kLong).view({1, 6})));
  EXPECT_TRUE(at::equal(rows.positions, p.positions));
  EXPECT_TRUE(rows.views.empty());
  at::Tensor mask = segment_mask(rows.positions, rows.segments, 0)[0][0];
  EXPECT_TRUE(at::equal(mask[5], at::tensor({1, 1, 1, 0, 0, 1}).to(at::kBool)));
  EXPECT_TRUE(at::equal(mask[4], at::tensor({1, 1, 1, 1, 1, 0}).to(at::kBool)));
  // A window of 2 by position: the rejected token (position 3) sees positions 2 and 3 only.
  at::Tensor window = segment_mask(rows.positions, rows.segments, 2)[0][0];
  EXPECT_TRUE(at::equal(window[5], at::tensor({0, 0, 1, 0, 0, 1}).to(at::kBool)));
}

TEST(PackedBatch, UnsharedLayoutsByHand) {
  at::Tensor ids = at::tensor({10, 11, 20, 0, 10, 11, 30, 31}, at::kLong).view({2, 4});
  PackedBatch packed = pack_sequences(ids, at::tensor({2, 2}), at::tensor({1, 2}), {false, true});
  EXPECT_TRUE(at::equal(
      packed.input_ids, at::tensor({10, 11, 20, 10, 11, 30, 31}, at::kLong).view({1, 7})));
  EXPECT_TRUE(
      at::equal(packed.positions, at::tensor({0, 1, 2, 0, 1, 2, 3}, at::kLong).view({1, 7})));
  EXPECT_FALSE(packed.segments.defined());
  EXPECT_EQ(packed.views, (std::vector<std::vector<int64_t>>{{0, 1, 2}, {3, 4, 5, 6}}));
  EXPECT_TRUE(at::equal(packed.predict, at::tensor({1, 4, 5}, at::kLong)));
  EXPECT_EQ(packed.computed_tokens, 7);
  EXPECT_EQ(packed.padded_tokens, 8);

  // Shared but padded: one row per pair, padding in its own segment after the pair.
  // Pair 0: prompt [1], chosen [2 3], rejected [6]; pair 1: prompt [4], chosen [5], rejected [7].
  at::Tensor two = at::tensor({1, 2, 3, 4, 5, 0, 1, 6, 0, 4, 7, 0}, at::kLong).view({4, 3});
  PackedBatch shared =
      pack_sequences(two, at::tensor({1, 1, 1, 1}), at::tensor({2, 1, 1, 1}), {true, false});
  EXPECT_TRUE(
      at::equal(shared.input_ids, at::tensor({1, 2, 3, 6, 4, 5, 7, 0}, at::kLong).view({2, 4})));
  EXPECT_TRUE(
      at::equal(shared.segments, at::tensor({0, 1, 1, 2, 0, 1, 2, 3}, at::kLong).view({2, 4})));
  EXPECT_TRUE(shared.views.empty());
  // Pair 0: 2 and 3 from 0 and 1, 6 from 0; row 1 (width 4): 5 and 7 both from 4.
  EXPECT_TRUE(at::equal(shared.predict, at::tensor({0, 1, 0, 4, 4}, at::kLong)));
  EXPECT_TRUE(at::equal(shared.sequence, at::tensor({0, 0, 2, 1, 3}, at::kLong)));
}

TEST(PackedBatch, PromptsThatDifferCannotBeShared) {
  at::Tensor ids = at::tensor({10, 11, 20, 10, 12, 30}, at::kLong).view({2, 3});
  EXPECT_THROW(
      pack_sequences(ids, at::tensor({2, 2}), at::tensor({1, 1}), {true, true}), DataError);
  EXPECT_THROW(
      pack_sequences(ids, at::tensor({2, 1}), at::tensor({1, 1}), {true, false}), DataError);
  EXPECT_THROW(
      pack_sequences(ids.narrow(0, 0, 1), at::tensor({2}), at::tensor({1}), {true, true}),
      DataError);  // an odd number of rows
  EXPECT_THROW(
      pack_sequences(ids, at::tensor({0, 0}), at::tensor({1, 1}), {false, true}),
      DataError);  // no prompt
  // Unshared packing takes them.
  EXPECT_NO_THROW(pack_sequences(ids, at::tensor({2, 2}), at::tensor({1, 1}), {false, true}));
}

TEST(PackedBatch, PerTokenLogprobsEqualThePaddedForward) {
  for (const Arch& arch : architectures()) {
    LlamaForCausalLM model = model_for(arch.config);
    model->eval();
    at::NoGradGuard no_grad;
    PairBatch b = standard_pairs(arch.config.vocab_size);
    auto expected = padded_token_logprobs(*model, b);
    SequenceLogprobs padded =
        sequence_logprobs(*model, b.ids, at::tensor(b.start), at::tensor(b.length));
    for (PairLayout layout : kLayouts) {
      PackedBatch packed = pack_sequences(b.ids, at::tensor(b.start), at::tensor(b.length), layout);
      auto got = packed_token_logprobs(*model, packed);
      ASSERT_EQ(got.size(), expected.size());
      for (size_t r = 0; r < expected.size(); ++r) {
        ASSERT_EQ(got[r].size(), expected[r].size()) << arch.label << " " << name(layout);
        for (size_t k = 0; k < expected[r].size(); ++k) {
          EXPECT_NEAR(got[r][k], expected[r][k], 1e-5)
              << arch.label << " " << name(layout) << " sequence " << r << " token " << k;
        }
      }
      // The function the trainer and dpo score call: sums and counts.
      SequenceLogprobs sums =
          pair_sequence_logprobs(*model, b.ids, at::tensor(b.start), at::tensor(b.length), layout);
      EXPECT_TRUE(at::equal(sums.count, padded.count)) << arch.label << " " << name(layout);
      EXPECT_LT(max_abs_diff(sums.sum, padded.sum), 1e-4) << arch.label << " " << name(layout);
    }
  }
}

// Both backends give the same packed results (SDPA where LibTorch has it, the plain path).
TEST(PackedBatch, PlainBackendAgrees) {
  ModelConfig c = architectures()[3].config;  // a window, to exercise the block masks
  LlamaForCausalLM model = model_for(c);
  at::NoGradGuard no_grad;
  PairBatch b = standard_pairs(c.vocab_size);
  SequenceLogprobs padded =
      sequence_logprobs(*model, b.ids, at::tensor(b.start), at::tensor(b.length));
  model->set_attention_backend(AttentionBackend::plain);
  for (PairLayout layout : kLayouts) {
    SequenceLogprobs sums =
        pair_sequence_logprobs(*model, b.ids, at::tensor(b.start), at::tensor(b.length), layout);
    EXPECT_LT(max_abs_diff(sums.sum, padded.sum), 1e-4) << name(layout);
  }
}

// The gradients of a weighted sum of the sequence log-probs, parameter by parameter.
std::vector<at::Tensor> gradients(
    LlamaForCausalLMImpl& model, const PairBatch& b, PairLayout layout, const at::Tensor& weights) {
  model.zero_grad();
  SequenceLogprobs logps =
      pair_sequence_logprobs(model, b.ids, at::tensor(b.start), at::tensor(b.length), layout);
  (logps.sum * weights).sum().backward();
  std::vector<at::Tensor> out;
  for (const at::Tensor& p : model.parameters())
    out.push_back(p.grad().clone());
  return out;
}

TEST(PackedBatch, GradientsEqualThePaddedForward) {
  for (const Arch& arch : architectures()) {
    LlamaForCausalLM model = model_for(arch.config);
    model->train();
    PairBatch b = standard_pairs(arch.config.vocab_size);
    // Different weights per sequence (as the DPO loss: + chosen, - rejected).
    at::Tensor weights = at::tensor({1.0, -0.5, 0.25, 2.0, -1.0, 0.5, -2.0, 0.75}, at::kFloat);
    for (bool checkpointing : {false, true}) {
      model->set_gradient_checkpointing(checkpointing);
      const std::vector<at::Tensor> expected = gradients(*model, b, {false, false}, weights);
      const auto names = model->named_parameters().keys();
      for (PairLayout layout : kLayouts) {
        const std::vector<at::Tensor> got = gradients(*model, b, layout, weights);
        ASSERT_EQ(got.size(), expected.size());
        for (size_t i = 0; i < got.size(); ++i) {
          const double scale = expected[i].abs().max().item<double>();
          EXPECT_LE(max_abs_diff(got[i], expected[i]), 1e-5 * std::max(scale, 1.0))
              << arch.label << " " << name(layout) << " checkpointing " << checkpointing << " "
              << names[i];
        }
      }
    }
  }
}

// Length-1 prompts and completions everywhere, and a single pair.
TEST(PackedBatch, ShortestSequences) {
  ModelConfig c = architectures()[2].config;
  LlamaForCausalLM model = model_for(c);
  at::NoGradGuard no_grad;
  for (const PairBatch& b :
       {make_pairs({1, 1}, {1, 1}, {1, 1}, c.vocab_size, 3),
        make_pairs({2}, {1}, {3}, c.vocab_size, 4)}) {
    SequenceLogprobs padded =
        sequence_logprobs(*model, b.ids, at::tensor(b.start), at::tensor(b.length));
    for (PairLayout layout : kLayouts) {
      SequenceLogprobs sums =
          pair_sequence_logprobs(*model, b.ids, at::tensor(b.start), at::tensor(b.length), layout);
      EXPECT_LT(max_abs_diff(sums.sum, padded.sum), 1e-5) << name(layout);
    }
  }
}

}  // namespace
}  // namespace dpo
