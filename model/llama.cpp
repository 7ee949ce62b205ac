// The Llama-family decoder: rotary embeddings, attention (SDPA or plain), the modules and the
// optional gradient checkpointing of decoder layers.
#include "model/llama.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/custom_function.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>

#include "core/error.h"
#include "model/lora.h"
#include "model/torch_compat.h"

namespace dpo {

// ---- Rotary embeddings -----------------------------------------------------------------------

at::Tensor rope_inv_freq(const ModelConfig& config) {
  const int64_t dim = config.head_dim;
  // 1 / theta^(2i/dim), in fp32 exactly as transformers' _compute_default_rope_parameters.
  at::Tensor exponent = at::arange(0, dim, 2, at::kLong).to(at::kFloat) / static_cast<double>(dim);
  at::Tensor inv_freq = at::reciprocal(at::pow(config.rope_theta, exponent));
  const RopeScaling& s = config.rope_scaling;
  if (s.type == "linear")
    return inv_freq / s.factor;
  if (s.type == "llama3") {
    // transformers' _compute_llama3_parameters: long wavelengths are divided by `factor`,
    // short ones kept, and the band between interpolated smoothly.
    const double old_context = static_cast<double>(s.original_max_position_embeddings);
    const double low_freq_wavelen = old_context / s.low_freq_factor;
    const double high_freq_wavelen = old_context / s.high_freq_factor;
    at::Tensor wavelen = at::reciprocal(inv_freq) * (2 * M_PI);
    at::Tensor llama = at::where(wavelen > low_freq_wavelen, inv_freq / s.factor, inv_freq);
    at::Tensor smooth = (at::reciprocal(wavelen) * old_context - s.low_freq_factor) /
                        (s.high_freq_factor - s.low_freq_factor);
    at::Tensor smoothed = (1 - smooth) * llama / s.factor + smooth * llama;
    at::Tensor medium = (wavelen >= high_freq_wavelen).logical_and(wavelen <= low_freq_wavelen);
    return at::where(medium, smoothed, llama);
  }
  return inv_freq;
}

std::pair<at::Tensor, at::Tensor> rope_cos_sin(
    const ModelConfig& config, int64_t length, at::Device device) {
  at::Tensor inv_freq = rope_inv_freq(config).to(device);  // [D/2]
  at::Tensor positions = at::arange(length, at::TensorOptions().dtype(at::kFloat).device(device));
  at::Tensor freqs = at::outer(positions, inv_freq);  // [T, D/2]
  at::Tensor emb = at::cat({freqs, freqs}, -1);       // [T, D]
  return {emb.cos(), emb.sin()};
}

namespace {
at::Tensor rotate_half(const at::Tensor& x) {
  const int64_t half = x.size(-1) / 2;
  return at::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
}

// [N, KV, T, D] -> [N, KV * n_rep, T, D], each key/value head repeated for its query group.
at::Tensor repeat_kv(const at::Tensor& x, int64_t n_rep) {
  if (n_rep == 1)
    return x;
  const auto n = x.size(0), kv = x.size(1), t = x.size(2), d = x.size(3);
  return x.unsqueeze(2).expand({n, kv, n_rep, t, d}).reshape({n, kv * n_rep, t, d});
}
}  // namespace

at::Tensor apply_rotary(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  at::Tensor c = cos.to(x.scalar_type());
  at::Tensor s = sin.to(x.scalar_type());
  return x * c + rotate_half(x) * s;
}

// ---- Attention -------------------------------------------------------------------------------

at::Tensor padded_causal_mask(const at::Tensor& lengths, int64_t length) {
  auto options = at::TensorOptions().dtype(at::kLong).device(lengths.device());
  at::Tensor i = at::arange(length, options).view({1, 1, length, 1});  // query
  at::Tensor j = at::arange(length, options).view({1, 1, 1, length});  // key
  at::Tensor len = lengths.to(at::kLong).view({-1, 1, 1, 1});
  return (j <= i).logical_and((j < len).logical_or(j == i));
}

at::Tensor attention_mask(
    const at::Tensor& lengths, int64_t length, int64_t window, at::Device device) {
  const bool slides = window > 0 && window < length;
  if (!lengths.defined() && !slides)
    return at::Tensor();
  auto options = at::TensorOptions().dtype(at::kLong).device(device);
  at::Tensor mask = lengths.defined() ? padded_causal_mask(lengths.to(device, at::kLong), length)
                                      : at::ones({length, length}, options.dtype(at::kBool))
                                            .tril()
                                            .view({1, 1, length, length});
  if (slides) {
    at::Tensor i = at::arange(length, options).view({1, 1, length, 1});  // query
    at::Tensor j = at::arange(length, options).view({1, 1, 1, length});  // key
    mask = mask.logical_and(j > i - window);
  }
  return mask;
}

at::Tensor segment_mask(const at::Tensor& positions, const at::Tensor& segments, int64_t window) {
  TORCH_CHECK(positions.dim() == 2, "positions must be [R, T]");
  const int64_t t = positions.size(1);
  // Positions within a row or block differ by less than its length, so a window at least that
  // long changes nothing.
  const bool slides = window > 0 && window < t;
  if (!segments.defined() && !slides)
    return at::Tensor();
  auto options = at::TensorOptions().dtype(at::kLong).device(positions.device());
  at::Tensor i = at::arange(t, options).view({1, 1, t, 1});  // query
  at::Tensor j = at::arange(t, options).view({1, 1, 1, t});  // key
  at::Tensor mask = (j <= i);                                // [1, 1, T, T]
  if (segments.defined()) {
    at::Tensor query = segments.view({-1, 1, t, 1});
    at::Tensor key = segments.view({-1, 1, 1, t});
    mask = mask.logical_and((key == 0).logical_or(key == query));  // [R, 1, T, T]
  }
  if (slides) {
    at::Tensor distance = positions.view({-1, 1, t, 1}) - positions.view({-1, 1, 1, t});
    mask = mask.logical_and(distance < window);
  }
  return mask;
}

at::Tensor causal_attention(
    const at::Tensor& q,
    const at::Tensor& k,
    const at::Tensor& v,
    const at::Tensor& mask,
    AttentionBackend backend) {
  TORCH_CHECK(q.dim() == 4 && k.dim() == 4 && v.dim() == 4, "attention takes [N, heads, T, D]");
  TORCH_CHECK(q.size(1) % k.size(1) == 0, "query heads must be a multiple of key/value heads");
  const int64_t n_rep = q.size(1) / k.size(1);
  at::Tensor key = repeat_kv(k, n_rep);
  at::Tensor value = repeat_kv(v, n_rep);
#if DPO_HAS_SDPA
  if (backend == AttentionBackend::automatic) {
    if (mask.defined()) {
      return at::scaled_dot_product_attention(q, key, value, mask, 0.0, false);
    }
    return at::scaled_dot_product_attention(q, key, value, {}, 0.0, true);
  }
#endif
  // transformers' eager attention: scores in the model dtype, softmax in fp32, cast back.
  const int64_t t = q.size(2);
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(3)));
  at::Tensor scores = at::matmul(q, key.transpose(2, 3)) * scale;  // [N, H, T, T]
  at::Tensor allowed =
      mask.defined() ? mask
                     : at::ones({t, t}, q.options().dtype(at::kBool)).tril().view({1, 1, t, t});
  scores = scores.masked_fill(allowed.logical_not(), -std::numeric_limits<double>::infinity());
  at::Tensor probs = at::softmax(scores, -1, at::kFloat).to(q.scalar_type());
  return at::matmul(probs, value);  // [N, H, T, D]
}

