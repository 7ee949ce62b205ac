// The Llama-family decoder (LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM,
// Qwen3ForCausalLM) as a LibTorch module whose parameter names equal the Hugging Face names one to
// one (model.embed_tokens.weight, model.layers.N.self_attn.q_proj.weight, ..., model.norm.weight,
// lm_head.weight), so checkpoints load without a name map.
//
// Computation follows transformers: RMSNorm in fp32 and cast back, rotary embeddings in the
// rotate-half layout with cos/sin computed in fp32 (rope_scaling linear and llama3),
// grouped-query attention (Qwen3: RMSNorm over each query and key head before RoPE), causal or
// sliding-window masks per layer as config.json says, SwiGLU MLP. Sequences are right-padded:
// row r holds lengths[r] real tokens at positions 0..lengths[r]-1, and no real token attends to
// padding.
//
// Attention: at::scaled_dot_product_attention on LibTorch >= 2 (model/torch_compat.h), a plain
// implementation (matmul, mask, softmax in fp32, as transformers' eager path) on 1.13 or when
// asked for. Parameters are created on the device and dtype given; CPU and CUDA run the same
// code. Weights are uninitialised after construction: load a checkpoint (model/checkpoint.h)
// or call init_random_weights.
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/pimpl.h>

#include <map>
#include <memory>
#include <utility>
#include <vector>

#include "model/model_config.h"

