#include "trainer/dpo_trainer.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <thread>
#include <type_traits>

#include "core/atomic_file.h"
#include "core/build_info.h"
#include "core/error.h"
#include "core/log.h"
#include "dataloader/batch_loader.h"
#include "templates/chat_template.h"
#include "dataloader/prepared_dataset.h"
#include "tokenizer/tokenizer.h"
#include "model/checkpoint.h"
#include "model/llama.h"
#include "model/cpu_runtime.h"
#include "model/runtime_info.h"
#include "model/safetensors.h"
#include "model/sequence_logprobs.h"
#include "trainer/adamw.h"
#include "trainer/checkpoint_store.h"
#include "trainer/config.h"
#include "trainer/lr_schedule.h"
#include "trainer/pair_scoring.h"

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace dpo {
namespace {

// ---- Small helpers -------------------------------------------------------------------------

std::atomic<bool> g_stop_requested{false};
extern "C" void request_stop(int) { g_stop_requested = true; }

// SIGINT/SIGTERM: finish the current step, save a checkpoint, exit (a graceful stop).
struct StopSignals {
  struct sigaction old_int {}, old_term {};
  StopSignals() {
    g_stop_requested = false;
    struct sigaction action {};
    action.sa_handler = request_stop;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, &old_int);
    sigaction(SIGTERM, &action, &old_term);
  }
  ~StopSignals() {
    sigaction(SIGINT, &old_int, nullptr);
    sigaction(SIGTERM, &old_term, nullptr);
  }
};

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

at::Device resolve_device(const std::string& name) {
  if (name == "cpu") return at::kCPU;
  if (name == "cuda") {
    if (!at::hasCUDA()) {
      throw UsageError("train.device is cuda but this LibTorch has no usable CUDA device",
                       "use device auto or cpu");
    }
    return at::Device(at::kCUDA, 0);
  }
  if (name == "auto") return at::hasCUDA() ? at::Device(at::kCUDA, 0) : at::Device(at::kCPU);
  throw UsageError("unknown device '" + name + "'", "use auto, cpu or cuda");
}

at::ScalarType resolve_dtype(const std::string& name) {
  if (name == "fp32" || name == "float32") return at::kFloat;
  if (name == "bf16" || name == "bf16_pure" || name == "bfloat16") return at::kBFloat16;
  throw UsageError("unknown training dtype '" + name + "'", "use fp32, bf16 or bf16_pure");
}

json metrics_json(const LossMetrics& sums) {
  LossMetrics m = sums.pairs > 0 ? sums.mean() : sums;
  return json{{"loss", m.loss},
              {"rewards/chosen", m.rewards_chosen},
              {"rewards/rejected", m.rewards_rejected},
              {"rewards/margins", m.rewards_margins},
              {"rewards/accuracies", m.rewards_accuracies},
              {"logps/chosen", m.logps_chosen},
              {"logps/rejected", m.logps_rejected},
              {"logps/chosen_per_token", m.logps_chosen_per_token},
              {"logps/rejected_per_token", m.logps_rejected_per_token},
              {"pairs", sums.pairs}};
}

// The prepared file must have been made with this model's tokenizer and chat template. Called
// with the header alone, before the token ids are read: a file from a larger vocabulary would
// otherwise fail the ids' range check first, without naming the two tokenizers.
void check_prepared_matches_model(const PreparedHeader& header, const std::string& prepared_path,
                                  const std::string& model_dir, const Tokenizer& tokenizer,
                                  const std::string& template_spec = "") {
  if (header.tokenizer_sha256 != tokenizer.sha256()) {
    throw CacheError("'" + prepared_path + "' was prepared with tokenizer " + header.tokenizer_sha256 +
                         ", but the model '" + model_dir + "' has tokenizer " + tokenizer.sha256(),
                     "run dpo prepare again with --model " + model_dir);
  }
  std::string model_template = ChatTemplate::load(template_spec.empty() ? model_dir : template_spec).sha256();
  if (header.template_sha256 != model_template) {
    throw CacheError("'" + prepared_path + "' was prepared with chat template " + header.template_sha256 +
                         ", but the model '" + model_dir + "' has template " + model_template,
                     "run dpo prepare again with --model " + model_dir);
  }
}

// Reference log-probs of a whole split as device tensors, indexed by pair.
struct ReferenceTensors {
  at::Tensor chosen, rejected;  // [n] float32 on the device
};

ReferenceTensors reference_tensors(const ReferenceLogps::Split& split, at::Device device) {
  auto to_tensor = [&](const std::vector<double>& values) {
    return at::tensor(values, at::TensorOptions().dtype(at::kDouble)).to(at::kFloat).to(device);
  };
  return {to_tensor(split.chosen_logps), to_tensor(split.rejected_logps)};
}

// Per-pair figures of one evaluation, for eval_pairs.jsonl.
struct EvalPairs {
  at::Tensor rewards_chosen, rewards_rejected;  // [n] CPU
};

// Loss and metrics of the whole held-out split (no gradients).
LossMetrics evaluate_split(LlamaForCausalLMImpl& policy, const PreparedSplit& split,
                           const ReferenceLogps::Split& reference, const LossConfig& loss,
                           const BcoState& bco, at::Device device, int64_t batch_pairs,
                           int32_t pad_id, EvalPairs* pairs_out) {
  LossMetrics metrics;
  if (split.size() == 0) return metrics;
  ScoreOptions options;
  options.batch_pairs = batch_pairs;
  options.pad_id = pad_id;
  PairScores scores = score_pairs(policy, split, device, options);
  at::NoGradGuard no_grad;
  auto f32 = at::TensorOptions().dtype(at::kDouble);
  PairLogps logps;
  logps.policy_chosen = at::tensor(scores.chosen_logps, f32).to(at::kFloat);
  logps.policy_rejected = at::tensor(scores.rejected_logps, f32).to(at::kFloat);
  logps.reference_chosen = at::tensor(reference.chosen_logps, f32).to(at::kFloat);
  logps.reference_rejected = at::tensor(reference.rejected_logps, f32).to(at::kFloat);
  logps.chosen_tokens = at::tensor(std::vector<int64_t>(scores.chosen_tokens.begin(), scores.chosen_tokens.end()));
  logps.rejected_tokens = at::tensor(std::vector<int64_t>(scores.rejected_tokens.begin(), scores.rejected_tokens.end()));
  BcoState bco_copy = bco;  // evaluation must not move BCO's running mean
  LossOutput out = compute_loss(logps, loss, &bco_copy);
  if (pairs_out != nullptr) *pairs_out = {out.rewards_chosen.cpu(), out.rewards_rejected.cpu()};
  return out.metrics;
}

std::string truncate_text(const std::string& text, size_t limit) {
  if (text.size() <= limit) return text;
  size_t cut = limit;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;  // UTF-8 boundary
  return text.substr(0, cut) + " [...]";
}

void write_eval_pairs(const std::string& path, const PreparedDataset& data, const EvalPairs& pairs,
                      const Tokenizer& tokenizer) {
  std::string out;
  const PreparedSplit& split = data.val;
  const size_t n = std::min(split.size(), static_cast<size_t>(pairs.rewards_chosen.size(0)));
  for (size_t i = 0; i < n; ++i) {
    PairTokens tokens = split.pair(i);
    double chosen = pairs.rewards_chosen[static_cast<int64_t>(i)].item<double>();
    double rejected = pairs.rewards_rejected[static_cast<int64_t>(i)].item<double>();
    int32_t file = split.source_file[i];
    json line = {{"pair_index", i},
                 {"id", split.row_ids[i]},
                 {"source_file", file >= 0 && static_cast<size_t>(file) < data.header.source_files.size()
                                     ? data.header.source_files[static_cast<size_t>(file)] : ""},
                 {"source_line", split.source_line[i]},
                 {"margin", chosen - rejected},
                 {"reward_chosen", chosen},
                 {"reward_rejected", rejected},
                 {"prompt", truncate_text(tokenizer.decode(tokens.prompt.to_vector()), 4000)},
                 {"chosen", truncate_text(tokenizer.decode(tokens.chosen.to_vector()), 4000)},
                 {"rejected", truncate_text(tokenizer.decode(tokens.rejected.to_vector()), 4000)}};
    out += line.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
  }
  write_file_atomically(path, out);
}

// Appends one JSON object per line to metrics.jsonl, flushing each line (a crash loses at most
// the line being written; resume truncates to the checkpoint's step).
class MetricsLog {
 public:
  MetricsLog(const std::string& path, bool append) : path_(path) {
    file_ = std::fopen(path.c_str(), append ? "ab" : "wb");
    if (file_ == nullptr) throw IoError(errno_message("cannot write '" + path + "'", errno));
  }
  ~MetricsLog() {
    if (file_) std::fclose(file_);
  }
  void write(const json& line) {
    std::string text = line.dump() + "\n";
    std::fwrite(text.data(), 1, text.size(), file_);
    std::fflush(file_);
  }
  // Keeps the lines whose step is at most `step` (used when resuming).
  static void truncate_after(const std::string& path, int64_t step) {
    std::ifstream in(path);
    if (!in) return;
    std::string kept, line;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      json object = json::parse(line, nullptr, false);
      if (object.is_discarded() || !object.contains("step")) continue;  // a torn last line
      if (object["step"].get<int64_t>() <= step) kept += line + "\n";
    }
    write_file_atomically(path, kept);
  }

 private:
  std::string path_;
  std::FILE* file_ = nullptr;
};

