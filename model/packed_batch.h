// Less work per pair: how the sequences of a batch of preference pairs are laid out for one
// forward pass, built on the CPU before the forward.
//
// Prefix sharing: chosen and rejected share their prompt, so a pair becomes one sequence
// [prompt P | chosen C | rejected R] with positions 0..P-1, P..P+C-1, then P..P+R-1 again for
// the rejected tokens. Segments keep the completions apart: prompt tokens are segment 0 (seen by
// every later token), chosen 1, rejected 2 (each sees the prompt and its own earlier tokens).
// The logit that predicts the first rejected token is the one at the last prompt position
// (P-1), the same as the first chosen token's, so predicting positions are gathered explicitly.
//
// Padding-free packing: the sequences (or shared-prefix blocks) of the batch concatenated into
// one row with per-sequence positions, so the embeddings, norms, projections and MLP (most of
// the FLOPs) see no padding and each shared prompt once; attention runs over one view per
// sequence (its prompt, then its completion: block-diagonal causal, the rejected tokens never
// seeing the chosen ones), all views in one batched call (AttentionBlocks, model/llama.h).
//
// Either alone: prefix sharing without packing pads the B pair sequences to the longest
// (B rows); packing without sharing makes one block per sequence (2B blocks).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace dpo {

struct PairLayout {
  bool prefix_sharing = true;
  bool padding_free = true;
  bool padded() const {
    return !prefix_sharing && !padding_free;
  }
};

// A batch laid out for LlamaForCausalLMImpl::packed_hidden_states: R rows of T tokens.
struct PackedBatch {
  at::Tensor input_ids;                     // [R, T] int64 (CPU)
  at::Tensor positions;                     // [R, T] int64: the rotary position of each token
  at::Tensor segments;                      // [R, T] int64 (0 shared prompt, 1 chosen, 2 rejected,
                                            // 3 padding), padded rows with prefix sharing only
  std::vector<std::vector<int64_t>> views;  // padding-free: per sequence, the packed positions
                                            // it attends over, in order (a shared prompt is in
                                            // both of its pair's views); empty: padded rows
  at::Tensor predict;                       // [M] int64: flat index (row * T + t) of each position
                                            // whose logits predict a completion token
  at::Tensor targets;                       // [M] int64: the token each predicts
  at::Tensor sequence;                      // [M] int64: its sequence (input row, 0..N-1)
  at::Tensor counts;                        // [N] int64: completion tokens per sequence
  int64_t sequences = 0;                    // N
  int64_t real_tokens = 0;      // tokens of the N sequences (a shared prompt counted per sequence)
  int64_t padded_tokens = 0;    // what the padded, unshared forward computes: N * longest
  int64_t computed_tokens = 0;  // what this layout computes: R * T
};

// Lays out N sequences for `layout`. input_ids [N, T] (CPU, right-padded), completion_start and
// completion_length [N] int64 as sequence_logprobs takes them. With prefix sharing, N is even
// and rows i and N/2 + i are the chosen and rejected sequences of pair i (the loader's batch
// layout): they must share the prompt (the same start and prompt tokens). Throws DataError for
// completions outside their rows or prompts that differ.
PackedBatch pack_sequences(
    const at::Tensor& input_ids,
    const at::Tensor& completion_start,
    const at::Tensor& completion_length,
    PairLayout layout);

}  // namespace dpo
