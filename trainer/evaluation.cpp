#include "trainer/evaluation.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <optional>
#include <type_traits>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/format.h"
#include "distributed/communicator.h"
#include "model/checkpoint.h"
#include "model/llama.h"
#include "tokenizer/tokenizer.h"
#include "trainer/device_setup.h"
#include "trainer/pair_scoring.h"

namespace dpo {
namespace {

using json = nlohmann::json;

std::string truncate_text(const std::string& text, size_t limit) {
  if (text.size() <= limit)
    return text;
  size_t cut = limit;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80)
    --cut;  // UTF-8 boundary
  return text.substr(0, cut) + " [...]";
}

// The row's metadata as a JSON object (null when it has none).
json metadata_object(const std::string& text) {
  if (text.empty())
    return nullptr;
  json object = json::parse(text, nullptr, /*allow_exceptions=*/false);
  return object.is_discarded() ? json(text) : object;
}

// {"<key>": "<value>"} of pair i; labels[k][i] as slice_labels() gives them.
json pair_slices(
    const std::vector<std::string>& slice_by,
    const std::vector<std::vector<std::string>>& labels,
    size_t i) {
  json out = json::object();
  for (size_t k = 0; k < slice_by.size(); ++k)
    out[slice_by[k]] = labels[k][i];
  return out;
}

json pair_figure(const at::Tensor& values, size_t i) {
  if (!values.defined() || static_cast<int64_t>(i) >= values.size(0))
    return nullptr;
  return values[static_cast<int64_t>(i)].item<double>();
}

json at_or_null(const std::vector<double>& values, size_t i) {
  return i < values.size() ? json(values[i]) : json(nullptr);
}

}  // namespace

EvalPairs eval_pairs_from(const LossOutput& out, const ReferenceLogps::Split& reference) {
  EvalPairs pairs;
  pairs.rewards_chosen = out.rewards_chosen.detach().cpu();
  pairs.rewards_rejected = out.rewards_rejected.detach().cpu();
  pairs.loss = out.per_pair.detach().cpu().to(at::kDouble);  // [n]
  const size_t n = reference.chosen_logps.size();
  pairs.reference_margin.resize(n);
  pairs.reference_margin_per_token.resize(n);
  for (size_t i = 0; i < n; ++i) {
    pairs.reference_margin[i] = reference.chosen_logps[i] - reference.rejected_logps[i];
    const double chosen_tokens = std::max<int32_t>(1, reference.chosen_tokens[i]);
    const double rejected_tokens = std::max<int32_t>(1, reference.rejected_tokens[i]);
    pairs.reference_margin_per_token[i] =
        reference.chosen_logps[i] / chosen_tokens - reference.rejected_logps[i] / rejected_tokens;
  }
  return pairs;
}

std::vector<PairOutcome> pair_outcomes(const EvalPairs& pairs) {
  std::vector<PairOutcome> out;
  if (!pairs.rewards_chosen.defined())
    return out;
  const int64_t n = pairs.rewards_chosen.size(0);
  at::Tensor chosen = pairs.rewards_chosen.to(at::kDouble).contiguous();      // [n]
  at::Tensor rejected = pairs.rewards_rejected.to(at::kDouble).contiguous();  // [n]
  at::Tensor loss = pairs.loss.defined() ? pairs.loss.to(at::kDouble).contiguous()
                                         : at::zeros({n}, at::kDouble);  // [n]
  for (int64_t i = 0; i < n; ++i) {
    out.push_back(
        {chosen.data_ptr<double>()[i], rejected.data_ptr<double>()[i], loss.data_ptr<double>()[i]});
  }
  return out;
}