// The first n pairs of a split (eval.max_pairs), with their reference log-probs.
PreparedSplit first_pairs(const PreparedSplit& split, size_t n) {
  if (n == 0 || n >= split.size()) return split;
  PreparedSplit out;
  for (size_t i = 0; i < n; ++i) {
    PairTokens pair = split.pair(i);
    EncodedPair encoded{pair.prompt.to_vector(), pair.chosen.to_vector(), pair.rejected.to_vector(), split.flags[i]};
    out.add(encoded, split.source_file[i], split.source_line[i], split.row_ids[i]);
  }
  return out;
}

ReferenceLogps::Split first_pairs(const ReferenceLogps::Split& split, size_t n) {
  if (n == 0 || n >= split.chosen_logps.size()) return split;
  auto head = [n](const auto& v) { return std::vector<typename std::decay_t<decltype(v)>::value_type>(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(n)); };
  return {head(split.chosen_logps), head(split.rejected_logps), head(split.chosen_tokens), head(split.rejected_tokens)};
}

std::vector<std::pair<std::string, at::Tensor>> named_parameters(LlamaForCausalLMImpl& model) {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (const auto& item : model.named_parameters(/*recurse=*/true)) out.emplace_back(item.key(), item.value());
  return out;
}

double global_grad_norm(const std::vector<NamedParameter>& parameters) {
  at::NoGradGuard no_grad;
  std::vector<at::Tensor> norms;
  for (const NamedParameter& p : parameters) {
    if (p.tensor.grad().defined()) norms.push_back(p.tensor.grad().to(at::kFloat).norm());
  }
  if (norms.empty()) return 0;
  return at::stack(norms).norm().item<double>();
}

void scale_gradients(const std::vector<NamedParameter>& parameters, double factor) {
  at::NoGradGuard no_grad;
  for (const NamedParameter& p : parameters) {
    if (p.tensor.grad().defined()) p.tensor.mutable_grad().mul_(factor);
  }
}

