// Completion log-probs with chunked LM-head evaluation and a recomputing backward pass.
#include "model/sequence_logprobs.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/custom_function.h>

#include <algorithm>
#include <vector>

#include "core/error.h"
#include "model/llama.h"

namespace dpo {

namespace {

// Per chunk: logits in the weight's dtype (as transformers' lm_head), then fp32.
at::Tensor chunk_logits(const at::Tensor& hidden, const at::Tensor& weight) {
  return at::matmul(hidden, weight.t()).to(at::kFloat);  // [C, V] fp32
}

struct ChunkedLogprobFunction : public torch::autograd::Function<ChunkedLogprobFunction> {
  static at::Tensor forward(
      torch::autograd::AutogradContext* ctx,
      at::Tensor hidden,
      at::Tensor weight,
      at::Tensor targets,
      int64_t chunk) {
    ctx->save_for_backward({hidden, weight, targets});
    ctx->saved_data["chunk"] = chunk;
    const int64_t m = hidden.size(0);
    at::Tensor out = at::empty({m}, hidden.options().dtype(at::kFloat));
    for (int64_t begin = 0; begin < m; begin += chunk) {
      const int64_t size = std::min(chunk, m - begin);
      at::Tensor logits = chunk_logits(hidden.narrow(0, begin, size), weight);  // [C, V]
      at::Tensor lse = at::logsumexp(logits, -1);                               // [C]
      at::Tensor target = logits.gather(1, targets.narrow(0, begin, size).unsqueeze(1)).squeeze(1);
      out.narrow(0, begin, size).copy_(target - lse);
    }
    return out;
  }