std::vector<SliceBreakdown> evaluate_slices(
    const std::vector<std::string>& slice_by,
    const PreparedSplit& split,
    const std::vector<std::string>& source_files,
    const EvalPairs& pairs) {
  std::vector<PairOutcome> outcomes = pair_outcomes(pairs);
  std::vector<std::vector<std::string>> labels = slice_labels(slice_by, split, source_files);
  // A split longer than the evaluated pairs (eval.max_pairs): its first pairs were evaluated.
  for (std::vector<std::string>& key_labels : labels)
    key_labels.resize(std::min(key_labels.size(), outcomes.size()));
  outcomes.resize(labels.empty() ? outcomes.size() : labels[0].size());
  return slice_metrics(slice_by, labels, outcomes);
}

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
    const std::string& policy_label,
    Communicator* communicator) {
  if (split.size() == 0)
    return LossSums{};
  ScoreOptions options;
  options.batch_pairs = batch_pairs;
  options.pad_id = pad_id;
  options.split_name = "val";
  options.model_label = policy_label;
  options.communicator = communicator;
  PairScores scores = score_pairs(policy, split, device, options);
  at::NoGradGuard no_grad;
  auto f64 = at::TensorOptions().dtype(at::kDouble);
  PairLogps logps;  // [n] each, on the CPU
  logps.policy_chosen = at::tensor(scores.chosen_logps, f64).to(at::kFloat);
  logps.policy_rejected = at::tensor(scores.rejected_logps, f64).to(at::kFloat);
  logps.reference_chosen = at::tensor(reference.chosen_logps, f64).to(at::kFloat);
  logps.reference_rejected = at::tensor(reference.rejected_logps, f64).to(at::kFloat);
  logps.chosen_tokens =
      at::tensor(std::vector<int64_t>(scores.chosen_tokens.begin(), scores.chosen_tokens.end()));
  logps.rejected_tokens = at::tensor(
      std::vector<int64_t>(scores.rejected_tokens.begin(), scores.rejected_tokens.end()));
  // compute_loss is pure: the advanced BCO state it returns is dropped.
  LossOutput out = compute_loss(logps, loss, bco);
  if (!std::isfinite(out.metrics.loss)) {
    throw CheckpointError(
        "the held-out loss of " + policy_label + " is " + format("%g", out.metrics.loss) +
            " although every log-prob is finite (" + std::to_string(split.size()) + " val pairs)",
        "the loss settings overflow (loss.beta, loss.types): check them in docs/losses.md");
  }
  if (pairs_out != nullptr)
    *pairs_out = eval_pairs_from(out, reference);
  return out.metrics;
}

void write_eval_pairs(
    const std::string& path,
    const PreparedDataset& data,
    const EvalPairs& pairs,
    const Tokenizer& tokenizer,
    const std::vector<std::string>& slice_by) {
  std::string out;
  const PreparedSplit& split = data.val;
  const size_t n = std::min(split.size(), static_cast<size_t>(pairs.rewards_chosen.size(0)));
  const std::vector<std::vector<std::string>> labels =
      slice_labels(slice_by, split, data.header.source_files);
  for (size_t i = 0; i < n; ++i) {
    PairTokens tokens = split.pair(i);
    double chosen = pairs.rewards_chosen[static_cast<int64_t>(i)].item<double>();
    double rejected = pairs.rewards_rejected[static_cast<int64_t>(i)].item<double>();
    int32_t file = split.source_file[i];
    json line = {
        {"pair_index", i},
        {"id", split.row_ids[i]},
        {"source_file",
         file >= 0 && static_cast<size_t>(file) < data.header.source_files.size()
             ? data.header.source_files[static_cast<size_t>(file)]
             : ""},
        {"source_line", split.source_line[i]},
        {"metadata", metadata_object(split.pair_metadata(i))},
        {"fields", metadata_object(split.pair_fields(i))},
        {"slices", pair_slices(slice_by, labels, i)},
        {"loss", pair_figure(pairs.loss, i)},
        {"margin", chosen - rejected},
        {"reward_chosen", chosen},
        {"reward_rejected", rejected},
        {"reference_margin", at_or_null(pairs.reference_margin, i)},
        {"reference_margin_per_token", at_or_null(pairs.reference_margin_per_token, i)},
        {"prompt", truncate_text(tokenizer.decode(tokens.prompt.to_vector()), 4000)},
        {"chosen", truncate_text(tokenizer.decode(tokens.chosen.to_vector()), 4000)},
        {"rejected", truncate_text(tokenizer.decode(tokens.rejected.to_vector()), 4000)}};
    out += line.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
  }
  write_file_atomically(path, out);
}