at::Tensor blocked_attention(
    const at::Tensor& q,
    const at::Tensor& k,
    const at::Tensor& v,
    const AttentionBlocks& blocks,
    AttentionBackend backend) {
  if (blocks.blocks == 0)
    return causal_attention(q, k, v, blocks.mask, backend);
  TORCH_CHECK(q.size(0) == 1, "attention blocks need a single packed row");
  const int64_t nb = blocks.blocks, longest = blocks.longest;
  // [1, heads, T, D] -> [blocks, heads, longest, D]
  auto to_blocks = [&](const at::Tensor& x) {
    return x.index_select(2, blocks.gather)
        .view({x.size(1), nb, longest, x.size(3)})
        .transpose(0, 1);
  };
  at::Tensor out = causal_attention(to_blocks(q), to_blocks(k), to_blocks(v), blocks.mask, backend);
  const int64_t heads = out.size(1), d = out.size(3);
  return out.transpose(0, 1)
      .reshape({1, heads, nb * longest, d})
      .index_select(2, blocks.scatter);  // [1, H, T, D]
}

// ---- Modules ---------------------------------------------------------------------------------

LinearImpl::LinearImpl(int64_t in, int64_t out, bool with_bias, const at::TensorOptions& options) {
  weight = register_parameter("weight", at::empty({out, in}, options));
  if (with_bias)
    bias = register_parameter("bias", at::empty({out}, options));
}