// The CPU generator's state, as int32 values for safetensors.
at::Tensor cpu_rng_state() {
  at::Tensor state = at::detail::getDefaultCPUGenerator().get_state();  // uint8
  return state.to(at::kInt);
}

void set_cpu_rng_state(const at::Tensor& state) {
  at::Generator generator = at::detail::getDefaultCPUGenerator();
  generator.set_state(state.to(at::kByte));
}

// A NaN or Inf reference log-prob would poison every loss it enters and, cached, every later run:
// refuse it before it is written, naming the first pair.
void require_finite_reference(const PairScores& scores, const PreparedSplit& split, const std::string& split_name,
                              const std::string& reference_dir) {
  for (size_t i = 0; i < scores.chosen_logps.size(); ++i) {
    if (std::isfinite(scores.chosen_logps[i]) && std::isfinite(scores.rejected_logps[i])) continue;
    throw CheckpointError("the reference model " + reference_dir + " gives non-finite log-probs (chosen " +
                              std::to_string(scores.chosen_logps[i]) + ", rejected " +
                              std::to_string(scores.rejected_logps[i]) + ") for " + split_name + " pair " +
                              std::to_string(i) + " (id '" + split.row_ids[i] + "')",
                          "its weights hold NaN or Inf, or overflow in this dtype: check it with `dpo score`, or use fp32");
  }
}

}  // namespace

// ---- The loop ----------------------------------------------------------------------------------

TrainOptions train_options_from_config(const Config& config) {
  TrainOptions o;
  o.prepared_path = config.data.prepared;
  o.model_dir = config.model.path;
  o.save_dtype = model_dtype_name(config.model.dtype);
  o.template_spec = template_spec(config);
  o.reference_dir = config.reference.path;
  o.reference_mode = reference_mode_name(config.reference.mode);
  o.out_dir = config.train.out_dir;
  o.loss = config.loss;
  o.lr = config.optim.lr;
  o.weight_decay = config.optim.weight_decay;
  o.beta1 = config.optim.betas[0];
  o.beta2 = config.optim.betas[1];
  o.eps = config.optim.eps;
  o.warmup_steps = config.optim.warmup_steps;
  o.schedule = config.optim.schedule;
  o.min_lr_ratio = config.optim.min_lr_ratio;
  o.grad_clip = config.optim.grad_clip;
  o.device = device_choice_name(config.train.device);
  o.dtype = train_dtype_name(config.train.dtype);
  o.micro_batch_pairs = config.train.micro_batch_pairs;
  o.grad_accum = config.train.grad_accum;
  o.max_steps = config.train.max_steps;
  o.epochs = static_cast<double>(config.train.epochs);
  o.seed = config.train.seed;
  o.threads = static_cast<int>(config.train.threads);
  o.log_every_steps = config.train.log_every_steps;
  o.save_every_steps = config.train.save_every_steps;
  o.keep_checkpoints = static_cast<int>(config.train.keep_checkpoints);
  o.max_bad_steps = static_cast<int>(config.train.max_bad_steps);
  o.eval_every_steps = config.eval.every_steps;
  o.eval_max_pairs = config.eval.max_pairs;
  o.early_stop = config.eval.early_stop;
  o.alarms.patience = static_cast<int>(config.eval.patience);
  o.alarms.gap_threshold = config.eval.gap_threshold;
  o.alarms.displacement_threshold = config.eval.displacement_threshold;
  o.alarms.train_accuracy_high = config.eval.train_accuracy_high;
  o.alarms.min_improvement = config.eval.min_improvement;
  o.config_json = to_json_text(config);
  return o;
}