PreparedSplit first_pairs(const PreparedSplit& split, size_t n) {
  if (n == 0 || n >= split.size())
    return split;
  PreparedSplit out;
  for (size_t i = 0; i < n; ++i) {
    PairTokens pair = split.pair(i);
    EncodedPair encoded{
        pair.prompt.to_vector(),
        pair.chosen.to_vector(),
        pair.rejected.to_vector(),
        split.flags[i]};
    out.add(
        encoded,
        split.source_file[i],
        split.source_line[i],
        split.row_ids[i],
        split.pair_metadata(i),
        split.pair_fields(i));
  }
  return out;
}

ReferenceLogps::Split first_pairs(const ReferenceLogps::Split& split, size_t n) {
  if (n == 0 || n >= split.chosen_logps.size())
    return split;
  auto head = [n](const auto& v) {
    return std::vector<typename std::decay_t<decltype(v)>::value_type>(
        v.begin(), v.begin() + static_cast<std::ptrdiff_t>(n));
  };
  return {
      head(split.chosen_logps),
      head(split.rejected_logps),
      head(split.chosen_tokens),
      head(split.rejected_tokens)};
}

LossMeans evaluate_model(
    const std::string& model_dir,
    const std::string& prepared_path,
    const std::string& reference_dir,
    const LossConfig& loss,
    DeviceChoice device_choice,
    TrainDtype train_dtype,
    int64_t batch_pairs,
    const std::string& pairs_out,
    Communicator* communicator,
    EvalDetails* details) {
  const at::Device device =
      resolve_device(device_choice, communicator != nullptr ? communicator->world().local_rank : 0);
  const at::ScalarType dtype = compute_dtype(train_dtype);
  const PreparedHeader prepared_header = read_prepared_header(prepared_path);
  Tokenizer tokenizer = tokenizer_for_prepared(model_dir, prepared_header);
  LoadedModel loaded = load_pretrained(model_dir, dtype, device);
  check_prepared_matches_model(prepared_header, prepared_path, model_dir, tokenizer);
  PreparedDataset data =
      read_prepared_dataset(prepared_path, static_cast<int32_t>(loaded.config.vocab_size));
  require_fits_context(
      data.val, "val", loaded.config.max_position_embeddings, prepared_path, model_dir);
  const int32_t pad_id = data.header.pad_id >= 0 ? data.header.pad_id : 0;

  // The reference: its cached log-probs, else scored now (not cached: `dpo eval` writes nothing
  // into the prepared file).
  LlamaForCausalLM reference_model = loaded.model;
  if (!reference_dir.empty()) {
    LoadedModel reference_loaded = load_pretrained(reference_dir, dtype, device);
    require_fits_context(
        data.val,
        "val",
        reference_loaded.config.max_position_embeddings,
        prepared_path,
        reference_dir);
    reference_model = reference_loaded.model;
  }
  std::string reference_hash = model_content_hash(*reference_model);
  std::optional<ReferenceLogps> cached = read_reference_logps(prepared_path, reference_hash);
  ReferenceLogps::Split reference;
  if (cached && cached->dtype == model_dtype_name(dtype)) {
    require_finite_logps(cached->val, "val", prepared_path);
    reference = cached->val;
  } else {
    ScoreOptions options;
    options.batch_pairs = batch_pairs;
    options.pad_id = pad_id;
    options.split_name = "val";
    options.model_label =
        "the reference model '" + (reference_dir.empty() ? model_dir : reference_dir) + "'";
    options.communicator = communicator;
    PairScores scores = score_pairs(*reference_model, data.val, device, options);
    reference = {
        scores.chosen_logps, scores.rejected_logps, scores.chosen_tokens, scores.rejected_tokens};
  }
  EvalPairs pairs;
  LossSums sums = evaluate_split(
      *loaded.model,
      data.val,
      reference,
      loss,
      BcoState{},
      device,
      batch_pairs,
      pad_id,
      &pairs,
      "the model '" + model_dir + "'",
      communicator);
  const bool main_rank = communicator == nullptr || communicator->is_main();
  const std::vector<std::string> no_slices;
  const std::vector<std::string>& slice_by = details != nullptr ? details->slice_by : no_slices;
  if (!pairs_out.empty() && data.val.size() > 0 && main_rank)
    write_eval_pairs(pairs_out, data, pairs, tokenizer, slice_by);
  if (details != nullptr) {
    details->slices = evaluate_slices(slice_by, data.val, data.header.source_files, pairs);
    details->pairs = pairs;
  }
  return sums.mean();
}

}  // namespace dpo