at::Tensor LinearImpl::forward(const at::Tensor& x) {
  at::Tensor y = at::linear(x, effective_weight(), bias);
  if (lora)
    return lora_add(*lora, x, y, is_training());
  return y;
}

at::Tensor LinearImpl::effective_weight() const {
  return trained_copy ? trained_copy->weight_in_use(weight) : weight;
}

EmbeddingImpl::EmbeddingImpl(int64_t vocab, int64_t dim, const at::TensorOptions& options) {
  weight = register_parameter("weight", at::empty({vocab, dim}, options));
}

at::Tensor EmbeddingImpl::forward(const at::Tensor& ids) {
  return at::embedding(effective_weight(), ids);
}

at::Tensor EmbeddingImpl::effective_weight() const {
  return trained_copy ? trained_copy->weight_in_use(weight) : weight;
}

RMSNormImpl::RMSNormImpl(int64_t dim, double eps_, const at::TensorOptions& options) : eps(eps_) {
  weight = register_parameter("weight", at::ones({dim}, options));
}

at::Tensor RMSNormImpl::forward(const at::Tensor& x) {
  at::Tensor h = x.to(at::kFloat);
  at::Tensor variance = h.pow(2).mean(-1, /*keepdim=*/true);
  h = h * at::rsqrt(variance + eps);
  return weight * h.to(x.scalar_type());
}

LlamaAttentionImpl::LlamaAttentionImpl(const ModelConfig& c, const at::TensorOptions& options)
    : num_heads(c.num_attention_heads), num_kv_heads(c.num_key_value_heads), head_dim(c.head_dim) {
  q_proj =
      register_module("q_proj", Linear(c.hidden_size, num_heads * head_dim, c.qkv_bias(), options));
  k_proj = register_module(
      "k_proj", Linear(c.hidden_size, num_kv_heads * head_dim, c.qkv_bias(), options));
  v_proj = register_module(
      "v_proj", Linear(c.hidden_size, num_kv_heads * head_dim, c.qkv_bias(), options));
  o_proj = register_module(
      "o_proj", Linear(num_heads * head_dim, c.hidden_size, c.o_proj_bias(), options));
  if (c.qk_norm()) {
    q_norm = register_module("q_norm", RMSNorm(head_dim, c.rms_norm_eps, options));
    k_norm = register_module("k_norm", RMSNorm(head_dim, c.rms_norm_eps, options));
  }
}

at::Tensor LlamaAttentionImpl::forward(
    const at::Tensor& x,
    const at::Tensor& cos,
    const at::Tensor& sin,
    const AttentionBlocks& attention,
    AttentionBackend backend) {
  const int64_t n = x.size(0), t = x.size(1);
  at::Tensor q = q_proj->forward(x).view({n, t, num_heads, head_dim});     // [N, T, H, D]
  at::Tensor k = k_proj->forward(x).view({n, t, num_kv_heads, head_dim});  // [N, T, KV, D]
  if (q_norm) {  // Qwen3: per head, before RoPE
    q = q_norm->forward(q);
    k = k_norm->forward(k);
  }
  q = q.transpose(1, 2);  // [N, H, T, D]
  k = k.transpose(1, 2);
  at::Tensor v = v_proj->forward(x).view({n, t, num_kv_heads, head_dim}).transpose(1, 2);
  q = apply_rotary(q, cos, sin);
  k = apply_rotary(k, cos, sin);
  at::Tensor out = blocked_attention(q, k, v, attention, backend);  // [N, H, T, D]
  return o_proj->forward(out.transpose(1, 2).reshape({n, t, num_heads * head_dim}));
}