TrainResult train_dpo(const TrainOptions& options) {
  auto run_start = std::chrono::steady_clock::now();
  validate_loss_config(options.loss);
  if (options.out_dir.empty()) throw UsageError("train.out_dir is empty");
  if (options.micro_batch_pairs < 1 || options.grad_accum < 1) {
    throw ConfigError("train.micro_batch_pairs and train.grad_accum must be at least 1");
  }
  if (options.reference_mode != "precomputed" && options.reference_mode != "live") {
    throw ConfigError("reference.mode must be precomputed or live, got '" + options.reference_mode + "'");
  }
  StopSignals stop_signals;

  // 1. Runtime: device, dtype, threads, seeds.
  at::Device device = resolve_device(options.device);
  at::ScalarType dtype = resolve_dtype(options.dtype);
  int threads = options.threads > 0 ? options.threads
                                    : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  set_cpu_threads(threads);
  at::manual_seed(options.seed);
  fs::create_directories(options.out_dir);

  // 2. Data and model, checked against each other.
  Tokenizer tokenizer = Tokenizer::from_model_folder(options.model_dir);
  LoadedModel loaded = load_pretrained(options.model_dir, dtype, device);
  LlamaForCausalLM policy = loaded.model;
  check_prepared_matches_model(read_prepared_header(options.prepared_path), options.prepared_path,
                               options.model_dir, tokenizer, options.template_spec);
  auto data = std::make_shared<PreparedDataset>(
      read_prepared_dataset(options.prepared_path, static_cast<int32_t>(loaded.config.vocab_size)));
  std::string initial_hash = model_content_hash(*policy);
  const int32_t pad_id = data->header.pad_id >= 0 ? data->header.pad_id : 0;
  DPO_LOG_INFO("train", "policy %s (%lld parameters, %s on %s, %d threads); %zu train / %zu val pairs",
               options.model_dir.c_str(), static_cast<long long>(loaded.config.num_parameters()),
               model_dtype_name(dtype).c_str(), device.str().c_str(), threads, data->train.size(),
               data->val.size());

  // 3. Reference log-probs: cached in the prepared file under the reference model's hash.
  bool all_reference_free = options.loss.reference_free;
  if (!all_reference_free) {
    all_reference_free = true;
    for (LossType type : options.loss.types) all_reference_free = all_reference_free && is_reference_free(type);
  }
  std::string reference_dir = options.reference_dir.empty() ? options.model_dir : options.reference_dir;
  LlamaForCausalLM reference_model{nullptr};
  std::string reference_hash = initial_hash;
  // A separate reference model: another folder, or a frozen copy of the policy in live mode.
  if ((!options.reference_dir.empty() && options.reference_dir != options.model_dir) ||
      options.reference_mode == "live") {
    reference_model = load_pretrained(reference_dir, dtype, device).model;
    reference_model->eval();
    reference_hash = model_content_hash(*reference_model);
  }
  const bool reference_is_initial_policy = reference_hash == initial_hash;
  ReferenceLogps reference;
  {
    // Precomputed: every pair is scored once (or found in the cache) and the steps index it.
    // Live: the frozen reference scores each train batch beside the policy, and the held-out
    // split here, once, for the evaluations; the cache is neither read nor written, so a stale
    // cache (the way out of a failed step-0 check is live mode) cannot reach the run.
    const bool live = options.reference_mode == "live";
    std::optional<ReferenceLogps> cached;
    if (!live) cached = read_reference_logps(options.prepared_path, reference_hash);
    if (cached && cached->dtype == model_dtype_name(dtype)) {
      reference = *cached;
      DPO_LOG_INFO("train", "reference log-probs of %s found in %s", reference_hash.substr(0, 16).c_str(),
                   options.prepared_path.c_str());
    } else {
      LlamaForCausalLMImpl& scorer = reference_model ? *reference_model : *policy;
      ScoreOptions score_options;
      score_options.batch_pairs = options.eval_batch_pairs;
      score_options.pad_id = pad_id;
      auto start = std::chrono::steady_clock::now();
      PairScores train_scores = live ? PairScores{} : score_pairs(scorer, data->train, device, score_options);
      PairScores val_scores = score_pairs(scorer, data->val, device, score_options);
      require_finite_reference(train_scores, data->train, "train", reference_dir);
      require_finite_reference(val_scores, data->val, "val", reference_dir);
      reference.model_hash = reference_hash;
      reference.dtype = model_dtype_name(dtype);
      reference.train = {train_scores.chosen_logps, train_scores.rejected_logps,
                         train_scores.chosen_tokens, train_scores.rejected_tokens};
      reference.val = {val_scores.chosen_logps, val_scores.rejected_logps, val_scores.chosen_tokens,
                       val_scores.rejected_tokens};
      if (!live) write_reference_logps(options.prepared_path, reference);
      DPO_LOG_INFO("train", "reference log-probs of %zu pairs computed in %.1f s%s%s",
                   (live ? 0 : data->train.size()) + data->val.size(), seconds_since(start),
                   live ? "" : " and cached in ", live ? "" : options.prepared_path.c_str());
    }
  }
  if (options.reference_mode == "precomputed") reference_model = nullptr;  // frees it
  ReferenceTensors train_reference = reference_tensors(reference.train, device);
  const size_t eval_pairs_limit = static_cast<size_t>(std::max<int64_t>(0, options.eval_max_pairs));
  const PreparedSplit val_eval = first_pairs(data->val, eval_pairs_limit);
  const ReferenceLogps::Split val_reference = first_pairs(reference.val, eval_pairs_limit);

  // 4. Optimiser, schedule, loader, run state (restored from LATEST on resume).
  std::vector<NamedParameter> parameters = adamw_parameter_groups(named_parameters(*policy));
  AdamWOptions adam;
  adam.beta1 = options.beta1;
  adam.beta2 = options.beta2;
  adam.eps = options.eps;
  adam.weight_decay = options.weight_decay;
  adam.master_weights = options.dtype == "bf16";
  AdamW optimizer(parameters, adam);

  BatchLoaderOptions loader_options;
  loader_options.batch_size = options.micro_batch_pairs;
  loader_options.seed = options.seed;
  loader_options.pad_id = pad_id;
  loader_options.max_sequence_length = loaded.config.max_position_embeddings;
  auto train_split = std::shared_ptr<const PreparedSplit>(data, &data->train);
  BatchLoader loader(train_split, loader_options);

  const int64_t steps_per_epoch =
      std::max<int64_t>(1, (loader.batches_per_epoch() + options.grad_accum - 1) / options.grad_accum);
  const int64_t total_steps = options.max_steps > 0
                                  ? options.max_steps
                                  : std::max<int64_t>(1, static_cast<int64_t>(std::ceil(options.epochs * steps_per_epoch)));
  LrScheduleParams schedule;
  schedule.lr = options.lr;
  schedule.warmup_steps = options.warmup_steps;
  schedule.total_steps = total_steps;
  schedule.kind = options.schedule;
  schedule.min_lr_ratio = options.min_lr_ratio;

  DivergenceMonitor monitor(options.alarms);
  BcoState bco;
  TrainResult result;
  int64_t step = 0;
  int64_t consecutive_bad = 0;
  CheckpointStore store(options.out_dir, options.keep_checkpoints);
  const std::string metrics_path = options.out_dir + "/metrics.jsonl";

  if (options.resume) {
    std::optional<std::string> latest = store.latest();
    if (!latest) {
      throw CheckpointError("nothing to resume in '" + options.out_dir + "': no checkpoints/LATEST",
                            "run without --resume to start, or set train.save_every_steps");
    }
    load_weights(*policy, *latest + "/model");
    json state = json::parse(std::ifstream(*latest + "/trainer_state.json"), nullptr, false);
    if (state.is_discarded()) throw CheckpointError("'" + *latest + "/trainer_state.json' is not valid JSON");
    SafeTensorsFile tensors(*latest + "/optimizer.safetensors");
    std::map<std::string, at::Tensor> optimizer_state;
    for (const std::string& name : tensors.names()) optimizer_state[name] = tensors.tensor(name).clone();
    optimizer.load_state(optimizer_state, state.at("optimizer_steps").get<int64_t>());
    if (optimizer_state.count("rng.cpu")) set_cpu_rng_state(optimizer_state["rng.cpu"]);
    step = state.at("step").get<int64_t>();
    loader.seek({state.at("loader_epoch").get<int64_t>(), state.at("loader_cursor").get<int64_t>()});
    bco.mean = state.at("bco_mean").get<double>();
    bco.count = state.at("bco_count").get<int64_t>();
    consecutive_bad = state.at("consecutive_bad_steps").get<int64_t>();
    result.bad_steps = state.at("bad_steps").get<int64_t>();
    for (const json& point : state.at("evaluations")) {
      monitor.add(EvalPoint{point.at("step").get<uint64_t>(), point.at("train_loss").get<double>(),
                            point.at("train_accuracy").get<double>(), point.at("val_loss").get<double>(),
                            point.at("val_accuracy").get<double>(),
                            point.at("val_chosen_logps_per_token").get<double>()});
    }
    MetricsLog::truncate_after(metrics_path, step);
    DPO_LOG_INFO("train", "resumed from %s at step %lld", latest->c_str(), static_cast<long long>(step));
  }
  MetricsLog metrics(metrics_path, options.resume);

  // Evaluation of the held-out split, logged and checked for divergence.
  LossMetrics train_since_eval;
  auto evaluate = [&](EvalPairs* pairs_out) {
    LossMetrics sums = evaluate_split(*policy, val_eval, val_reference, options.loss, bco, device,
                                      options.eval_batch_pairs, pad_id, pairs_out);
    policy->train();
    LossMetrics val = sums.pairs > 0 ? sums.mean() : sums;
    LossMetrics train_mean = train_since_eval.pairs > 0 ? train_since_eval.mean() : val;
    std::vector<std::string> alarms = monitor.add(EvalPoint{static_cast<uint64_t>(step), train_mean.loss,
                                                            train_mean.rewards_accuracies, val.loss,
                                                            val.rewards_accuracies, val.logps_chosen_per_token});
    json line = metrics_json(sums);
    line["step"] = step;
    line["epoch"] = static_cast<double>(step) / steps_per_epoch;
    line["split"] = "val";
    line["alarms"] = alarms;
    metrics.write(line);
    for (const std::string& alarm : alarms) {
      DPO_LOG_WARN("train", "alarm at step %lld: %s", static_cast<long long>(step), alarm.c_str());
      result.alarms.push_back("step " + std::to_string(step) + ": " + alarm);
    }
    std::printf("[eval] step %lld: val loss %.4f, accuracy %.3f, margin %.4f (%lld pairs)%s\n",
                static_cast<long long>(step), val.loss, val.rewards_accuracies, val.rewards_margins,
                static_cast<long long>(sums.pairs), alarms.empty() ? "" : "  ALARM");
    std::fflush(stdout);
    train_since_eval = LossMetrics{};
    return val;
  };

  auto save_checkpoint = [&]() {
    std::string temp = store.begin(static_cast<uint64_t>(step));
    SaveOptions save;
    save.tokenizer_source = options.model_dir;
    save_pretrained(*policy, temp + "/model", save);
    NamedTensors state_tensors;
    for (auto& [name, tensor] : optimizer.state_tensors()) state_tensors.emplace_back(name, tensor);
    state_tensors.emplace_back("rng.cpu", cpu_rng_state());
    write_safetensors(temp + "/optimizer.safetensors", state_tensors);
    BatchPosition position = loader.position();
    json evaluations = json::array();
    for (const EvalPoint& p : monitor.history()) {
      evaluations.push_back({{"step", p.step}, {"train_loss", p.train_loss}, {"train_accuracy", p.train_accuracy},
                             {"val_loss", p.val_loss}, {"val_accuracy", p.val_accuracy},
                             {"val_chosen_logps_per_token", p.val_chosen_logps_per_token}});
    }
    json state = {{"step", step}, {"optimizer_steps", optimizer.steps()},
                  {"loader_epoch", position.epoch}, {"loader_cursor", position.cursor},
                  {"bco_mean", bco.mean}, {"bco_count", bco.count},
                  {"consecutive_bad_steps", consecutive_bad}, {"bad_steps", result.bad_steps},
                  {"evaluations", evaluations}, {"total_steps", total_steps},
                  {"config", json::parse(options.config_json, nullptr, false)}};
    write_file_atomically(temp + "/trainer_state.json", state.dump(2) + "\n");
    std::string final_dir = store.commit(static_cast<uint64_t>(step));
    DPO_LOG_INFO("train", "checkpoint %s", final_dir.c_str());
  };

  // 5. Before training: held-out figures of the initial policy.
  policy->train();
  if (!options.resume) result.initial_eval = evaluate(nullptr);

  // 6. Steps.
  const bool tty = isatty(fileno(stdout));
  auto loop_start = std::chrono::steady_clock::now();
  int64_t tokens_seen = 0, tokens_since_log = 0;
  auto log_start = std::chrono::steady_clock::now();
  LossMetrics since_log;
  double last_grad_norm = 0;
  result.stop_reason = "max_steps";
  bool first_step_of_run = !options.resume && step == 0;
  std::vector<LossMetrics> step_history;  // this process's steps, for train_tail
  while (step < total_steps) {
    // 6a. Batches of this step (grad_accum micro-batches).
    std::vector<Batch> batches;
    int64_t step_pairs = 0;
    for (int64_t k = 0; k < options.grad_accum; ++k) {
      batches.push_back(loader.next());
      step_pairs += batches.back().pairs;
    }
    // 6b. Forward and backward, each micro-batch weighted by its share of the step's pairs.
    LossMetrics step_metrics;
    for (const Batch& batch : batches) {
      BatchTensors tensors = batch_to_tensors(batch, device);
      SequenceLogprobs logps = sequence_logprobs(*policy, tensors.input_ids, tensors.completion_start,
                                                 tensors.completion_length);
      const int64_t B = batch.pairs;
      at::Tensor index = at::tensor(batch.pair_indices, at::TensorOptions().dtype(at::kLong)).to(device);
      PairLogps pair;
      pair.policy_chosen = logps.sum.narrow(0, 0, B);
      pair.policy_rejected = logps.sum.narrow(0, B, B);
      pair.chosen_tokens = logps.count.narrow(0, 0, B);
      pair.rejected_tokens = logps.count.narrow(0, B, B);
      if (options.reference_mode == "live" && reference_model) {
        at::NoGradGuard no_grad;
        SequenceLogprobs ref = sequence_logprobs(*reference_model, tensors.input_ids,
                                                 tensors.completion_start, tensors.completion_length);
        pair.reference_chosen = ref.sum.narrow(0, 0, B).detach();
        pair.reference_rejected = ref.sum.narrow(0, B, B).detach();
      } else {
        pair.reference_chosen = train_reference.chosen.index_select(0, index);
        pair.reference_rejected = train_reference.rejected.index_select(0, index);
      }

      // Step 0: the policy is the reference, so the two must agree (rewards 0, loss ln 2 for
      // DPO). A stale cache or a dtype mismatch shows here, before any update.
      if (first_step_of_run && reference_is_initial_policy && !all_reference_free) {
        at::NoGradGuard no_grad;
        at::Tensor tokens = at::cat({pair.chosen_tokens, pair.rejected_tokens}).to(at::kDouble);
        at::Tensor diff = at::cat({pair.policy_chosen - pair.reference_chosen,
                                   pair.policy_rejected - pair.reference_rejected}).abs().to(at::kDouble);
        double per_token = options.step0_tolerance > 0 ? options.step0_tolerance
                                                       : (dtype == at::kFloat ? 1e-5 : 2e-2);
        at::Tensor tolerance = tokens * per_token + (dtype == at::kFloat ? 1e-3 : 0.1);
        // NaN compares false with everything: test for it first, or a NaN model would pass.
        if (!at::isfinite(diff).all().item<bool>()) {
          throw CheckpointError(
              "step-0 check failed: the initial model gives non-finite log-probs on the first batch",
              "its weights hold NaN or Inf, or overflow in " + model_dtype_name(dtype) +
                  ": check the checkpoint with `dpo score`, or train in fp32");
        }
        double worst = diff.max().item<double>();
        if ((diff > tolerance).any().item<bool>()) {
          throw CacheError(
              "step-0 check failed: policy and reference log-probs differ by up to " +
                  std::to_string(worst) + " nats on the first batch, where they must agree "
                  "(the reference is the initial policy)",
              "the cached reference log-probs are stale or were computed in another dtype: "
              "run again after deleting the prepared file's reference group, or use "
              "--set reference.mode=live");
        }
        DPO_LOG_INFO("train", "step-0 check passed: policy and reference agree within %.2g nats", worst);
      }

      LossOutput out = compute_loss(pair, options.loss, &bco);
      (out.loss * (static_cast<double>(B) / static_cast<double>(step_pairs))).backward();
      step_metrics.add(out.metrics);
      tokens_seen += tensors.tokens;
      tokens_since_log += tensors.tokens;
    }
    first_step_of_run = false;
    ++step;

    // 6c. Non-finite guard, clipping, update.
    double grad_norm = global_grad_norm(parameters);
    if (!std::isfinite(step_metrics.loss) || !std::isfinite(grad_norm)) {
      optimizer.zero_grad();
      ++result.bad_steps;
      ++consecutive_bad;
      std::string ids;
      for (const Batch& batch : batches) {
        for (int64_t pair : batch.pair_indices) ids += (ids.empty() ? "" : ", ") + data->train.row_ids[static_cast<size_t>(pair)];
      }
      DPO_LOG_WARN("train", "step %lld skipped: loss %g, gradient norm %g (pairs: %s)",
                   static_cast<long long>(step), step_metrics.loss, grad_norm, ids.c_str());
      metrics.write(json{{"step", step}, {"split", "train"}, {"skipped", true}, {"loss", step_metrics.loss},
                         {"grad_norm", std::isfinite(grad_norm) ? json(grad_norm) : json(nullptr)}, {"pair_ids", ids}});
      if (consecutive_bad >= options.max_bad_steps) {
        result.stop_reason = "bad_steps";
        DPO_LOG_ERROR("train", "%lld non-finite steps in a row: stopping; the last checkpoint is intact",
                      static_cast<long long>(consecutive_bad));
        break;
      }
      continue;
    }
    consecutive_bad = 0;
    if (options.grad_clip > 0 && grad_norm > options.grad_clip) {
      scale_gradients(parameters, options.grad_clip / (grad_norm + 1e-6));
    }
    double lr = learning_rate(schedule, step);  // steps count from 1
    optimizer.step(lr);
    optimizer.zero_grad();
    last_grad_norm = grad_norm;
    step_history.push_back(step_metrics);
    since_log.add(step_metrics);
    train_since_eval.add(step_metrics);

    // 6d. Log.
    if (step % std::max<int64_t>(1, options.log_every_steps) == 0 || step == total_steps) {
      double seconds = seconds_since(log_start);
      json line = metrics_json(since_log);
      line["step"] = step;
      line["epoch"] = static_cast<double>(step) / steps_per_epoch;
      line["split"] = "train";
      line["lr"] = lr;
      line["grad_norm"] = last_grad_norm;
      line["tokens"] = tokens_since_log;
      line["tokens_per_s"] = seconds > 0 ? tokens_since_log / seconds : 0.0;
      line["peak_memory_mib"] = peak_memory_mib(device);
      line["seconds"] = seconds_since(run_start);
      metrics.write(line);
      LossMetrics mean = since_log.mean();
      double elapsed = seconds_since(loop_start);
      double eta = step > 0 ? elapsed / step * (total_steps - step) : 0;
      std::printf("%sstep %lld/%lld  loss %.4f  acc %.3f  margin %.3f  lr %.2e  %.0f tok/s  ETA %.0fs%s",
                  tty ? "\r" : "", static_cast<long long>(step), static_cast<long long>(total_steps),
                  mean.loss, mean.rewards_accuracies, mean.rewards_margins, lr,
                  line["tokens_per_s"].get<double>(), eta, tty ? "   " : "\n");
      std::fflush(stdout);
      since_log = LossMetrics{};
      tokens_since_log = 0;
      log_start = std::chrono::steady_clock::now();
    }

    // 6e. Evaluate, save, stop.
    bool interrupted = g_stop_requested || (options.stop_after_steps > 0 && step >= options.stop_after_steps);
    if (options.eval_every_steps > 0 && step % options.eval_every_steps == 0 && step < total_steps) {
      if (tty) std::printf("\n");
      evaluate(nullptr);
      if (options.early_stop && monitor.latest_is_best()) {
        SaveOptions save;
        save.tokenizer_source = options.model_dir;
        save.overwrite = true;
        save_pretrained(*policy, options.out_dir + "/best", save);
      }
      if (options.early_stop && monitor.evaluations_since_best() >= static_cast<size_t>(options.alarms.patience)) {
        result.stop_reason = "early_stop";
        break;
      }
    }
    if ((options.save_every_steps > 0 && step % options.save_every_steps == 0) ||
        (interrupted && g_stop_requested)) {
      save_checkpoint();
    }
    if (interrupted) {
      result.stop_reason = "interrupted";
      break;
    }
  }
  if (tty) std::printf("\n");
  result.steps = step;
  const size_t tail = std::max<size_t>(1, step_history.size() / 4);
  for (size_t i = step_history.size() > tail ? step_history.size() - tail : 0; i < step_history.size(); ++i) {
    result.train_tail.add(step_history[i]);
  }
  result.seconds = seconds_since(run_start);
  result.tokens_per_second = result.seconds > 0 ? tokens_seen / seconds_since(loop_start) : 0;
  if (result.stop_reason == "interrupted" || result.stop_reason == "bad_steps") return result;

  // 7. Final evaluation, per-pair audit file, final model, manifest.
  EvalPairs pairs;
  result.final_eval = evaluate(&pairs);
  if (data->val.size() > 0) write_eval_pairs(options.out_dir + "/eval_pairs.jsonl", *data, pairs, tokenizer);
  SaveOptions save;
  save.tokenizer_source = options.model_dir;
  save.overwrite = true;
  result.final_dir = options.out_dir + "/final";
  // model.dtype: the dtype of the weights written; "auto" keeps the initial checkpoint's.
  at::ScalarType save_dtype = options.save_dtype == "auto" ? parse_model_dtype(loaded.config.torch_dtype)
                                                           : parse_model_dtype(options.save_dtype);
  if (save_dtype == dtype) {
    save_pretrained(*policy, result.final_dir, save);
  } else {
    at::NoGradGuard no_grad;
    LlamaForCausalLM converted(loaded.config, at::TensorOptions().dtype(save_dtype).device(at::kCPU));
    auto source = policy->named_parameters(/*recurse=*/true);
    for (auto& item : converted->named_parameters(/*recurse=*/true)) {
      item.value().copy_(source[item.key()].to(at::kCPU).to(save_dtype));
    }
    save_pretrained(*converted, result.final_dir, save);
  }

  TorchRuntimeInfo torch = torch_runtime_info();
  json manifest = {
      {"dpo_version", dpo_version()},
      {"git_commit", dpo_git_commit()},
      {"libtorch_version", torch.version},
      {"cuda", torch.cuda_built},
      {"cuda_devices", torch.cuda_devices},
      {"device", device.str()},
      {"dtype", options.dtype},
      {"threads", threads},
      {"config", json::parse(options.config_json, nullptr, false)},
      {"data", {{"prepared_path", options.prepared_path},
                {"prepared_fingerprint", data->header.fingerprint},
                {"source_sha256", data->header.source_sha256},
                {"source_files", data->header.source_files},
                {"tokenizer_sha256", data->header.tokenizer_sha256},
                {"template_sha256", data->header.template_sha256},
                {"train_pairs", data->train.size()},
                {"val_pairs", data->val.size()}}},
      {"model", {{"path", options.model_dir}, {"content_hash", initial_hash}}},
      {"reference", {{"path", reference_dir}, {"content_hash", reference_hash}, {"mode", options.reference_mode}}},
      {"final_model", {{"path", result.final_dir}, {"content_hash", model_content_hash(*policy)}}},
      {"result", {{"steps", result.steps}, {"bad_steps", result.bad_steps}, {"stop_reason", result.stop_reason},
                  {"alarms", result.alarms}, {"seconds", result.seconds},
                  {"tokens_per_second", result.tokens_per_second},
                  {"initial_val", metrics_json(result.initial_eval)},
                  {"final_val", metrics_json(result.final_eval)}}},
  };
  write_file_atomically(options.out_dir + "/manifest.json", manifest.dump(2) + "\n");
  // The data's validation report (recorded by prepare), for `dpo report`'s data section.
  if (!data->header.validation_json.empty()) {
    write_file_atomically(options.out_dir + "/validate.json", data->header.validation_json + "\n");
  }
  return result;
}