  static torch::autograd::variable_list backward(
      torch::autograd::AutogradContext* ctx, torch::autograd::variable_list grads) {
    auto saved = ctx->get_saved_variables();
    const at::Tensor& hidden = saved[0];  // [M, H]
    const at::Tensor& weight = saved[1];  // [V, H]
    const at::Tensor& targets = saved[2];
    const int64_t chunk = ctx->saved_data["chunk"].toInt();
    const at::Tensor grad = grads[0].to(at::kFloat);  // [M]
    const int64_t m = hidden.size(0);
    const bool need_hidden = ctx->needs_input_grad(0), need_weight = ctx->needs_input_grad(1);
    at::Tensor grad_hidden = need_hidden ? at::empty_like(hidden) : at::Tensor();
    // Accumulated over chunks in fp32, cast to the weight's dtype at the end.
    at::Tensor grad_weight =
        need_weight ? at::zeros(weight.sizes(), weight.options().dtype(at::kFloat)) : at::Tensor();
    for (int64_t begin = 0; begin < m; begin += chunk) {
      const int64_t size = std::min(chunk, m - begin);
      at::Tensor h = hidden.narrow(0, begin, size);
      at::Tensor logits = chunk_logits(h, weight);
      // d(logit_t - lse)/d logits = onehot(t) - softmax(logits)
      at::Tensor g = grad.narrow(0, begin, size).unsqueeze(1);       // [C, 1]
      at::Tensor d_logits = at::softmax(logits, -1).mul_(g).neg_();  // [C, V]
      d_logits.scatter_add_(1, targets.narrow(0, begin, size).unsqueeze(1), g);
      d_logits = d_logits.to(weight.scalar_type());  // as autograd casts back through .float()
      if (need_hidden)
        grad_hidden.narrow(0, begin, size).copy_(at::matmul(d_logits, weight));
      if (need_weight)
        grad_weight.add_(at::matmul(d_logits.t(), h).to(at::kFloat));
    }
    if (need_weight)
      grad_weight = grad_weight.to(weight.scalar_type());
    return {grad_hidden, grad_weight, at::Tensor(), at::Tensor()};
  }
};

}  // namespace

at::Tensor chunked_token_logprobs(
    const at::Tensor& hidden, const at::Tensor& weight, const at::Tensor& targets, int64_t chunk) {
  TORCH_CHECK(
      hidden.dim() == 2 && weight.dim() == 2 && hidden.size(1) == weight.size(1),
      "hidden [M, H] and weight [V, H] expected");
  TORCH_CHECK(targets.dim() == 1 && targets.size(0) == hidden.size(0), "targets must be [M]");
  return ChunkedLogprobFunction::apply(
      hidden, weight, targets.to(at::kLong), std::max<int64_t>(chunk, 1));
}

namespace {
// selected [M, H] normed hidden states, targets [M], sequence [M] -> [N] fp32 sums of the
// token log-probs per sequence, through the chunked LM head.
at::Tensor summed_logprobs(
    LlamaForCausalLMImpl& model,
    const at::Tensor& selected,
    const at::Tensor& targets,
    const at::Tensor& sequence,
    int64_t n,
    const LogprobOptions& options) {
  const at::Tensor weight = model.head_weight();
  const int64_t chunk = std::max<int64_t>(1, options.max_chunk_logits / weight.size(0));
  at::Tensor token_logprobs = chunked_token_logprobs(selected, weight, targets, chunk);  // [M]
  return at::zeros({n}, token_logprobs.options()).index_add(0, sequence, token_logprobs);
}
}  // namespace

void require_completion_in_row(int64_t row, int64_t start, int64_t length, int64_t row_length) {
  if (start >= 1 && length >= 0 && start + length <= row_length)
    return;
  throw DataError(
      "row " + std::to_string(row) + ": completion [" + std::to_string(start) + ", " +
          std::to_string(start + length) + ") does not lie in a row of " +
          std::to_string(row_length) + " tokens after a prompt of at least one token",
      "every sequence needs a non-empty prompt and a completion inside the row");
}

SequenceLogprobs sequence_logprobs(
    LlamaForCausalLMImpl& model,
    const at::Tensor& input_ids,
    const at::Tensor& completion_start,
    const at::Tensor& completion_length,
    const LogprobOptions& options) {
  TORCH_CHECK(input_ids.dim() == 2, "input_ids must be [N, T], got ", input_ids.sizes());
  const int64_t n = input_ids.size(0), t = input_ids.size(1);
  TORCH_CHECK(
      completion_start.numel() == n && completion_length.numel() == n,
      "completion_start and completion_length must be [N]");
  const at::Device device = model.options().device();
  at::Tensor start = completion_start.to(at::kCPU, at::kLong).contiguous();
  at::Tensor length = completion_length.to(at::kCPU, at::kLong).contiguous();
  const int64_t* s = start.data_ptr<int64_t>();
  const int64_t* l = length.data_ptr<int64_t>();

  // The flat positions (row * T + p) whose logits predict a completion token (p + 1), and the
  // row each belongs to. Rows are trimmed to the longest sequence.
  int64_t longest = 1;
  std::vector<int64_t> positions, rows;
  for (int64_t r = 0; r < n; ++r) {
    require_completion_in_row(r, s[r], l[r], t);
    longest = std::max(longest, s[r] + l[r]);
  }
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t p = s[r] - 1; p < s[r] + l[r] - 1; ++p) {
      positions.push_back(r * longest + p);
      rows.push_back(r);
    }
  }

  at::Tensor ids = input_ids.narrow(1, 0, longest).to(device, at::kLong).contiguous();  // [N, T']
  at::Tensor hidden = model.hidden_states(ids, (start + length).to(device));  // [N, T', H]
  auto long_options = at::TensorOptions().dtype(at::kLong);
  at::Tensor index = at::tensor(positions, long_options).to(device);  // [M]
  at::Tensor row_index = at::tensor(rows, long_options).to(device);   // [M]
  at::Tensor selected = hidden.reshape({n * longest, hidden.size(2)}).index_select(0, index);
  selected = model.model->norm->forward(selected);                    // [M, H]
  at::Tensor targets = ids.reshape({-1}).index_select(0, index + 1);  // [M]

  SequenceLogprobs out;
  out.sum = summed_logprobs(model, selected, targets, row_index, n, options);
  out.count = length.to(device);
  return out;
}

SequenceLogprobs packed_sequence_logprobs(
    LlamaForCausalLMImpl& model, const PackedBatch& packed, const LogprobOptions& options) {
  const at::Device device = model.options().device();
  at::Tensor hidden = model.packed_hidden_states(
      packed.input_ids, packed.positions, packed.segments, packed.views);  // [R, T, H]
  at::Tensor index = packed.predict.to(device);                            // [M]
  at::Tensor selected = hidden.reshape({-1, hidden.size(2)}).index_select(0, index);
  selected = model.model->norm->forward(selected);  // [M, H]
  SequenceLogprobs out;
  out.sum = summed_logprobs(
      model,
      selected,
      packed.targets.to(device),
      packed.sequence.to(device),
      packed.sequences,
      options);
  out.count = packed.counts.to(device);
  return out;
}

SequenceLogprobs pair_sequence_logprobs(
    LlamaForCausalLMImpl& model,
    const at::Tensor& input_ids,
    const at::Tensor& completion_start,
    const at::Tensor& completion_length,
    PairLayout layout,
    const LogprobOptions& options) {
  if (layout.padded())
    return sequence_logprobs(model, input_ids, completion_start, completion_length, options);
  return packed_sequence_logprobs(
      model, pack_sequences(input_ids, completion_start, completion_length, layout), options);
}

}  // namespace dpo