LlamaMLPImpl::LlamaMLPImpl(const ModelConfig& c, const at::TensorOptions& options) {
  gate_proj =
      register_module("gate_proj", Linear(c.hidden_size, c.intermediate_size, false, options));
  up_proj = register_module("up_proj", Linear(c.hidden_size, c.intermediate_size, false, options));
  down_proj =
      register_module("down_proj", Linear(c.intermediate_size, c.hidden_size, false, options));
}

at::Tensor LlamaMLPImpl::forward(const at::Tensor& x) {
  return down_proj->forward(at::silu(gate_proj->forward(x)) * up_proj->forward(x));
}

LlamaDecoderLayerImpl::LlamaDecoderLayerImpl(
    const ModelConfig& c, const at::TensorOptions& options) {
  self_attn = register_module("self_attn", LlamaAttention(c, options));
  mlp = register_module("mlp", LlamaMLP(c, options));
  input_layernorm =
      register_module("input_layernorm", RMSNorm(c.hidden_size, c.rms_norm_eps, options));
  post_attention_layernorm =
      register_module("post_attention_layernorm", RMSNorm(c.hidden_size, c.rms_norm_eps, options));
}

at::Tensor LlamaDecoderLayerImpl::forward(
    const at::Tensor& x,
    const at::Tensor& cos,
    const at::Tensor& sin,
    const AttentionBlocks& attention,
    AttentionBackend backend) {
  at::Tensor h = x + self_attn->forward(input_layernorm->forward(x), cos, sin, attention, backend);
  return h + mlp->forward(post_attention_layernorm->forward(h));
}

LlamaModelImpl::LlamaModelImpl(const ModelConfig& c, const at::TensorOptions& options) {
  embed_tokens = register_module("embed_tokens", Embedding(c.vocab_size, c.hidden_size, options));
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.num_hidden_layers; ++i)
    layers->push_back(LlamaDecoderLayer(c, options));
  norm = register_module("norm", RMSNorm(c.hidden_size, c.rms_norm_eps, options));
}

// ---- Gradient checkpointing --------------------------------------------------------------------

namespace {

// Runs a decoder layer without keeping its activations; the backward pass runs it again with
// autograd on and back-propagates through that (PyTorch's reentrant checkpoint). Parameter
// gradients are accumulated into .grad by the inner backward, so use Tensor::backward (not
// torch::autograd::grad with the parameters as inputs) with checkpointing on.
struct CheckpointedLayer : public torch::autograd::Function<CheckpointedLayer> {
  static at::Tensor forward(
      torch::autograd::AutogradContext* ctx,
      at::Tensor x,
      at::Tensor cos,
      at::Tensor sin,
      const AttentionBlocks* attention,
      LlamaDecoderLayerImpl* layer,
      AttentionBackend backend) {
    ctx->save_for_backward({x});
    ctx->saved_data["cos"] = cos;
    ctx->saved_data["sin"] = sin;
    // The attention plan by value: the caller's goes away before the backward pass.
    ctx->saved_data["mask"] = attention->mask;
    ctx->saved_data["gather"] = attention->gather;
    ctx->saved_data["scatter"] = attention->scatter;
    ctx->saved_data["blocks"] = attention->blocks;
    ctx->saved_data["longest"] = attention->longest;
    ctx->saved_data["layer"] = reinterpret_cast<int64_t>(layer);
    ctx->saved_data["backend"] = static_cast<int64_t>(backend);
    return layer->forward(x, cos, sin, *attention, backend);
  }