EvalMetrics evaluate_model(const std::string& model_dir, const std::string& prepared_path,
                           const std::string& reference_dir, const LossConfig& loss,
                           const std::string& device_name, const std::string& dtype_name,
                           int64_t batch_pairs, const std::string& pairs_out) {
  at::Device device = resolve_device(device_name);
  at::ScalarType dtype = resolve_dtype(dtype_name);
  Tokenizer tokenizer = Tokenizer::from_model_folder(model_dir);
  LoadedModel loaded = load_pretrained(model_dir, dtype, device);
  check_prepared_matches_model(read_prepared_header(prepared_path), prepared_path, model_dir, tokenizer);
  PreparedDataset data = read_prepared_dataset(prepared_path, static_cast<int32_t>(loaded.config.vocab_size));
  const int32_t pad_id = data.header.pad_id >= 0 ? data.header.pad_id : 0;

  // The reference: its cached log-probs, computed and cached when missing.
  std::string reference_path = reference_dir.empty() ? model_dir : reference_dir;
  LlamaForCausalLM reference_model = reference_dir.empty() ? loaded.model : load_pretrained(reference_dir, dtype, device).model;
  std::string reference_hash = model_content_hash(*reference_model);
  std::optional<ReferenceLogps> cached = read_reference_logps(prepared_path, reference_hash);
  ReferenceLogps::Split reference;
  if (cached && cached->dtype == model_dtype_name(dtype)) {
    reference = cached->val;
  } else {
    ScoreOptions options;
    options.batch_pairs = batch_pairs;
    options.pad_id = pad_id;
    PairScores scores = score_pairs(*reference_model, data.val, device, options);
    reference = {scores.chosen_logps, scores.rejected_logps, scores.chosen_tokens, scores.rejected_tokens};
  }
  EvalPairs pairs;
  LossMetrics sums = evaluate_split(*loaded.model, data.val, reference, loss, BcoState{}, device, batch_pairs,
                                    pad_id, &pairs);
  if (!pairs_out.empty() && data.val.size() > 0) write_eval_pairs(pairs_out, data, pairs, tokenizer);
  return sums.pairs > 0 ? sums.mean() : sums;
}