namespace dpo {

struct LoraAdapter;     // model/lora.h
struct LoraWeightCopy;  // model/lora.h

enum class AttentionBackend {
  automatic,  // scaled_dot_product_attention where LibTorch has it, else plain
  plain,      // matmul + mask + fp32 softmax (transformers' eager attention)
};

// ---- Building blocks, exposed for tests --------------------------------------------------

// Rotary inverse frequencies [head_dim / 2] fp32, rope_scaling applied as transformers does
// (_compute_default_rope_parameters, _compute_linear_scaling_rope_parameters,
// _compute_llama3_parameters).
at::Tensor rope_inv_freq(const ModelConfig& config);
// cos and sin [T, head_dim] fp32 for positions 0..T-1 (frequencies repeated twice, HF layout).
std::pair<at::Tensor, at::Tensor> rope_cos_sin(
    const ModelConfig& config, int64_t length, at::Device device);
// x * cos + rotate_half(x) * sin for x [N, heads, T, head_dim]; cos/sin cast to x's dtype.
at::Tensor apply_rotary(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin);
// Boolean mask [N, 1, T, T], true where query i may attend key j: j <= i and j < lengths[n]
// (a padded query attends at least to itself, so no row is empty).
at::Tensor padded_causal_mask(const at::Tensor& lengths, int64_t length);
// The mask of one layer's attention for `length` positions: padded_causal_mask, further limited
// to i - j < window when window > 0 (transformers' sliding_window_overlay). `lengths` [N] may be
// undefined (no row padded). Undefined when the plain causal mask is meant (no padding and no
// window shorter than the sequence), so attention can use its causal fast path; else
// [N or 1, 1, T, T] bool on `device`.
at::Tensor attention_mask(
    const at::Tensor& lengths, int64_t length, int64_t window, at::Device device);
// The mask of one layer's attention over a row (or block) laid out with explicit positions and
// segments: query i may attend key j when j <= i, segment[j] is 0 (a shared prompt) or equal to
// segment[i], and, with window > 0, positions[i] - positions[j] < window. positions [R, T]
// int64, segments [R, T] int64 or undefined (all 0). Undefined when this is plain causal
// attention (no segments, no window shorter than the row); else [R, 1, T, T] bool.
at::Tensor segment_mask(const at::Tensor& positions, const at::Tensor& segments, int64_t window);

// What one layer's attention sees. Dense (blocks == 0): every row attends within itself under
// `mask` (undefined: plain causal). Views (one packed row of T tokens): attention runs over
// `blocks` views of the row, each a sequence of packed positions attended causally in its own
// order (a sequence, or a shared prompt followed by one of its completions: two views may read
// the same prompt positions). Attention gathers the views into a batch
// [blocks, heads, longest, D] (gather: the packed position each slot reads, view b's slots
// b * longest ..., the slots after its end reading its first position), attends there under
// `mask` ([blocks, 1, longest, longest] or undefined: plain causal; padding slots come after a
// view's tokens, so causality alone keeps them unseen) and scatters back (scatter [T]: the slot
// whose output each packed position takes, its first view's). One batched call instead of one
// per view; the linear layers see each token once and no padding, the attention costs what the
// unshared sequences' would (up to the longest view of the row).
struct AttentionBlocks {
  AttentionBlocks() = default;
  AttentionBlocks(at::Tensor dense_mask) : mask(std::move(dense_mask)) {}  // NOLINT: implicit
  at::Tensor mask;
  at::Tensor gather;   // [blocks * longest] int64, blocks only
  at::Tensor scatter;  // [T] int64, blocks only
  int64_t blocks = 0;
  int64_t longest = 0;
};

// Causal attention. q [N, H, T, D], k and v [N, KV, T, D] with H a multiple of KV (each group
// of H/KV query heads shares a key/value head). `mask` from attention_mask (or
// padded_causal_mask), or undefined for plain causal attention. Returns [N, H, T, D].
at::Tensor causal_attention(
    const at::Tensor& q,
    const at::Tensor& k,
    const at::Tensor& v,
    const at::Tensor& mask,
    AttentionBackend backend = AttentionBackend::automatic);
// causal_attention within each block of `blocks` (or densely when it has none); same shapes.
at::Tensor blocked_attention(
    const at::Tensor& q,
    const at::Tensor& k,
    const at::Tensor& v,
    const AttentionBlocks& blocks,
    AttentionBackend backend = AttentionBackend::automatic);

// ---- Modules ---------------------------------------------------------------------------------

// y = x W^T (+ b); weight [out, in]. Created uninitialised (no kaiming init to throw away).
// With a LoRA adapter attached (model/lora.h), y + dropout(x) A^T B^T * scaling; with a trained
// copy (PEFT's modules_to_save), the copy's weight instead of `weight`. Neither is a registered
// parameter, so checkpoint IO and the content hash see the base alone.
class LinearImpl : public torch::nn::Module {
 public:
  LinearImpl(
      int64_t in_features, int64_t out_features, bool bias, const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& x);
  // `weight`, or the trained copy's while it is in use.
  at::Tensor effective_weight() const;
  at::Tensor weight;
  at::Tensor bias;  // undefined without bias
  std::shared_ptr<LoraAdapter> lora;
  std::shared_ptr<LoraWeightCopy> trained_copy;
};
TORCH_MODULE(Linear);

class EmbeddingImpl : public torch::nn::Module {
 public:
  EmbeddingImpl(int64_t vocab, int64_t dim, const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& ids);
  at::Tensor effective_weight() const;  // as LinearImpl's
  at::Tensor weight;                    // [vocab, dim]
  std::shared_ptr<LoraWeightCopy> trained_copy;
};
TORCH_MODULE(Embedding);

// weight * (x / sqrt(mean(x^2) + eps)), the normalisation in fp32, cast back before the weight.
class RMSNormImpl : public torch::nn::Module {
 public:
  RMSNormImpl(int64_t dim, double eps, const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& x);
  at::Tensor weight;  // [dim]
  double eps;
};
TORCH_MODULE(RMSNorm);

class LlamaAttentionImpl : public torch::nn::Module {
 public:
  LlamaAttentionImpl(const ModelConfig& config, const at::TensorOptions& options);
  // x [N, T, hidden], cos/sin [T, head_dim] (or [N, 1, T, head_dim] gathered by position) fp32,
  // attention: a mask from attention_mask (or undefined) or blocks.
  at::Tensor forward(
      const at::Tensor& x,
      const at::Tensor& cos,
      const at::Tensor& sin,
      const AttentionBlocks& attention,
      AttentionBackend backend);
  Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, o_proj{nullptr};
  RMSNorm q_norm{nullptr}, k_norm{nullptr};  // Qwen3 only (config.qk_norm()), over head_dim
  int64_t num_heads, num_kv_heads, head_dim;
};
TORCH_MODULE(LlamaAttention);

// down_proj(silu(gate_proj(x)) * up_proj(x))
class LlamaMLPImpl : public torch::nn::Module {
 public:
  LlamaMLPImpl(const ModelConfig& config, const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& x);
  Linear gate_proj{nullptr}, up_proj{nullptr}, down_proj{nullptr};
};
TORCH_MODULE(LlamaMLP);

class LlamaDecoderLayerImpl : public torch::nn::Module {
 public:
  LlamaDecoderLayerImpl(const ModelConfig& config, const at::TensorOptions& options);
  at::Tensor forward(
      const at::Tensor& x,
      const at::Tensor& cos,
      const at::Tensor& sin,
      const AttentionBlocks& attention,
      AttentionBackend backend);
  LlamaAttention self_attn{nullptr};
  LlamaMLP mlp{nullptr};
  RMSNorm input_layernorm{nullptr}, post_attention_layernorm{nullptr};
};
TORCH_MODULE(LlamaDecoderLayer);

// "model": embeddings, decoder layers, final norm.
class LlamaModelImpl : public torch::nn::Module {
 public:
  LlamaModelImpl(const ModelConfig& config, const at::TensorOptions& options);
  Embedding embed_tokens{nullptr};
  torch::nn::ModuleList layers{nullptr};
  RMSNorm norm{nullptr};
};
TORCH_MODULE(LlamaModel);

class LlamaForCausalLMImpl : public torch::nn::Module {
 public:
  LlamaForCausalLMImpl(const ModelConfig& config, const at::TensorOptions& options);