  static torch::autograd::variable_list backward(
      torch::autograd::AutogradContext* ctx, torch::autograd::variable_list grads) {
    at::Tensor x = ctx->get_saved_variables()[0].detach().requires_grad_(true);
    auto* layer = reinterpret_cast<LlamaDecoderLayerImpl*>(ctx->saved_data["layer"].toInt());
    auto tensor_or_none = [&](const std::string& key) {
      const at::IValue& value = ctx->saved_data[key];
      return value.isNone() ? at::Tensor() : value.toTensor();
    };
    AttentionBlocks attention;
    attention.mask = tensor_or_none("mask");
    attention.gather = tensor_or_none("gather");
    attention.scatter = tensor_or_none("scatter");
    attention.blocks = ctx->saved_data["blocks"].toInt();
    attention.longest = ctx->saved_data["longest"].toInt();
    at::Tensor out;
    {
      at::AutoGradMode enable(true);
      out = layer->forward(
          x,
          ctx->saved_data["cos"].toTensor(),
          ctx->saved_data["sin"].toTensor(),
          attention,
          static_cast<AttentionBackend>(ctx->saved_data["backend"].toInt()));
    }
    torch::autograd::backward({out}, {grads[0]});
    return {x.grad(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

// ---- Causal LM -------------------------------------------------------------------------------

LlamaForCausalLMImpl::LlamaForCausalLMImpl(
    const ModelConfig& config, const at::TensorOptions& options)
    : config_(config), options_(options) {
  validate_model_config(config, "model config");
  model = register_module("model", LlamaModel(config, options));
  if (!config.tie_word_embeddings) {
    lm_head =
        register_module("lm_head", Linear(config.hidden_size, config.vocab_size, false, options));
  }
}

void LlamaForCausalLMImpl::check_ids(const at::Tensor& ids) const {
  if (ids.numel() == 0)
    return;
  const int64_t low = ids.min().item<int64_t>(), high = ids.max().item<int64_t>();
  if (low < 0 || high >= config_.vocab_size) {
    throw DataError(
        "token id " + std::to_string(low < 0 ? low : high) + " is outside the vocabulary (" +
            std::to_string(config_.vocab_size) + " tokens)",
        "the data was tokenized with another tokenizer; prepare it again with this model's");
  }
}

at::Tensor LlamaForCausalLMImpl::run_layers(
    at::Tensor x,
    const at::Tensor& cos,
    const at::Tensor& sin,
    const std::map<int64_t, AttentionBlocks>& attention) {
  const bool checkpoint = gradient_checkpointing_ && at::GradMode::is_enabled();
  // A checkpointed layer is only differentiated when its input requires grad; with frozen
  // embeddings (LoRA) it would not, and the adapters inside would get no gradient (what
  // transformers' enable_input_require_grads is for).
  if (checkpoint && !x.requires_grad())
    x = x.detach().requires_grad_(true);
  int64_t index = 0;
  for (const auto& module : *model->layers) {
    auto* layer = module->as<LlamaDecoderLayerImpl>();
    const AttentionBlocks& plan = attention.at(config_.attention_window(index++));
    if (checkpoint) {
      x = CheckpointedLayer::apply(x, cos, sin, &plan, layer, backend_);
    } else {
      x = layer->forward(x, cos, sin, plan, backend_);
    }
  }
  return x;
}

at::Tensor LlamaForCausalLMImpl::hidden_states(
    const at::Tensor& input_ids, const at::Tensor& lengths) {
  TORCH_CHECK(input_ids.dim() == 2, "input_ids must be [N, T], got ", input_ids.sizes());
  at::Tensor ids = input_ids.to(options_.device(), at::kLong);
  const int64_t n = ids.size(0), t = ids.size(1);
  check_ids(ids);
  at::Tensor padded;  // [N] lengths when some row is padded, else undefined
  if (lengths.defined()) {
    TORCH_CHECK(lengths.dim() == 1 && lengths.size(0) == n, "lengths must be [N]");
    at::Tensor len = lengths.to(options_.device(), at::kLong);
    if (n > 0 && len.min().item<int64_t>() < t)
      padded = len;
  }
  // One mask per distinct window (0: full causal attention), shared by the layers using it.
  std::map<int64_t, AttentionBlocks> masks;
  for (int64_t i = 0; i < config_.num_hidden_layers; ++i) {
    const int64_t window = config_.attention_window(i);
    if (!masks.count(window))
      masks[window] = attention_mask(padded, t, window, options_.device());
  }
  auto [cos, sin] = rope_cos_sin(config_, t, options_.device());
  return run_layers(model->embed_tokens->forward(ids), cos, sin, masks);  // [N, T, hidden]
}

at::Tensor LlamaForCausalLMImpl::packed_hidden_states(
    const at::Tensor& input_ids,
    const at::Tensor& positions,
    const at::Tensor& segments,
    const std::vector<std::vector<int64_t>>& views) {
  TORCH_CHECK(input_ids.dim() == 2, "input_ids must be [R, T], got ", input_ids.sizes());
  TORCH_CHECK(positions.sizes() == input_ids.sizes(), "positions must be [R, T] as input_ids");
  TORCH_CHECK(
      !segments.defined() || segments.sizes() == input_ids.sizes(),
      "segments must be [R, T] as input_ids");
  const at::Device device = options_.device();
  at::Tensor ids = input_ids.to(device, at::kLong);
  const int64_t r = ids.size(0), t = ids.size(1);
  TORCH_CHECK(views.empty() || r == 1, "attention views need a single packed row");
  check_ids(ids);
  at::Tensor pos = positions.to(device, at::kLong);
  at::Tensor seg = segments.defined() ? segments.to(device, at::kLong) : at::Tensor();

  // Views: the gather and scatter indices of the batched attention (AttentionBlocks), and the
  // positions of its slots.
  AttentionBlocks blocks;
  at::Tensor slot_pos;
  if (!views.empty()) {
    const int64_t nb = static_cast<int64_t>(views.size());
    int64_t longest = 1;
    for (const std::vector<int64_t>& view : views)
      longest = std::max(longest, static_cast<int64_t>(view.size()));
    std::vector<int64_t> gather(static_cast<size_t>(nb * longest));
    std::vector<int64_t> scatter(static_cast<size_t>(t), -1);
    for (int64_t b = 0; b < nb; ++b) {
      const std::vector<int64_t>& view = views[static_cast<size_t>(b)];
      TORCH_CHECK(!view.empty(), "an attention view is empty");
      for (int64_t o = 0; o < longest; ++o) {
        const int64_t p = view[static_cast<size_t>(o < static_cast<int64_t>(view.size()) ? o : 0)];
        TORCH_CHECK(p >= 0 && p < t, "an attention view reads position ", p, " of ", t);
        gather[static_cast<size_t>(b * longest + o)] = p;
        if (o < static_cast<int64_t>(view.size()) && scatter[static_cast<size_t>(p)] < 0)
          scatter[static_cast<size_t>(p)] = b * longest + o;  // the first view's output
      }
    }
    TORCH_CHECK(
        std::find(scatter.begin(), scatter.end(), -1) == scatter.end(),
        "every packed position must be in an attention view");
    auto long_options = at::TensorOptions().dtype(at::kLong);
    blocks.gather = at::tensor(gather, long_options).to(device);
    blocks.scatter = at::tensor(scatter, long_options).to(device);
    blocks.blocks = nb;
    blocks.longest = longest;
    slot_pos = pos[0].index_select(0, blocks.gather).view({nb, longest});
  }
  // One attention plan per distinct window, shared by the layers using it.
  std::map<int64_t, AttentionBlocks> plans;
  for (int64_t i = 0; i < config_.num_hidden_layers; ++i) {
    const int64_t window = config_.attention_window(i);
    if (plans.count(window))
      continue;
    if (views.empty()) {
      plans[window] = AttentionBlocks(segment_mask(pos, seg, window));  // [R, 1, T, T] or none
    } else {
      // Within a view, plain causal attention (a window by position).
      AttentionBlocks plan = blocks;
      plan.mask = segment_mask(slot_pos, at::Tensor(), window);  // [blocks, 1, longest, longest]
      plans[window] = std::move(plan);
    }
  }
  // RoPE gathered by position: the same table rows the padded forward uses.
  const int64_t table = t > 0 ? pos.max().item<int64_t>() + 1 : 1;
  auto [cos_table, sin_table] = rope_cos_sin(config_, table, device);  // [P, D]
  at::Tensor flat = pos.reshape({-1});
  at::Tensor cos = cos_table.index_select(0, flat).view({r, 1, t, -1});  // [R, 1, T, D]
  at::Tensor sin = sin_table.index_select(0, flat).view({r, 1, t, -1});
  return run_layers(model->embed_tokens->forward(ids), cos, sin, plans);  // [R, T, hidden]
}

at::Tensor LlamaForCausalLMImpl::head_weight() const {
  return lm_head ? lm_head->effective_weight() : model->embed_tokens->effective_weight();
}

at::Tensor LlamaForCausalLMImpl::head(const at::Tensor& hidden) {
  return at::linear(model->norm->forward(hidden), head_weight());
}

at::Tensor LlamaForCausalLMImpl::forward(const at::Tensor& input_ids, const at::Tensor& lengths) {
  return head(hidden_states(input_ids, lengths));
}

}  // namespace dpo
