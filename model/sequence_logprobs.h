// Sequence log-probabilities: for a batch of prompt+completion sequences, the sum and the count
// of log p(token | previous tokens) over the completion tokens only. Policy (with gradients) and
// reference (under at::NoGradGuard) both use this function, so DPO rewards compare like with
// like.
//
// Memory: the full [N, T, vocab] logits are never materialised. Only the positions that predict
// a completion token go through the final norm and the LM head, in chunks of positions; each
// chunk's logits are made in the model's dtype, turned to fp32 for the log-sum-exp and dropped.
// The backward pass recomputes each chunk's logits (a custom autograd function), so training
// holds at most one chunk of fp32 logits at a time as well.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

#include "model/packed_batch.h"

namespace dpo {

class LlamaForCausalLMImpl;

struct SequenceLogprobs {
  at::Tensor sum;    // [N] float32: sum of log p over completion tokens (differentiable)
  at::Tensor count;  // [N] int64: number of completion tokens
};

struct LogprobOptions {
  // Positions per chunk are chosen so that a chunk's logits hold at most this many values
  // (2^24 fp32 values = 64 MiB); at least one position per chunk.
  int64_t max_chunk_logits = int64_t{1} << 24;
};

// input_ids [N, T] int64, right-padded; completion_start [N] and completion_length [N] int64:
// row r's completion is input_ids[r, start_r : start_r + length_r], its prompt the tokens
// before it (start_r >= 1, start_r + length_r <= T). Tokens after the completion are padding
// and change nothing. Throws DataError for spans outside the rows.
SequenceLogprobs sequence_logprobs(
    LlamaForCausalLMImpl& model,
    const at::Tensor& input_ids,
    const at::Tensor& completion_start,
    const at::Tensor& completion_length,
    const LogprobOptions& options = {});

// The same sums and counts ([N], input row order) from a batch laid out by pack_sequences
// (model/packed_batch.h): one forward over its rows, then only the predicting positions go
// through the norm and the chunked LM head.
SequenceLogprobs packed_sequence_logprobs(
    LlamaForCausalLMImpl& model, const PackedBatch& packed, const LogprobOptions& options = {});

// sequence_logprobs for a batch of pairs (rows i and N/2 + i: chosen and rejected of pair i) in
// `layout`: the padded forward when neither prefix sharing nor padding-free packing is on, else
// pack_sequences + packed_sequence_logprobs. Equal within float noise in every layout.
SequenceLogprobs pair_sequence_logprobs(
    LlamaForCausalLMImpl& model,
    const at::Tensor& input_ids,
    const at::Tensor& completion_start,
    const at::Tensor& completion_length,
    PairLayout layout,
    const LogprobOptions& options = {});

// DataError unless row `row`'s completion [start, start + length) lies in a row of `row_length`
// tokens after a prompt of at least one token (the check of every layout's spans).
void require_completion_in_row(int64_t row, int64_t start, int64_t length, int64_t row_length);

// log softmax(hidden @ weight^T)[target] for hidden [M, H] (already normed), weight [V, H],
// targets [M] int64 -> [M] float32, in chunks of `chunk` rows, differentiable with respect to
// hidden and weight without keeping the logits (they are recomputed chunk by chunk).
at::Tensor chunked_token_logprobs(
    const at::Tensor& hidden, const at::Tensor& weight, const at::Tensor& targets, int64_t chunk);

}  // namespace dpo
