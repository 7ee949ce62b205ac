// The decoder's blocks against straightforward references written here (loops in double
// precision), grouped-query attention, padding, and the module's Hugging Face names.
#include "model/llama.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/error.h"
#include "tests/model/model_test_util.h"

namespace dpo {
namespace {

using testing::make_test_model;
using testing::max_abs_diff;
using testing::random_ids;
using testing::test_config;

at::Tensor randn(at::IntArrayRef shape, uint64_t seed) {
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  return at::randn(shape, gen, at::TensorOptions().dtype(at::kFloat));
}

// ---- References ----

// RMSNorm of each row of x [R, H].
at::Tensor reference_rmsnorm(const at::Tensor& x, const at::Tensor& weight, double eps) {
  at::Tensor out = at::empty_like(x, at::kDouble);
  auto xa = x.to(at::kDouble).contiguous();
  for (int64_t r = 0; r < x.size(0); ++r) {
    double sum = 0;
    for (int64_t i = 0; i < x.size(1); ++i)
      sum += std::pow(xa[r][i].item<double>(), 2);
    double scale = 1.0 / std::sqrt(sum / x.size(1) + eps);
    for (int64_t i = 0; i < x.size(1); ++i) {
      out[r][i] = xa[r][i].item<double>() * scale * weight[i].item<double>();
    }
  }
  return out;
}

// Rotate-half RoPE, position p and pair i rotated by angle p * inv_freq[i], for x [N, H, T, D].
at::Tensor reference_rope(const at::Tensor& x, const std::vector<double>& inv_freq) {
  const int64_t d = x.size(3), half = d / 2;
  at::Tensor out = at::empty_like(x, at::kDouble);
  auto a = x.to(at::kDouble).contiguous();
  auto xa = a.accessor<double, 4>();
  auto oa = out.accessor<double, 4>();
  for (int64_t n = 0; n < x.size(0); ++n)
    for (int64_t h = 0; h < x.size(1); ++h)
      for (int64_t t = 0; t < x.size(2); ++t)
        for (int64_t i = 0; i < half; ++i) {
          double angle = t * inv_freq[i], c = std::cos(angle), s = std::sin(angle);
          oa[n][h][t][i] = xa[n][h][t][i] * c - xa[n][h][t][i + half] * s;
          oa[n][h][t][i + half] = xa[n][h][t][i + half] * c + xa[n][h][t][i] * s;
        }
  return out;
}

std::vector<double> default_inv_freq(int64_t d, double theta) {
  std::vector<double> out;
  for (int64_t i = 0; i < d / 2; ++i)
    out.push_back(std::pow(theta, -2.0 * i / d));
  return out;
}

// Attention with loops: query i of row n sees keys j <= i with j < lengths[n] (or j == i),
// and with a window > 0 only those with i - j < window; query head h uses key/value head
// h / (H / KV).
at::Tensor reference_attention(
    const at::Tensor& q,
    const at::Tensor& k,
    const at::Tensor& v,
    const std::vector<int64_t>& lengths,
    int64_t window = 0) {
  const int64_t n_rows = q.size(0), heads = q.size(1), t = q.size(2), d = q.size(3);
  const int64_t group = heads / k.size(1);
  auto qd = q.to(at::kDouble).contiguous(), kd = k.to(at::kDouble).contiguous(),
       vd = v.to(at::kDouble).contiguous();
  auto qa = qd.accessor<double, 4>(), ka = kd.accessor<double, 4>(), va = vd.accessor<double, 4>();
  at::Tensor out = at::zeros(q.sizes(), at::kDouble);
  auto oa = out.accessor<double, 4>();
  for (int64_t n = 0; n < n_rows; ++n)
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t i = 0; i < t; ++i) {
        std::vector<double> scores;
        std::vector<int64_t> keys;
        for (int64_t j = 0; j <= i; ++j) {
          if ((j >= lengths[n] && j != i) || (window > 0 && i - j >= window))
            continue;
          double s = 0;
          for (int64_t e = 0; e < d; ++e)
            s += qa[n][h][i][e] * ka[n][h / group][j][e];
          scores.push_back(s / std::sqrt(double(d)));
          keys.push_back(j);
        }
        double top = *std::max_element(scores.begin(), scores.end()), total = 0;
        for (double& s : scores)
          total += (s = std::exp(s - top));
        for (size_t m = 0; m < keys.size(); ++m)
          for (int64_t e = 0; e < d; ++e)
            oa[n][h][i][e] += scores[m] / total * va[n][h / group][keys[m]][e];
      }
  return out;
}

// ---- Tests ----

TEST(Llama, RMSNormMatchesReference) {
  RMSNorm norm(16, 1e-5, at::TensorOptions());
  {
    at::NoGradGuard no_grad;
    norm->weight.copy_(randn({16}, 1));
  }
  at::Tensor x = randn({5, 16}, 2) * 3;
  EXPECT_LT(
      max_abs_diff(norm->forward(x), reference_rmsnorm(x, norm->weight.detach(), 1e-5)), 1e-5);
}

TEST(Llama, RMSNormNormalisesInFp32AndCastsBack) {
  RMSNorm norm(8, 1e-6, at::TensorOptions().dtype(at::kBFloat16));
  at::Tensor x = (randn({3, 8}, 4) * 100).to(at::kBFloat16);
  at::Tensor y = norm->forward(x);
  EXPECT_EQ(y.scalar_type(), at::kBFloat16);
  at::Tensor expected = reference_rmsnorm(x.to(at::kFloat), at::ones({8}), 1e-6).to(at::kBFloat16);
  // One bf16 rounding step apart at most (values are about 1, bf16 steps 2^-7 there).
  EXPECT_LT(max_abs_diff(y, expected), 2.0 / 128);
}

TEST(Llama, RotaryEmbeddingMatchesReference) {
  ModelConfig c = test_config();
  c.rope_theta = 500.0;
  at::Tensor x = randn({2, 3, 7, c.head_dim}, 5);
  auto [cos, sin] = rope_cos_sin(c, 7, at::kCPU);
  EXPECT_EQ(cos.sizes(), (std::vector<int64_t>{7, c.head_dim}));
  at::Tensor got = apply_rotary(x, cos, sin);
  EXPECT_LT(max_abs_diff(got, reference_rope(x, default_inv_freq(c.head_dim, 500.0))), 1e-5);

  // Linear scaling divides every frequency by the factor.
  c.rope_scaling.type = "linear";
  c.rope_scaling.factor = 4.0;
  std::vector<double> scaled = default_inv_freq(c.head_dim, 500.0);
  for (double& f : scaled)
    f /= 4.0;
  auto [cos4, sin4] = rope_cos_sin(c, 7, at::kCPU);
  EXPECT_LT(max_abs_diff(apply_rotary(x, cos4, sin4), reference_rope(x, scaled)), 1e-5);
}

TEST(Llama, Llama3RopeScalingMatchesMetasFormula) {
  ModelConfig c = test_config();
  c.head_dim = 128;
  c.hidden_size = 512;
  c.rope_theta = 500000.0;
  c.rope_scaling = {"llama3", 8.0, 1.0, 4.0, 8192};
  at::Tensor got = rope_inv_freq(c);
  // Meta's apply_scaling (llama3 reference code), written out per frequency.
  const double low_wavelen = 8192 / 1.0, high_wavelen = 8192 / 4.0;
  int kept = 0, divided = 0, smoothed = 0;
  for (int64_t i = 0; i < 64; ++i) {
    double freq = std::pow(500000.0, -2.0 * i / 128), wavelen = 2 * M_PI / freq, expected;
    if (wavelen < high_wavelen) {
      expected = freq, ++kept;
    } else if (wavelen > low_wavelen) {
      expected = freq / 8.0, ++divided;
    } else {
      double smooth = (8192 / wavelen - 1.0) / (4.0 - 1.0);
      expected = (1 - smooth) * freq / 8.0 + smooth * freq, ++smoothed;
    }
    EXPECT_NEAR(got[i].item<double>() / expected, 1.0, 1e-5) << "frequency " << i;
  }
  EXPECT_GT(kept, 0);
  EXPECT_GT(divided, 0);
  EXPECT_GT(smoothed, 0);
}

TEST(Llama, PaddedCausalMask) {
  at::Tensor mask = padded_causal_mask(at::tensor({3, 1}), 4);
  ASSERT_EQ(mask.sizes(), (std::vector<int64_t>{2, 1, 4, 4}));
  // Row 0: 3 real tokens. Query 3 (padding) sees the real keys and itself.
  EXPECT_TRUE(at::equal(
      mask[0][0],
      at::tensor({1, 0, 0, 0, 1, 1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 1}).view({4, 4}).to(at::kBool)));
  EXPECT_TRUE(at::equal(
      mask[1][0],
      at::tensor({1, 0, 0, 0, 1, 1, 0, 0, 1, 0, 1, 0, 1, 0, 0, 1}).view({4, 4}).to(at::kBool)));
}

TEST(Llama, AttentionMaskAddsTheSlidingWindow) {
  // Nothing to mask beyond causality: undefined, so attention takes its causal path.
  EXPECT_FALSE(attention_mask(at::Tensor(), 5, 0, at::kCPU).defined());
  EXPECT_FALSE(attention_mask(at::Tensor(), 5, 5, at::kCPU).defined());
  EXPECT_FALSE(attention_mask(at::Tensor(), 5, 9, at::kCPU).defined());
  // Padding only: padded_causal_mask.
  at::Tensor lengths = at::tensor({3, 1});
  EXPECT_TRUE(at::equal(attention_mask(lengths, 4, 0, at::kCPU), padded_causal_mask(lengths, 4)));
  // Window 2: query i sees keys i-1 and i (transformers' kv_idx > q_idx - sliding_window).
  at::Tensor window = attention_mask(at::Tensor(), 4, 2, at::kCPU);
  EXPECT_TRUE(at::equal(
      window[0][0],
      at::tensor({1, 0, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 1, 1}).view({4, 4}).to(at::kBool)));
  // Window 2 and padding: row 1 has one real token; padded queries still see themselves.
  at::Tensor both = attention_mask(lengths, 4, 2, at::kCPU);
  ASSERT_EQ(both.sizes(), (std::vector<int64_t>{2, 1, 4, 4}));
  EXPECT_TRUE(at::equal(
      both[1][0],
      at::tensor({1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1}).view({4, 4}).to(at::kBool)));
}

TEST(Llama, SlidingWindowAttentionMatchesReference) {
  at::Tensor q = randn({2, 4, 7, 8}, 30), k = randn({2, 2, 7, 8}, 31), v = randn({2, 2, 7, 8}, 32);
  for (int64_t window : {1, 3, 6}) {
    for (AttentionBackend backend : {AttentionBackend::automatic, AttentionBackend::plain}) {
      at::Tensor full =
          causal_attention(q, k, v, attention_mask(at::Tensor(), 7, window, at::kCPU), backend);
      EXPECT_LT(max_abs_diff(full, reference_attention(q, k, v, {7, 7}, window)), 1e-5) << window;
      at::Tensor padded = causal_attention(
          q, k, v, attention_mask(at::tensor({5, 7}), 7, window, at::kCPU), backend);
      EXPECT_LT(max_abs_diff(padded, reference_attention(q, k, v, {5, 7}, window)), 1e-5) << window;
    }
  }
}

class AttentionHeads : public ::testing::TestWithParam<std::pair<int64_t, int64_t>> {};

TEST_P(AttentionHeads, MatchesReferenceWithAndWithoutPadding) {
  const auto [heads, kv_heads] = GetParam();
  at::Tensor q = randn({2, heads, 6, 8}, 10), k = randn({2, kv_heads, 6, 8}, 11),
             v = randn({2, kv_heads, 6, 8}, 12);
  for (AttentionBackend backend : {AttentionBackend::automatic, AttentionBackend::plain}) {
    at::Tensor full = causal_attention(q, k, v, at::Tensor(), backend);
    EXPECT_LT(max_abs_diff(full, reference_attention(q, k, v, {6, 6})), 1e-5);
    at::Tensor mask = padded_causal_mask(at::tensor({4, 6}), 6);
    at::Tensor padded = causal_attention(q, k, v, mask, backend);
    EXPECT_LT(max_abs_diff(padded, reference_attention(q, k, v, {4, 6})), 1e-5);
  }
}

INSTANTIATE_TEST_SUITE_P(
    HeadRatios,
    AttentionHeads,
    ::testing::Values(
        std::make_pair(4, 4),
        std::make_pair(4, 2),
        std::make_pair(4, 1),
        std::make_pair(6, 2),
        std::make_pair(8, 2)));

TEST(Llama, DecoderLayerMatchesComposedReference) {
  ModelConfig c = test_config(4, 2);
  LlamaForCausalLM model = make_test_model(c);
  auto* layer = model->model->layers[0]->as<LlamaDecoderLayerImpl>();
  at::Tensor x = randn({2, 5, c.hidden_size}, 20);
  auto [cos, sin] = rope_cos_sin(c, 5, at::kCPU);
  at::Tensor got = layer->forward(x, cos, sin, at::Tensor(), AttentionBackend::automatic);

  // The same layer written out with the references above.
  at::NoGradGuard no_grad;
  auto attn = layer->self_attn;
  at::Tensor h =
      reference_rmsnorm(x.view({10, c.hidden_size}), layer->input_layernorm->weight, c.rms_norm_eps)
          .to(at::kFloat)
          .view({2, 5, c.hidden_size});
  auto heads = [&](const at::Tensor& w, int64_t n) {
    return at::matmul(h, w.t()).view({2, 5, n, c.head_dim}).transpose(1, 2);
  };
  std::vector<double> freq = default_inv_freq(c.head_dim, c.rope_theta);
  at::Tensor q = reference_rope(heads(attn->q_proj->weight, 4), freq).to(at::kFloat);
  at::Tensor k = reference_rope(heads(attn->k_proj->weight, 2), freq).to(at::kFloat);
  at::Tensor v = heads(attn->v_proj->weight, 2);
  at::Tensor a =
      reference_attention(q, k, v, {5, 5}).to(at::kFloat).transpose(1, 2).reshape({2, 5, 32});
  at::Tensor x2 = x + at::matmul(a, attn->o_proj->weight.t());
  at::Tensor h2 =
      reference_rmsnorm(x2.view({10, 32}), layer->post_attention_layernorm->weight, c.rms_norm_eps)
          .to(at::kFloat)
          .view({2, 5, 32});
  auto mlp = layer->mlp;
  at::Tensor gate = at::matmul(h2, mlp->gate_proj->weight.t()),
             up = at::matmul(h2, mlp->up_proj->weight.t());
  at::Tensor expected = x2 + at::matmul(gate * at::sigmoid(gate) * up, mlp->down_proj->weight.t());
  EXPECT_LT(max_abs_diff(got, expected), 1e-5);
}

TEST(Llama, ParameterNamesAreHuggingFaceNames) {
  ModelConfig c = test_config();
  c.num_hidden_layers = 1;
  LlamaForCausalLM model(c, at::TensorOptions());
  std::vector<std::string> names;
  for (const auto& item : model->named_parameters())
    names.push_back(item.key());
  EXPECT_EQ(
      names,
      (std::vector<std::string>{
          "model.embed_tokens.weight",
          "model.layers.0.self_attn.q_proj.weight",
          "model.layers.0.self_attn.k_proj.weight",
          "model.layers.0.self_attn.v_proj.weight",
          "model.layers.0.self_attn.o_proj.weight",
          "model.layers.0.mlp.gate_proj.weight",
          "model.layers.0.mlp.up_proj.weight",
          "model.layers.0.mlp.down_proj.weight",
          "model.layers.0.input_layernorm.weight",
          "model.layers.0.post_attention_layernorm.weight",
          "model.norm.weight",
          "lm_head.weight"}));
  // Qwen2: q/k/v biases; tied embeddings: no lm_head.
  c.architecture = "Qwen2ForCausalLM";
  c.tie_word_embeddings = true;
  LlamaForCausalLM qwen(c, at::TensorOptions());
  auto params = qwen->named_parameters();
  EXPECT_NE(params.find("model.layers.0.self_attn.q_proj.bias"), nullptr);
  EXPECT_NE(params.find("model.layers.0.self_attn.v_proj.bias"), nullptr);
  EXPECT_EQ(params.find("model.layers.0.self_attn.o_proj.bias"), nullptr);
  EXPECT_EQ(params.find("lm_head.weight"), nullptr);
  EXPECT_EQ(params.size(), static_cast<size_t>(14));
  int64_t count = 0;
  for (const auto& item : params)
    count += item.value().numel();
  EXPECT_EQ(count, c.num_parameters());
}

TEST(Llama, RightPaddingDoesNotChangeRealTokens) {
  for (auto [heads, kv] : {std::make_pair(4, 4), std::make_pair(4, 2), std::make_pair(4, 1)}) {
    ModelConfig c = test_config(heads, kv);
    LlamaForCausalLM model = make_test_model(c);
    at::Tensor ids = random_ids(3, 9, c.vocab_size);
    std::vector<int64_t> lengths = {9, 4, 6};
    at::Tensor batch = model->forward(ids, at::tensor(lengths));
    for (int64_t r = 0; r < 3; ++r) {
      at::Tensor alone = model->forward(ids[r].narrow(0, 0, lengths[r]).unsqueeze(0));
      EXPECT_LT(max_abs_diff(batch[r].narrow(0, 0, lengths[r]), alone[0]), 1e-5) << "row " << r;
    }
  }
}

TEST(Llama, BackendsAgreeOnTheWholeModel) {
  ModelConfig c = test_config(4, 2, true);
  LlamaForCausalLM model = make_test_model(c);
  at::Tensor ids = random_ids(2, 7, c.vocab_size);
  at::Tensor lengths = at::tensor({7, 3});
  at::Tensor automatic = model->forward(ids, lengths);
  model->set_attention_backend(AttentionBackend::plain);
  EXPECT_LT(max_abs_diff(automatic, model->forward(ids, lengths)), 1e-5);
}

TEST(Llama, Bf16ModelIsCloseToFp32) {
  ModelConfig c = test_config();
  LlamaForCausalLM fp32 = make_test_model(c, 9);
  LlamaForCausalLM bf16 = make_test_model(c, 9, at::kBFloat16);
  at::Tensor ids = random_ids(2, 6, c.vocab_size);
  at::Tensor a = fp32->forward(ids), b = bf16->forward(ids);
  EXPECT_EQ(b.scalar_type(), at::kBFloat16);
  EXPECT_LT(max_abs_diff(a, b), 0.1);
}

TEST(Llama, RejectsTokenIdsOutsideTheVocabulary) {
  ModelConfig c = test_config();
  LlamaForCausalLM model = make_test_model(c);
  EXPECT_THROW(
      model->forward(at::tensor(std::vector<int64_t>{1, 2, c.vocab_size}).view({1, 3})), DataError);
  EXPECT_THROW(model->forward(at::tensor({-1, 2}).view({1, 2})), DataError);
}

// With one layer and a window of w, position i's output depends only on tokens i-w+1..i, and
// RoPE only on their distances: it equals the last output of the model run on those w tokens.
TEST(Llama, MistralSlidingWindowSeesOnlyTheLastWindowTokens) {
  ModelConfig c = test_config();
  c.architecture = "MistralForCausalLM";
  c.num_hidden_layers = 1;
  c.sliding_window = 4;
  LlamaForCausalLM model = make_test_model(c);
  at::Tensor ids = random_ids(2, 10, c.vocab_size);
  at::Tensor out = model->forward(ids, at::tensor({10, 7}));
  for (int64_t r = 0; r < 2; ++r) {
    for (int64_t i = 3; i < (r == 0 ? 10 : 7); ++i) {
      at::Tensor alone = model->forward(ids[r].narrow(0, i - 3, 4).unsqueeze(0));
      EXPECT_LT(max_abs_diff(out[r][i], alone[0][3]), 1e-4) << "row " << r << " position " << i;
    }
  }
  // The same weights without the window see further back.
  ModelConfig full = c;
  full.sliding_window.reset();
  LlamaForCausalLM unwindowed = make_test_model(full);
  EXPECT_LT(
      max_abs_diff(out[0].narrow(0, 0, 4), unwindowed->forward(ids)[0].narrow(0, 0, 4)), 1e-5);
  EXPECT_GT(max_abs_diff(out[0][9], unwindowed->forward(ids)[0][9]), 1e-3);
}

// Qwen2/Qwen3: the window applies to the layers layer_types names, and only to those.
TEST(Llama, QwenSlidingLayersFollowLayerTypes) {
  ModelConfig c = test_config();
  c.architecture = "Qwen3ForCausalLM";
  c.sliding_window = 2;
  at::Tensor ids = random_ids(1, 8, c.vocab_size);
  ModelConfig none = c;  // a window, but no layer slides
  none.layer_types.clear();
  ModelConfig first = c;
  first.layer_types = {"sliding_attention", "full_attention"};
  ModelConfig second = c;
  second.layer_types = {"full_attention", "sliding_attention"};
  ModelConfig unwindowed = c;
  unwindowed.sliding_window.reset();
  at::Tensor base = make_test_model(unwindowed)->forward(ids);
  EXPECT_LT(max_abs_diff(make_test_model(none)->forward(ids), base), 1e-6);
  at::Tensor a = make_test_model(first)->forward(ids), b = make_test_model(second)->forward(ids);
  EXPECT_GT(max_abs_diff(a, base), 1e-3);
  EXPECT_GT(max_abs_diff(b, base), 1e-3);
  EXPECT_GT(max_abs_diff(a, b), 1e-3);
  // Positions inside the window are the same either way.
  EXPECT_LT(max_abs_diff(a[0].narrow(0, 0, 2), base[0].narrow(0, 0, 2)), 1e-5);
}

// Qwen3's attention written out: q/k projections, RMSNorm over each head's head_dim (its own
// weights), then RoPE; head_dim 16 while hidden / heads is 8.
TEST(Llama, Qwen3NormalisesEachQueryAndKeyHeadBeforeRope) {
  ModelConfig c = test_config(4, 2);
  c.architecture = "Qwen3ForCausalLM";
  c.head_dim = 16;
  LlamaForCausalLM model = make_test_model(c);
  auto attn = model->model->layers[0]->as<LlamaDecoderLayerImpl>()->self_attn;
  ASSERT_TRUE(attn->q_norm && attn->k_norm);
  {
    at::NoGradGuard no_grad;  // norm weights other than 1, different for q and k
    attn->q_norm->weight.copy_(1 + 0.3 * randn({16}, 40));
    attn->k_norm->weight.copy_(1 + 0.3 * randn({16}, 41));
  }
  at::Tensor x = randn({2, 5, c.hidden_size}, 42);
  auto [cos, sin] = rope_cos_sin(c, 5, at::kCPU);
  at::Tensor got = attn->forward(x, cos, sin, at::Tensor(), AttentionBackend::automatic);

  at::NoGradGuard no_grad;
  auto heads = [&](const at::Tensor& w, int64_t n, const at::Tensor& norm) {
    at::Tensor h = at::matmul(x, w.t()).reshape({2 * 5 * n, 16});
    if (norm.defined())
      h = reference_rmsnorm(h, norm, c.rms_norm_eps).to(at::kFloat);
    return h.view({2, 5, n, 16}).transpose(1, 2);
  };
  std::vector<double> freq = default_inv_freq(16, c.rope_theta);
  at::Tensor q = reference_rope(heads(attn->q_proj->weight, 4, attn->q_norm->weight), freq);
  at::Tensor k = reference_rope(heads(attn->k_proj->weight, 2, attn->k_norm->weight), freq);
  at::Tensor v = heads(attn->v_proj->weight, 2, at::Tensor());
  at::Tensor a = reference_attention(q.to(at::kFloat), k.to(at::kFloat), v, {5, 5})
                     .to(at::kFloat)
                     .transpose(1, 2)
                     .reshape({2, 5, 64});
  EXPECT_LT(max_abs_diff(got, at::matmul(a, attn->o_proj->weight.t())), 1e-5);
}

TEST(Llama, Qwen3ParametersTiedAndUntiedWithAndWithoutBias) {
  ModelConfig c = test_config(4, 2);
  c.architecture = "Qwen3ForCausalLM";
  c.num_hidden_layers = 1;
  c.head_dim = 16;
  for (bool tie : {false, true}) {
    for (bool bias : {false, true}) {
      c.tie_word_embeddings = tie;
      c.attention_bias = bias;
      LlamaForCausalLM model(c, at::TensorOptions());
      auto params = model->named_parameters();
      ASSERT_NE(params.find("model.layers.0.self_attn.q_norm.weight"), nullptr);
      EXPECT_EQ(
          params["model.layers.0.self_attn.q_norm.weight"].sizes().vec(),
          (std::vector<int64_t>{16}));
      EXPECT_EQ(
          params["model.layers.0.self_attn.k_norm.weight"].sizes().vec(),
          (std::vector<int64_t>{16}));
      EXPECT_EQ(
          params["model.layers.0.self_attn.q_proj.weight"].sizes().vec(),
          (std::vector<int64_t>{64, 32}));
      EXPECT_EQ(
          params["model.layers.0.self_attn.k_proj.weight"].sizes().vec(),
          (std::vector<int64_t>{32, 32}));
      EXPECT_EQ(
          params["model.layers.0.self_attn.o_proj.weight"].sizes().vec(),
          (std::vector<int64_t>{32, 64}));
      // attention_bias puts a bias on q, k, v and o (Qwen3Attention), none otherwise.
      for (const char* proj : {"q_proj", "k_proj", "v_proj", "o_proj"}) {
        EXPECT_EQ(
            params.find(std::string("model.layers.0.self_attn.") + proj + ".bias") != nullptr, bias)
            << proj;
      }
      EXPECT_EQ(params.find("lm_head.weight") == nullptr, tie);
      int64_t count = 0;
      for (const auto& item : params)
        count += item.value().numel();
      EXPECT_EQ(count, c.num_parameters());
    }
  }
}

TEST(Llama, GradientCheckpointingGivesTheSameGradients) {
  ModelConfig c = test_config();
  at::Tensor ids = random_ids(2, 6, c.vocab_size);
  std::vector<at::Tensor> grads[2];
  for (int checkpointing = 0; checkpointing < 2; ++checkpointing) {
    LlamaForCausalLM model = make_test_model(c, 11);
    model->set_gradient_checkpointing(checkpointing == 1);
    model->forward(ids, at::tensor({6, 4})).pow(2).mean().backward();
    for (const auto& p : model->parameters())
      grads[checkpointing].push_back(p.grad().clone());
  }
  ASSERT_EQ(grads[0].size(), grads[1].size());
  for (size_t i = 0; i < grads[0].size(); ++i)
    EXPECT_LT(max_abs_diff(grads[0][i], grads[1][i]), 1e-6) << i;
}

}  // namespace
}  // namespace dpo
