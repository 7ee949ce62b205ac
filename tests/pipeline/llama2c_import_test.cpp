// llama2.c import: a checkpoint written here in llama2.c's layout gives, once imported, the
// logits of llama2.c's own forward pass (interleaved rotary pairs), written out below.
#include "pipeline/llama2c_import.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>

#include "core/error.h"
#include "model/checkpoint.h"
#include "tests/model/model_test_util.h"
#include "tests/support/test_support.h"

namespace dpo {
namespace {

using testing::TempDir;

struct Llama2cWeights {
  int32_t dim = 16, hidden = 24, layers = 2, heads = 4, kv_heads = 2, vocab = 128, seq_len = 32;
  bool shared = false;
  at::Tensor embed, rms_att, wq, wk, wv, wo, rms_ffn, w1, w2, w3, rms_final, wcls;
};

Llama2cWeights random_weights(bool shared) {
  Llama2cWeights w;
  w.shared = shared;
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(42);
  auto r = [&](std::vector<int64_t> shape, double scale) {
    return at::randn(shape, gen, at::TensorOptions()) * scale;
  };
  const int64_t kv_dim = w.kv_heads * (w.dim / w.heads);
  w.embed = r({w.vocab, w.dim}, 1.0);
  w.rms_att = 1 + r({w.layers, w.dim}, 0.1);
  w.wq = r({w.layers, w.dim, w.dim}, 0.3);
  w.wk = r({w.layers, kv_dim, w.dim}, 0.3);
  w.wv = r({w.layers, kv_dim, w.dim}, 0.3);
  w.wo = r({w.layers, w.dim, w.dim}, 0.3);
  w.rms_ffn = 1 + r({w.layers, w.dim}, 0.1);
  w.w1 = r({w.layers, w.hidden, w.dim}, 0.3);
  w.w2 = r({w.layers, w.dim, w.hidden}, 0.3);
  w.w3 = r({w.layers, w.hidden, w.dim}, 0.3);
  w.rms_final = 1 + r({w.dim}, 0.1);
  w.wcls = shared ? w.embed : r({w.vocab, w.dim}, 0.3);
  return w;
}

// export.py's legacy_export layout.
void write_llama2c(const std::string& path, const Llama2cWeights& w) {
  std::string bytes;
  int32_t header[7] = {
      w.dim, w.hidden, w.layers, w.heads, w.kv_heads, w.shared ? w.vocab : -w.vocab, w.seq_len};
  bytes.append(reinterpret_cast<const char*>(header), sizeof header);
  auto put = [&](const at::Tensor& t) {
    at::Tensor c = t.contiguous();
    bytes.append(static_cast<const char*>(c.data_ptr()), c.nbytes());
  };
  for (const at::Tensor& t :
       {w.embed, w.rms_att, w.wq, w.wk, w.wv, w.wo, w.rms_ffn, w.w1, w.w2, w.w3, w.rms_final})
    put(t);
  put(at::zeros({w.seq_len, w.dim / w.heads}));  // the two unused RoPE tables
  if (!w.shared)
    put(w.wcls);
  testing::write_file(path, bytes);
}

at::Tensor rmsnorm(const at::Tensor& x, const at::Tensor& weight) {
  return x / at::sqrt(x.pow(2).mean(-1, true) + 1e-5) * weight;
}

// run.c's forward for one sequence, in double: logits [T, vocab].
at::Tensor llama2c_forward(const Llama2cWeights& w, const std::vector<int64_t>& tokens) {
  auto d = [](const at::Tensor& t) { return t.to(at::kDouble); };
  const int64_t t_len = tokens.size(), head_size = w.dim / w.heads, group = w.heads / w.kv_heads;
  at::Tensor x = d(w.embed).index_select(0, at::tensor(tokens));  // [T, dim]
  // Interleaved rotation of pairs (2i, 2i+1) within each head.
  auto rope = [&](at::Tensor v) {  // [T, n * head_size]
    v = v.clone();
    for (int64_t p = 0; p < t_len; ++p)
      for (int64_t i = 0; i < v.size(1); i += 2) {
        double freq = 1.0 / std::pow(10000.0, double(i % head_size) / head_size), angle = p * freq;
        double v0 = v[p][i].item<double>(), v1 = v[p][i + 1].item<double>();
        v[p][i] = v0 * std::cos(angle) - v1 * std::sin(angle);
        v[p][i + 1] = v0 * std::sin(angle) + v1 * std::cos(angle);
      }
    return v;
  };
  for (int64_t l = 0; l < w.layers; ++l) {
    at::Tensor xb = rmsnorm(x, d(w.rms_att[l]));
    at::Tensor q = rope(at::matmul(xb, d(w.wq[l]).t())), k = rope(at::matmul(xb, d(w.wk[l]).t()));
    at::Tensor v = at::matmul(xb, d(w.wv[l]).t());
    at::Tensor out = at::zeros({t_len, w.dim}, at::kDouble);
    for (int64_t h = 0; h < w.heads; ++h) {
      at::Tensor qh = q.narrow(1, h * head_size, head_size);
      at::Tensor kh = k.narrow(1, (h / group) * head_size, head_size),
                 vh = v.narrow(1, (h / group) * head_size, head_size);
      at::Tensor scores = at::matmul(qh, kh.t()) / std::sqrt(double(head_size));
      scores = scores.masked_fill(at::ones({t_len, t_len}, at::kBool).triu(1), -INFINITY);
      out.narrow(1, h * head_size, head_size).copy_(at::matmul(at::softmax(scores, -1), vh));
    }
    x = x + at::matmul(out, d(w.wo[l]).t());
    xb = rmsnorm(x, d(w.rms_ffn[l]));
    at::Tensor h1 = at::matmul(xb, d(w.w1[l]).t());
    x = x + at::matmul(h1 * at::sigmoid(h1) * at::matmul(xb, d(w.w3[l]).t()), d(w.w2[l]).t());
  }
  return at::matmul(rmsnorm(x, d(w.rms_final)), d(w.wcls).t());
}

TEST(Llama2cImport, ImportedModelGivesLlama2cLogits) {
  TempDir dir;
  for (bool shared : {false, true}) {
    Llama2cWeights w = random_weights(shared);
    write_llama2c(dir.file("model.bin"), w);
    Llama2cImportOptions options;
    options.checkpoint = dir.file("model.bin");
    options.out = dir.file(shared ? "hf_shared" : "hf");
    ModelConfig config = import_llama2c(options);
    EXPECT_EQ(config.tie_word_embeddings, shared);
    EXPECT_EQ(config.max_position_embeddings, 32);

    LoadedModel loaded = load_pretrained(options.out, at::kFloat, at::kCPU);
    std::vector<int64_t> tokens = {1, 17, 5, 99, 64, 3, 127, 8};
    at::Tensor got = loaded.model->forward(at::tensor(tokens).unsqueeze(0))[0];
    EXPECT_LT(testing::max_abs_diff(got, llama2c_forward(w, tokens)), 1e-4) << "shared " << shared;
  }
}

TEST(Llama2cImport, CopiesTheTokenizerAndWritesItsConfig) {
  TempDir dir;
  Llama2cWeights w = random_weights(true);
  write_llama2c(dir.file("model.bin"), w);
  Llama2cImportOptions options;
  options.checkpoint = dir.file("model.bin");
  options.tokenizer = testing::train_tiny_sentencepiece(dir, testing::tokenizer_test_corpus(), 100);
  options.out = dir.file("hf");
  import_llama2c(options);
  EXPECT_EQ(
      testing::read_file(dir.file("hf/tokenizer.model")), testing::read_file(options.tokenizer));
  EXPECT_NE(
      testing::read_file(dir.file("hf/tokenizer_config.json")).find("LlamaTokenizer"),
      std::string::npos);
  EXPECT_TRUE(std::filesystem::exists(dir.file("hf/special_tokens_map.json")));

  // A tokenizer larger than the model's vocabulary does not belong to it.
  w = random_weights(true);
  w.vocab = 64;
  w.embed = w.embed.narrow(0, 0, 64);
  w.wcls = w.embed;
  write_llama2c(dir.file("small.bin"), w);
  options.checkpoint = dir.file("small.bin");
  options.out = dir.file("hf_small");
  EXPECT_THROW(import_llama2c(options), ConfigError);
}

TEST(Llama2cImport, RejectsMalformedCheckpoints) {
  TempDir dir;
  write_llama2c(dir.file("model.bin"), random_weights(false));
  const std::string good = testing::read_file(dir.file("model.bin"));
  Llama2cImportOptions options;
  options.checkpoint = dir.file("bad.bin");
  options.out = dir.file("out");
  auto expect_error = [&](const std::string& bytes, const std::string& fragment) {
    testing::write_file(options.checkpoint, bytes);
    try {
      import_llama2c(options);
      ADD_FAILURE() << "imported a bad checkpoint; expected: " << fragment;
    } catch (const CheckpointError& e) {
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
  };
  expect_error(good.substr(0, good.size() - 4), "needs");  // truncated
  expect_error(good + "xxxx", "needs");                    // trailing bytes
  expect_error(good.substr(0, 10), "too short");
  expect_error(std::string("24ka") + good.substr(4), "version 1 or 2");  // magic 0x616b3432
  std::string bad_heads = good;
  int32_t three = 3;
  std::memcpy(&bad_heads[12], &three, 4);  // n_heads = 3 does not divide dim 16
  expect_error(bad_heads, "inconsistent");
  // Headers whose sizes multiply past 2^63 bytes: computed without wrapping around, so they
  // can never match the file's size, and refused before anything is allocated.
  auto header = [](std::vector<int32_t> values) {
    return std::string(reinterpret_cast<const char*>(values.data()), values.size() * 4);
  };
  const int32_t big = 1 << 20;
  expect_error(header({big, big, big, 1024, 1024, big, big}) + "xxxx", "needs more than 2^63");
  expect_error(header({big, big, big, 1024, 1024, -big, big}) + "xxxx", "needs more than 2^63");
  expect_error(header({16, 24, big, 4, 2, 128, 32}) + good.substr(28), "needs");
  expect_error(header({16, 24, 2, 4, 2, big + 1, 32}) + good.substr(28), "inconsistent");
  expect_error(header({-16, 24, 2, 4, 2, 128, 32}) + good.substr(28), "inconsistent");
  expect_error(header({16, 24, 2, 4, 0, 128, 32}) + good.substr(28), "inconsistent");
  EXPECT_FALSE(std::filesystem::exists(options.out));
}

// A checkpoint of consistent size whose sizes are above the model limits (here 2000 layers of
// a tiny model) is refused by the config check naming the key, before the model is built.
TEST(Llama2cImport, SizesAboveTheModelLimitsAreRefused) {
  TempDir dir;
  const int64_t layers = 2000, dim = 2, hidden = 2, vocab = 4, seq_len = 1;
  std::string bytes;
  int32_t header[7] = {dim, hidden, layers, 1, 1, vocab, seq_len};
  bytes.append(reinterpret_cast<const char*>(header), sizeof header);
  const int64_t floats =
      vocab * dim + layers * (2 * dim + 4 * dim * dim + 3 * dim * hidden) + dim + seq_len * dim;
  bytes.append(static_cast<size_t>(floats) * 4, '\0');
  testing::write_file(dir.file("deep.bin"), bytes);
  Llama2cImportOptions options;
  options.checkpoint = dir.file("deep.bin");
  options.out = dir.file("out");
  try {
    import_llama2c(options);
    ADD_FAILURE() << "imported 2000 layers";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("'num_hidden_layers' = 2000"), std::string::npos)
        << e.what();
  }
  EXPECT_FALSE(std::filesystem::exists(options.out));
}

}  // namespace
}  // namespace dpo