  // Hidden states after the last decoder layer, BEFORE the final norm: [N, T, hidden].
  // input_ids [N, T] int64; lengths [N] int64 (real tokens per row, right padding), or
  // undefined when every row is full. Throws DataError for ids outside the vocabulary.
  at::Tensor hidden_states(const at::Tensor& input_ids, const at::Tensor& lengths = at::Tensor());
  // Hidden states [R, T, hidden] (before the final norm) of a laid-out batch
  // (model/packed_batch.h): input_ids and positions [R, T] int64; either `views` of a single
  // row (R = 1; see AttentionBlocks: each view the packed positions of one sequence, in order,
  // every position in at least one view) or, with `views` empty, each row attends within itself
  // under segment_mask(positions, segments). Throws DataError for ids outside the vocabulary.
  at::Tensor packed_hidden_states(
      const at::Tensor& input_ids,
      const at::Tensor& positions,
      const at::Tensor& segments,
      const std::vector<std::vector<int64_t>>& views);
  // Final norm + LM head on hidden states from hidden_states(): [..., hidden] -> [..., vocab].
  at::Tensor head(const at::Tensor& hidden);
  // Logits [N, T, vocab] in the model's dtype (what transformers' forward returns).
  at::Tensor forward(const at::Tensor& input_ids, const at::Tensor& lengths = at::Tensor());
  // The LM head matrix [vocab, hidden]: lm_head.weight, or the embeddings when tied (a trained
  // copy's while one is in use, model/lora.h).
  at::Tensor head_weight() const;

  const ModelConfig& config() const {
    return config_;
  }
  at::TensorOptions options() const {
    return options_;
  }
  void set_attention_backend(AttentionBackend backend) {
    backend_ = backend;
  }
  // Recompute each decoder layer's activations in the backward pass instead of keeping them
  // (less memory, about a third more compute). Off by default.
  void set_gradient_checkpointing(bool enabled) {
    gradient_checkpointing_ = enabled;
  }
  bool gradient_checkpointing() const {
    return gradient_checkpointing_;
  }

  LlamaModel model{nullptr};
  Linear lm_head{nullptr};  // null when tie_word_embeddings

 private:
  void check_ids(const at::Tensor& ids) const;
  // The decoder layers on x [R, T, hidden]; attention[window] for the layers of each window.
  at::Tensor run_layers(
      at::Tensor x,
      const at::Tensor& cos,
      const at::Tensor& sin,
      const std::map<int64_t, AttentionBlocks>& attention);

  ModelConfig config_;
  at::TensorOptions options_;
  AttentionBackend backend_ = AttentionBackend::automatic;
  bool gradient_checkpointing_ = false;
};
TORCH_MODULE(LlamaForCausalLM);

}  // namespace dpo