ScoreSummary score_prepared(const ScoreRequest& request) {
  auto start = std::chrono::steady_clock::now();
  if (request.split != "train" && request.split != "val" && request.split != "all") {
    throw UsageError("--split must be train, val or all, got '" + request.split + "'");
  }
  if (request.out_path.empty() && !request.write_reference) {
    throw UsageError("nothing to write: give --out FILE (.jsonl or .h5) and/or --write-reference");
  }
  at::Device device = resolve_device(request.device);
  at::ScalarType dtype = resolve_dtype(request.dtype);
  set_cpu_threads(request.threads > 0 ? request.threads
                                          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  Tokenizer tokenizer = Tokenizer::from_model_folder(request.model_dir);
  LoadedModel loaded = load_pretrained(request.model_dir, dtype, device);
  check_prepared_matches_model(read_prepared_header(request.prepared_path), request.prepared_path,
                               request.model_dir, tokenizer);
  PreparedDataset data = read_prepared_dataset(request.prepared_path, static_cast<int32_t>(loaded.config.vocab_size));

  ScoreSummary summary;
  summary.model_hash = model_content_hash(*loaded.model);
  summary.device = device.str();
  ScoreOptions options;
  options.batch_pairs = request.batch_pairs;
  options.pad_id = data.header.pad_id >= 0 ? data.header.pad_id : 0;
  options.progress = [](size_t done, size_t total) {
    if (isatty(fileno(stderr))) std::fprintf(stderr, "\rscored %zu/%zu pairs", done, total);
  };
  ReferenceLogps logps;
  logps.model_hash = summary.model_hash;
  logps.dtype = model_dtype_name(dtype);
  std::string lines;
  for (const char* name : {"train", "val"}) {
    const PreparedSplit& split = data.split(name);
    if (request.split != "all" && request.split != name) continue;
    PairScores scores = score_pairs(*loaded.model, split, device, options);
    ReferenceLogps::Split& out = std::string(name) == "train" ? logps.train : logps.val;
    out = {scores.chosen_logps, scores.rejected_logps, scores.chosen_tokens, scores.rejected_tokens};
    summary.pairs += static_cast<int64_t>(split.size());
    for (size_t i = 0; i < split.size(); ++i) {
      summary.tokens += split.chosen_length(i) + split.rejected_length(i);
      json line = {{"split", name}, {"pair_index", i}, {"id", split.row_ids[i]},
                   {"source_line", split.source_line[i]},
                   {"chosen_logps", scores.chosen_logps[i]}, {"rejected_logps", scores.rejected_logps[i]},
                   {"chosen_tokens", scores.chosen_tokens[i]}, {"rejected_tokens", scores.rejected_tokens[i]}};
      lines += line.dump() + "\n";
    }
  }
  if (isatty(fileno(stderr))) std::fprintf(stderr, "\n");
  summary.seconds = seconds_since(start);

  bool complete = request.split == "all";
  if (!request.out_path.empty()) {
    const std::string& out = request.out_path;
    if (out.size() > 3 && out.compare(out.size() - 3, 3, ".h5") == 0) {
      if (!complete) throw UsageError("an .h5 output holds every pair: use --split all, or a .jsonl output");
      std::string temp = out + ".copying";
      fs::copy_file(request.prepared_path, temp, fs::copy_options::overwrite_existing);
      write_reference_logps(temp, logps);
      fs::rename(temp, out);
    } else {
      write_file_atomically(out, lines);
    }
  }
  if (request.write_reference) {
    if (!complete) throw UsageError("--write-reference needs --split all (the trainer needs every pair)");
    write_reference_logps(request.prepared_path, logps);
  }
  return summary;
}

}  // namespace dpo
