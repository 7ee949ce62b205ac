// Held-out evaluation: the loss and metrics of a policy on the held-out split against reference
// log-probs (the trainer's evaluations and `dpo eval`), and eval_pairs.jsonl, the per-pair audit
// file of the last evaluation.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "dataloader/prepared_dataset.h"
#include "losses/loss_config.h"
#include "losses/preference_loss.h"
#include "trainer/config.h"
#include "trainer/slice_metrics.h"

namespace dpo {

class LlamaForCausalLMImpl;
class Tokenizer;
class Communicator;

// Per-pair figures of one evaluation, for eval_pairs.jsonl, the slices and informativeness.
struct EvalPairs {
  at::Tensor rewards_chosen, rewards_rejected;  // [n] CPU
  at::Tensor loss;                              // [n] CPU float64: each pair's loss
  // The reference's margin, log-prob of chosen - rejected: summed over the completion, and per
  // token (chosen/tokens - rejected/tokens). [n] each.
  std::vector<double> reference_margin, reference_margin_per_token;
};

// Loss and metrics (sums over the pairs) of the whole split, without gradients. `bco`: BCO's
// running state, used and not advanced (evaluation must not move it). `pairs_out`: may be null.
// A non-finite log-prob of the policy (CheckpointError naming the pair and the first non-finite
// weight) or a non-finite loss is an error, never a "loss nan" figure. `policy_label` names the
// policy in that message. `communicator` (may be null): the pairs are scored in shards across the
// ranks and every rank gets the figures of the whole split.
LossSums evaluate_split(
    LlamaForCausalLMImpl& policy,
    const PreparedSplit& split,
    const ReferenceLogps::Split& reference,
    const LossConfig& loss,
    const BcoState& bco,
    at::Device device,
    int64_t batch_pairs,
    int32_t pad_id,
    EvalPairs* pairs_out,
    const std::string& policy_label = "the policy",
    Communicator* communicator = nullptr);

// One line per held-out pair of `data.val`: ids, source, provenance (the row's metadata),
// its value of each key of `slice_by`, loss, rewards, margin, the reference's margin and the
// decoded text.
void write_eval_pairs(
    const std::string& path,
    const PreparedDataset& data,
    const EvalPairs& pairs,
    const Tokenizer& tokenizer,
    const std::vector<std::string>& slice_by = {});

// The per-pair figures of evaluate_split's loss output and the reference it was computed with
// (its per-pair loss, rewards and the reference margins).
EvalPairs eval_pairs_from(const LossOutput& out, const ReferenceLogps::Split& reference);

// The pairs of an evaluation as slice_metrics() takes them.
std::vector<PairOutcome> pair_outcomes(const EvalPairs& pairs);

// Loss, accuracy and margin per slice of `split` for each key of `slice_by`
// (trainer/slice_metrics.h); `source_files` names the split's source_file indices (empty: the
// index, "file #0").
std::vector<SliceBreakdown> evaluate_slices(
    const std::vector<std::string>& slice_by,
    const PreparedSplit& split,
    const std::vector<std::string>& source_files,
    const EvalPairs& pairs);

// What `dpo eval` and the gates want beside the means: the slices of `slice_by` and the
// per-pair figures.
struct EvalDetails {
  std::vector<std::string> slice_by;   // in
  std::vector<SliceBreakdown> slices;  // out
  EvalPairs pairs;                     // out
};

// The first n pairs of a split (eval.max_pairs; 0: all), and their reference log-probs.
PreparedSplit first_pairs(const PreparedSplit& split, size_t n);
ReferenceLogps::Split first_pairs(const ReferenceLogps::Split& split, size_t n);

// `dpo eval`: `model_dir` on the held-out split of a prepared file, against `reference_dir`
// (empty: the model itself; its cached log-probs when the prepared file holds them in this
// dtype, else scored now). Means over the held-out pairs; `pairs_out`: eval_pairs.jsonl, or
// empty for none. Refuses sequences longer than the model's context (require_fits_context) and
// non-finite log-probs of either model. `communicator` (may be null): a data-parallel run of the
// command; every rank scores its share of the pairs (on CUDA device LOCAL_RANK), rank 0 writes
// `pairs_out`, and every rank returns the figures of the whole split.
LossMeans evaluate_model(
    const std::string& model_dir,
    const std::string& prepared_path,
    const std::string& reference_dir,
    const LossConfig& loss,
    DeviceChoice device,
    TrainDtype dtype,
    int64_t batch_pairs,
    const std::string& pairs_out = "",
    Communicator* communicator = nullptr,
    EvalDetails* details = nullptr);

}  // namespace dpo
