// train_dpo(): the loop in numbered phases. What each phase calls lives beside it: the step-0
// check (step0_check.cpp), reference log-probs (reference_logprobs.cpp), evaluation
// (evaluation.cpp), metrics.jsonl (metrics_log.cpp) and the checkpoint's trainer state
// (train_state.cpp). This file keeps the loop and the run's files (checkpoints, final model,
// manifest).
#include "trainer/dpo_trainer.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "core/atomic_file.h"
#include "core/build_info.h"
#include "core/error.h"
#include "core/folder_lock.h"
#include "core/format.h"
#include "core/hash.h"
#include "core/log.h"
#include "dataloader/batch_loader.h"
#include "dataloader/prepared_dataset.h"
#include "distributed/communicator.h"
#include "distributed/gradient_sync.h"
#include "model/checkpoint.h"
#include "model/cpu_runtime.h"
#include "model/cpu_tensor_memory.h"
#include "model/llama.h"
#include "model/lora.h"
#include "model/peft_adapter.h"
#include "model/runtime_info.h"
#include "model/safetensors.h"
#include "model/sequence_logprobs.h"
#include "tokenizer/tokenizer.h"
#include "trainer/checkpoint_store.h"
#include "trainer/device_setup.h"
#include "trainer/divergence_monitor.h"
#include "trainer/evaluation.h"
#include "trainer/finite_check.h"
#include "trainer/lr_schedule.h"
#include "trainer/metrics_log.h"
#include "trainer/pair_scoring.h"
#include "trainer/prepared_informativeness.h"
#include "trainer/reference_logprobs.h"
#include "trainer/resume_check.h"
#include "trainer/run_folder.h"
#include "trainer/step0_check.h"
#include "trainer/train_state.h"

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace dpo {
namespace {

// The signal that asked the run to stop (0: none).
std::atomic<int> g_stop_signal{0};
extern "C" void request_stop(int signal_number) {
  g_stop_signal = signal_number;
}

// SIGINT/SIGTERM: finish the current step, save a checkpoint, exit (a graceful stop). The handler
// is reset by the first signal, so a second one kills the process (checkpoints stay atomic).
struct StopSignals {
  struct sigaction old_int {
  }, old_term{};
  StopSignals() {
    g_stop_signal = 0;
    struct sigaction action {};
    action.sa_handler = request_stop;
    action.sa_flags = SA_RESETHAND;
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

bool all_reference_free(const LossConfig& loss) {
  if (loss.reference_free)
    return true;
  for (LossType type : loss.types) {
    if (!is_reference_free(type))
      return false;
  }
  return true;
}

std::vector<std::pair<std::string, at::Tensor>> named_parameters(LlamaForCausalLMImpl& model) {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (const auto& item : model.named_parameters(/*recurse=*/true))
    out.emplace_back(item.key(), item.value());
  return out;
}

double global_grad_norm(const std::vector<NamedParameter>& parameters) {
  at::NoGradGuard no_grad;
  std::vector<at::Tensor> norms;
  for (const NamedParameter& p : parameters) {
    if (p.tensor.grad().defined())
      norms.push_back(p.tensor.grad().to(at::kFloat).norm());
  }
  if (norms.empty())
    return 0;
  return at::stack(norms).norm().item<double>();
}

void scale_gradients(const std::vector<NamedParameter>& parameters, double factor) {
  at::NoGradGuard no_grad;
  for (const NamedParameter& p : parameters) {
    if (p.tensor.grad().defined())
      p.tensor.mutable_grad().mul_(factor);
  }
}

// The CPU generator's state, as int32 values for safetensors.
at::Tensor cpu_rng_state() {
  return at::detail::getDefaultCPUGenerator().get_state().to(at::kInt);  // uint8 -> int32
}

void set_cpu_rng_state(const at::Tensor& state) {
  at::Generator generator = at::detail::getDefaultCPUGenerator();
  generator.set_state(state.to(at::kByte));
}

// What a LoRA run (lora.enabled) keeps beside the policy: the adapters' config (an init
// adapter's own, when the run starts from one), the base model's content hash and which adapter
// state is the reference (off: the base; initial: the init adapter as it was loaded).
struct LoraRun {
  bool enabled = false;
  LoraConfig config;
  std::string base_hash;
  std::string base_dir;
  LoraMode reference_mode = LoraMode::off;
};

// Switches a LoRA policy's adapters to `mode` for a scope (the reference forward), back to active
// after it, also when the forward throws.
struct LoraModeScope {
  LlamaForCausalLMImpl* model;
  LoraModeScope(const LoraModeScope&) = delete;
  LoraModeScope& operator=(const LoraModeScope&) = delete;
  LoraModeScope(LlamaForCausalLMImpl* m, const LoraRun& lora) : model(lora.enabled ? m : nullptr) {
    if (model)
      set_lora_mode(*model, lora.reference_mode);
  }
  ~LoraModeScope() {
    if (model)
      set_lora_mode(*model, LoraMode::active);
  }
};

// Hex XXH3-128 of two hashes: a base model with an adapter on it.
std::string combined_hash(const std::string& base, const std::string& adapter) {
  Hash128Stream hash;
  hash.update_field(base);
  hash.update_field(adapter);
  return hash.digest().hex();
}

// What a message can promise about the newest checkpoint: its name, or that there is none.
std::string last_checkpoint_note(const CheckpointStore& store) {
  try {
    std::optional<std::string> latest = store.latest();
    if (latest) {
      return "the last checkpoint, " + *latest +
             ", is intact: resume from it with --resume (lower optim.lr, or raise optim.eps, "
             "if the run diverges again)";
    }
  } catch (const Error&) {
  }
  return "no checkpoint was written in this run: start again (lower optim.lr, or raise optim.eps)";
}

// The first non-finite tensor of what a checkpoint would hold: "the weight 'x' (...)" or "the
// optimizer state 'x.exp_avg' (...)"; nullopt when all are finite.
std::optional<std::string> non_finite_state(
    LlamaForCausalLMImpl& policy, const AdamW& optimizer, double bco_mean) {
  if (std::optional<std::string> weight = first_non_finite_weight(policy))
    return "the weight " + *weight;
  if (std::optional<std::string> adapter = first_non_finite(lora_parameters(policy)))
    return "the adapter tensor " + *adapter;
  if (std::optional<std::string> moment = first_non_finite(optimizer.state_views()))
    return "the optimizer state " + *moment;
  if (!std::isfinite(bco_mean))
    return "BCO's running reward mean (" + format("%g", bco_mean) + ")";
  return std::nullopt;
}

// The policy as a run writes it: a Hugging Face folder, or for a LoRA run a PEFT adapter folder
// (the base is model.path, unchanged).
void save_policy(
    LlamaForCausalLMImpl& policy,
    const LoraRun& lora,
    const std::string& folder,
    const std::string& tokenizer_source,
    bool overwrite) {
  if (lora.enabled) {
    PeftSaveOptions save;
    save.base_model_name_or_path = lora.base_dir;
    save.base_model_hash = lora.base_hash;
    save.overwrite = overwrite;
    save_peft_adapter(policy, lora.config, folder, save);
    return;
  }
  SaveOptions save;
  save.tokenizer_source = tokenizer_source;
  save.overwrite = overwrite;
  save_pretrained(policy, folder, save);
}

// A checkpoint: the policy's weights (a LoRA run: its adapters alone, in adapter/), the
// optimizer's tensors with the CPU generator's state, and trainer_state.json. Non-finite state is
// never written: CheckpointError naming the tensor, with LATEST, the checkpoints and their rotation
// left as they were.
void save_checkpoint(
    CheckpointStore& store,
    LlamaForCausalLMImpl& policy,
    const AdamW& optimizer,
    const TrainState& state,
    const std::string& tokenizer_source,
    const LoraRun& lora) {
  if (std::optional<std::string> bad = non_finite_state(policy, optimizer, state.bco_mean)) {
    throw CheckpointError(
        "step " + std::to_string(state.step) + ": " + *bad +
            " is not finite, so no checkpoint was written",
        last_checkpoint_note(store));
  }
  std::string temp = store.begin(static_cast<uint64_t>(state.step));
  save_policy(policy, lora, temp + (lora.enabled ? "/adapter" : "/model"), tokenizer_source, false);
  NamedTensors state_tensors;
  for (auto& [name, tensor] : optimizer.state_tensors())
    state_tensors.emplace_back(name, tensor);
  state_tensors.emplace_back("rng.cpu", cpu_rng_state());
  write_safetensors(temp + "/optimizer.safetensors", state_tensors);
  write_file_atomically(temp + "/trainer_state.json", to_json_text(state));
  std::string final_dir = store.commit(static_cast<uint64_t>(state.step));
  DPO_LOG_INFO("train", "checkpoint %s", final_dir.c_str());
}

// The other half of save_checkpoint: weights, optimizer and generator restored from `folder`;
// the loop's state returned.
TrainState load_checkpoint(
    const std::string& folder,
    LlamaForCausalLMImpl& policy,
    const LoraRun& lora,
    AdamW& optimizer,
    TrainState state) {
  if (lora.enabled) {
    const std::string weights = folder + "/adapter/adapter_model.safetensors";
    SafeTensorsFile adapter(weights);
    auto recorded = adapter.header().metadata.find(kPeftBaseHashKey);
    if (recorded == adapter.header().metadata.end() || recorded->second != lora.base_hash) {
      throw CheckpointError(
          "checkpoint '" + folder + "' holds adapters of another base model than '" +
              lora.base_dir + "'",
          "resume with the model.path the run started with");
    }
    LoraTensors tensors;
    for (const std::string& name : adapter.names())
      tensors.emplace_back(name, adapter.tensor(name));
    load_lora_tensors(policy, tensors, weights);
  } else {
    load_weights(policy, folder + "/model");
  }
  SafeTensorsFile tensors(folder + "/optimizer.safetensors");
  std::map<std::string, at::Tensor> optimizer_state;
  for (const std::string& name : tensors.names())
    optimizer_state[name] = tensors.tensor(name).clone();
  optimizer.load_state(optimizer_state, state.optimizer_steps);
  if (optimizer_state.count("rng.cpu"))
    set_cpu_rng_state(optimizer_state["rng.cpu"]);
  return state;
}

// A checkpoint folder must hold its three parts before any is read: a missing file is named as
// missing (not as a file that does not parse).
void require_complete_checkpoint(const std::string& folder, bool lora) {
  const std::pair<const char*, bool> parts[] = {
      {lora ? "adapter" : "model", true},
      {"optimizer.safetensors", false},
      {"trainer_state.json", false}};
  for (const auto& [part, is_folder] : parts) {
    const std::string path = folder + "/" + part;
    std::error_code error;
    const fs::file_status status = fs::status(path, error);
    const bool ok = is_folder ? fs::is_directory(status) : fs::is_regular_file(status);
    if (ok)
      continue;
    throw CheckpointError(
        "checkpoint '" + folder + "' is incomplete: " + part + " is " +
            (fs::exists(status) ? (is_folder ? "not a folder" : "not a file") : "missing"),
        "point checkpoints/LATEST at an earlier complete step-* folder, or start again with "
        "--overwrite");
  }
}

// What --resume checks against this invocation (trainer/resume_check.h).
struct ResumeContext {
  std::string prepared_fingerprint, reference_hash;
  int64_t total_steps = 0;
  std::vector<std::string> allowed_changes;
};

// --resume: the newest checkpoint's weights, optimizer and loop state, the loader moved to its
// position, the monitor given its evaluations, and metrics.jsonl cut back to its step. The state
// and the config are checked before anything is loaded.
TrainState resume_from_latest(
    const std::string& out_dir,
    const CheckpointStore& store,
    const Config& config,
    const ResumeContext& context,
    LlamaForCausalLMImpl& policy,
    const LoraRun& lora,
    AdamW& optimizer,
    BatchLoader& loader,
    DivergenceMonitor& monitor,
    const std::string& metrics_path,
    const Communicator& ranks) {
  std::optional<std::string> latest = store.latest();
  if (!latest) {
    throw CheckpointError(
        "nothing to resume in '" + out_dir + "': no checkpoints/LATEST",
        "run without --resume to start, or set train.save_every_steps");
  }
  require_complete_checkpoint(*latest, lora.enabled);
  const std::string state_path = *latest + "/trainer_state.json";
  TrainState saved = read_train_state(state_path);
  check_train_state(saved, state_path);
  if (fs::path(*latest).filename().string() !=
      CheckpointStore::folder_name(static_cast<uint64_t>(saved.step))) {
    throw CheckpointError(
        "'" + state_path + "': key 'step' (" + std::to_string(saved.step) +
            ") is not the step of its folder",
        "the checkpoint was copied or edited: point checkpoints/LATEST at another step-* folder");
  }
  check_resume_config(
      saved,
      config,
      context.prepared_fingerprint,
      context.reference_hash,
      context.total_steps,
      context.allowed_changes,
      state_path,
      ranks.world_size());
  check_loader_position(saved, loader.batches_per_epoch(), state_path);
  TrainState state = load_checkpoint(*latest, policy, lora, optimizer, std::move(saved));
  if (std::optional<std::string> bad = non_finite_state(policy, optimizer, state.bco_mean)) {
    throw CheckpointError(
        "checkpoint '" + *latest + "' holds non-finite state: " + *bad,
        "point checkpoints/LATEST at an earlier step-* folder, or start again with --overwrite");
  }
  loader.seek(state.loader);
  for (const EvalPoint& point : state.evaluations)
    monitor.add(point);
  if (ranks.is_main())
    MetricsLog::truncate_after(metrics_path, state.step);
  DPO_LOG_INFO(
      "train", "resumed from %s at step %lld", latest->c_str(), static_cast<long long>(state.step));
  return state;
}

// final/: the policy in model.dtype ("auto": the initial checkpoint's dtype).
void save_final_model(
    LlamaForCausalLMImpl& policy,
    const LoadedModel& initial,
    const Config& config,
    at::ScalarType dtype,
    const std::string& out) {
  SaveOptions save;
  save.tokenizer_source = config.model.path;
  save.overwrite = true;
  const at::ScalarType save_dtype =
      config.model.dtype == ModelDtype::auto_detect
          ? parse_model_dtype(initial.config.torch_dtype)
          : (config.model.dtype == ModelDtype::bf16 ? at::kBFloat16 : at::kFloat);
  if (save_dtype == dtype) {
    save_pretrained(policy, out, save);
    return;
  }
  at::NoGradGuard no_grad;
  LlamaForCausalLM converted(
      initial.config, at::TensorOptions().dtype(save_dtype).device(at::kCPU));
  auto source = policy.named_parameters(/*recurse=*/true);
  for (auto& item : converted->named_parameters(/*recurse=*/true)) {
    item.value().copy_(source[item.key()].to(at::kCPU).to(save_dtype));
  }
  save_pretrained(*converted, out, save);
}

// final-merged/: a LoRA policy folded into its base as a Hugging Face folder in model.dtype. The
// merge runs on an fp32 CPU copy of the base (one rounding into the saved dtype), so the policy
// itself keeps its adapters.
void save_merged_model(
    LlamaForCausalLMImpl& policy,
    const LoadedModel& initial,
    const Config& config,
    const std::string& out) {
  at::NoGradGuard no_grad;
  LlamaForCausalLM merged(initial.config, at::TensorOptions().dtype(at::kFloat).device(at::kCPU));
  auto source = policy.named_parameters(/*recurse=*/true);
  for (auto& item : merged->named_parameters(/*recurse=*/true))
    item.value().copy_(source[item.key()].to(at::kCPU).to(at::kFloat));
  share_lora(policy, *merged);
  merge_lora(*merged);
  save_final_model(*merged, initial, config, at::kFloat, out);
}

// What the manifest records beside the config and the result.
struct RunLineage {
  at::Device device = at::kCPU;
  int threads = 0;
  std::string initial_hash, reference_dir, reference_hash, final_hash;
  std::string final_base_hash;  // LoRA runs: the base's hash at the end (it must not move)
  // LoRA runs: the trained tensors' count and the merged folder (empty: none written).
  int64_t lora_trainable = 0;
  std::string merged_dir;
  // Data parallelism: the ranks, their backend and each rank's device, in rank order.
  int world_size = 1;
  std::string backend = "none";
  std::vector<std::string> rank_devices;
};

void write_manifest(
    const Config& config,
    const PreparedDataset& data,
    const RunLineage& run,
    const TrainResult& result) {
  TorchRuntimeInfo torch = torch_runtime_info();
  json manifest = {
      {"dpo_version", dpo_version()},
      {"git_commit", dpo_git_commit()},
      {"libtorch_version", torch.version},
      {"cuda", torch.cuda_built},
      {"cuda_devices", torch.cuda_devices},
      {"device", run.device.str()},
      {"dtype", train_dtype_name(config.train.dtype)},
      {"threads", run.threads},
      {"pair_layout",
       {{"prefix_sharing", config.train.prefix_sharing},
        {"padding_free", config.train.padding_free}}},
      {"gradient_checkpointing", config.train.gradient_checkpointing},
      {"distributed",
       {{"world_size", run.world_size},
        {"backend", run.backend},
        {"rank_devices", run.rank_devices}}},
      {"lora",
       {{"enabled", config.lora.enabled},
        {"trainable_parameters", run.lora_trainable},
        {"init_adapter", config.lora.init_adapter},
        {"merged_model", run.merged_dir}}},
      {"config", json::parse(to_json_text(config))},
      {"data",
       {{"prepared_path", config.data.prepared},
        {"prepared_fingerprint", data.header.fingerprint},
        {"source_sha256", data.header.source_sha256},
        {"source_files", data.header.source_files},
        {"tokenizer_sha256", data.header.tokenizer_sha256},
        {"template_sha256", data.header.template_sha256},
        {"train_pairs", data.train.size()},
        {"val_pairs", data.val.size()}}},
      {"model", {{"path", config.model.path}, {"content_hash", run.initial_hash}}},
      {"reference",
       {{"path", run.reference_dir},
        {"content_hash", run.reference_hash},
        {"mode", reference_mode_name(config.reference.mode)}}},
      {"final_model",
       {{"path", result.final_dir},
        {"content_hash", run.final_hash},
        {"base_content_hash", run.final_base_hash}}},
      {"result",
       {{"steps", result.steps},
        {"bad_steps", result.bad_steps},
        {"stop_reason", result.stop_reason},
        {"alarms", result.alarms},
        {"seconds", result.seconds},
        {"tokens_per_second", result.tokens_per_second},
        {"initial_val", json::parse(loss_means_json(result.initial_eval))},
        {"final_val", json::parse(loss_means_json(result.final_eval))}}},
  };
  write_file_atomically(config.train.out_dir + "/manifest.json", manifest.dump(2) + "\n");
}

// The held-out evaluations of a run: each one logged as a val line, handed to the divergence
// monitor with the train figures since the previous one, and its alarms recorded.
class HeldOutEvaluator {
 public:
  HeldOutEvaluator(
      LlamaForCausalLMImpl& policy,
      const PreparedSplit& split,
      const ReferenceLogps::Split& reference,
      const Config& config,
      at::Device device,
      int32_t pad_id,
      double steps_per_epoch,
      DivergenceMonitor& monitor,
      MetricsLog* metrics,
      TrainResult& result,
      Communicator& ranks,
      std::vector<std::string> source_files)
      : policy_(policy),
        split_(split),
        reference_(reference),
        config_(config),
        device_(device),
        pad_id_(pad_id),
        steps_per_epoch_(steps_per_epoch),
        monitor_(monitor),
        metrics_(metrics),
        result_(result),
        ranks_(ranks),
        source_files_(std::move(source_files)) {}

  void add_train(const LossSums& step) {
    train_since_eval_.add(step);
  }

  LossMeans evaluate(int64_t step, const BcoState& bco, EvalPairs* pairs_out) {
    // data.slice_by: the per-pair figures are needed for the slices even without eval_pairs.
    EvalPairs local_pairs;
    if (pairs_out == nullptr && !config_.data.slice_by.empty())
      pairs_out = &local_pairs;
    LossMeans val = evaluate_split(
                        policy_,
                        split_,
                        reference_,
                        config_.loss,
                        bco,
                        device_,
                        config_.eval.batch_pairs,
                        pad_id_,
                        pairs_out,
                        "the policy",
                        &ranks_)
                        .mean();
    policy_.train();
    LossMeans train = train_since_eval_.pairs > 0 ? train_since_eval_.mean() : val;
    std::vector<std::string> alarms = monitor_.add(EvalPoint{
        static_cast<uint64_t>(step),
        train.loss,
        train.rewards_accuracies,
        val.loss,
        val.rewards_accuracies,
        val.logps_chosen_per_token});
    // Every rank has the same figures and alarms (the scores are gathered); rank 0 reports them.
    for (const std::string& alarm : alarms)
      result_.alarms.push_back("step " + std::to_string(step) + ": " + alarm);
    train_since_eval_ = LossSums{};
    if (metrics_ == nullptr)
      return val;
    std::vector<SliceBreakdown> slices;
    if (!config_.data.slice_by.empty() && pairs_out != nullptr)
      slices = evaluate_slices(config_.data.slice_by, split_, source_files_, *pairs_out);
    metrics_->write_val(
        step,
        static_cast<double>(step) / steps_per_epoch_,
        val,
        alarms,
        slices.empty() ? "" : slices_to_json(slices));
    for (const std::string& alarm : alarms) {
      DPO_LOG_WARN("train", "alarm at step %lld: %s", static_cast<long long>(step), alarm.c_str());
    }
    std::printf(
        "[eval] step %lld: val loss %.4f, accuracy %.3f, margin %.4f (%lld pairs)%s\n",
        static_cast<long long>(step),
        val.loss,
        val.rewards_accuracies,
        val.rewards_margins,
        static_cast<long long>(val.pairs),
        alarms.empty() ? "" : "  ALARM");
    std::fputs(slices_table(slices).c_str(), stdout);
    std::fflush(stdout);
    return val;
  }

 private:
  LlamaForCausalLMImpl& policy_;
  const PreparedSplit& split_;
  const ReferenceLogps::Split& reference_;
  const Config& config_;
  at::Device device_;
  int32_t pad_id_;
  double steps_per_epoch_;
  DivergenceMonitor& monitor_;
  MetricsLog* metrics_;  // rank 0's; null on the other ranks
  TrainResult& result_;
  Communicator& ranks_;
  LossSums train_since_eval_;
  std::vector<std::string> source_files_;  // the prepared file's, for the source_file slice key
};

// The row ids of a step's pairs, for the skipped-step line.
std::string pair_ids(const std::vector<Batch>& batches, const PreparedSplit& split) {
  std::string ids;
  for (const Batch& batch : batches) {
    for (int64_t pair : batch.pair_indices)
      ids += (ids.empty() ? "" : ", ") + split.row_ids[static_cast<size_t>(pair)];
  }
  return ids;
}

// The policy's log-probs of a micro-batch (with gradients) beside the reference's: from the live
// reference model when there is one, else indexed from the precomputed ones.
PairLogps micro_batch_logps(
    LlamaForCausalLMImpl& policy,
    LlamaForCausalLMImpl* live_reference,
    const LoraRun& lora,
    const ReferenceTensors& precomputed,
    const Batch& batch,
    const BatchTensors& tensors,
    PairLayout layout,
    at::Device device) {
  // input_ids [2B, T]: the B chosen rows, then the B rejected rows; sum and count: [2B].
  SequenceLogprobs logps = pair_sequence_logprobs(
      policy, tensors.input_ids, tensors.completion_start, tensors.completion_length, layout);
  const int64_t B = batch.pairs;
  PairLogps pair;
  pair.policy_chosen = logps.sum.narrow(0, 0, B);    // [B] rows 0..B-1
  pair.policy_rejected = logps.sum.narrow(0, B, B);  // [B] rows B..2B-1
  pair.chosen_tokens = logps.count.narrow(0, 0, B);
  pair.rejected_tokens = logps.count.narrow(0, B, B);
  if (live_reference != nullptr) {
    at::NoGradGuard no_grad;
    LoraModeScope reference_adapters(live_reference, lora);  // LoRA: the policy, adapters off
    SequenceLogprobs ref = pair_sequence_logprobs(
        *live_reference,
        tensors.input_ids,
        tensors.completion_start,
        tensors.completion_length,
        layout);                                                 // [2B]
    pair.reference_chosen = ref.sum.narrow(0, 0, B).detach();    // [B]
    pair.reference_rejected = ref.sum.narrow(0, B, B).detach();  // [B]
  } else {
    at::Tensor index =
        at::tensor(batch.pair_indices, at::TensorOptions().dtype(at::kLong)).to(device);  // [B]
    pair.reference_chosen = precomputed.chosen.index_select(0, index);
    pair.reference_rejected = precomputed.rejected.index_select(0, index);
  }
  return pair;
}

// The console line of a logged step; on a terminal it rewrites itself.
void print_progress(
    int64_t step,
    int64_t total_steps,
    const LossMeans& mean,
    const StepFigures& figures,
    double loop_seconds,
    bool tty) {
  const double eta =
      loop_seconds / static_cast<double>(step) * static_cast<double>(total_steps - step);
  std::printf(
      "%sstep %lld/%lld  loss %.4f  acc %.3f  margin %.3f  lr %.2e  %.0f tok/s  ETA %.0fs%s",
      tty ? "\r" : "",
      static_cast<long long>(step),
      static_cast<long long>(total_steps),
      mean.loss,
      mean.rewards_accuracies,
      mean.rewards_margins,
      figures.lr,
      figures.tokens_per_s,
      eta,
      tty ? "   " : "\n");
  std::fflush(stdout);
}

// A step's figures on this rank, summed over the ranks: every LossSums field, the pairs and the
// tokens (sums, so the means that follow weigh every pair once, not means of means).
void sum_step_over_ranks(LossSums& sums, int64_t& tokens, Communicator& ranks, int64_t step) {
  if (ranks.world_size() <= 1)
    return;
  static_assert(sizeof(LossFigures) == 9 * sizeof(double), "sum every LossFigures field");
  double* fields[] = {
      &sums.loss,
      &sums.rewards_chosen,
      &sums.rewards_rejected,
      &sums.rewards_margins,
      &sums.rewards_accuracies,
      &sums.logps_chosen,
      &sums.logps_rejected,
      &sums.logps_chosen_per_token,
      &sums.logps_rejected_per_token};
  std::vector<double> values;
  for (double* field : fields)
    values.push_back(*field);
  values.push_back(static_cast<double>(sums.pairs));
  values.push_back(static_cast<double>(tokens));
  std::vector<at::Tensor> table{at::tensor(values, at::TensorOptions().dtype(at::kDouble))};
  ranks.all_reduce_sum(table, "the figures of step " + std::to_string(step));
  const double* summed = table[0].data_ptr<double>();
  for (size_t i = 0; i < 9; ++i)
    *fields[i] = summed[i];
  sums.pairs = static_cast<int64_t>(summed[9]);
  tokens = static_cast<int64_t>(summed[10]);
}

// SIGINT or SIGTERM on any rank stops every rank after the same step (0: none).
int stop_signal_of_all_ranks(Communicator& ranks, int64_t step) {
  const int local = g_stop_signal;
  if (ranks.world_size() <= 1)
    return local;
  at::Tensor signal =
      at::full({1}, static_cast<double>(local), at::TensorOptions().dtype(at::kDouble));
  ranks.all_reduce_max(signal, "the stop requests after step " + std::to_string(step));
  return static_cast<int>(signal.item<double>());
}

// Replicas must hold the same weights: their content hashes, compared across the ranks at the
// start and at the end (a rank that differs would train another model silently).
void require_same_on_all_ranks(
    Communicator& ranks,
    const std::string& key,
    const std::string& what,
    const std::string& value) {
  if (ranks.world_size() <= 1)
    return;
  const std::vector<std::string> values = ranks.all_gather_text(key, value);
  for (size_t r = 1; r < values.size(); ++r) {
    if (values[r] == values[0])
      continue;
    throw DistributedError(
        "rank " + std::to_string(r) + " has another " + what + " than rank 0 (" +
            values[r].substr(0, 16) + " against " + values[0].substr(0, 16) + ")",
        "start every rank with the same config, data and model: the same files on every node, "
        "the same --config and --set arguments");
  }
}

// The mean over the last quarter (at least one) of the steps.
LossMeans tail_mean(const std::vector<LossSums>& steps) {
  LossSums tail;
  const size_t count = std::max<size_t>(1, steps.size() / 4);
  for (size_t i = steps.size() > count ? steps.size() - count : 0; i < steps.size(); ++i)
    tail.add(steps[i]);
  return tail.mean();
}

}  // namespace

AdamWOptions adamw_options(const Config& config) {
  AdamWOptions adam;
  adam.beta1 = config.optim.betas[0];
  adam.beta2 = config.optim.betas[1];
  adam.eps = config.optim.eps;
  adam.weight_decay = config.optim.weight_decay;
  adam.master_weights = config.train.dtype == TrainDtype::bf16;
  return adam;
}

// ---- The loop ----------------------------------------------------------------------------------

TrainResult train_dpo(const Config& config, const RunFlags& flags) {
  auto run_start = std::chrono::steady_clock::now();
  validate_config(config);
  if (config.data.prepared.empty()) {
    throw ConfigError(
        "data.prepared is empty: train_dpo needs a prepared file",
        "run dpo prepare, or give data.files to dpo train");
  }
  if (config.model.path.empty())
    throw ConfigError("model.path is empty", "the initial policy's folder");
  const TrainSection& train = config.train;
  const PairLayout layout{train.prefix_sharing, train.padding_free};
  const std::string& out_dir = train.out_dir;
  const std::string& model_dir = config.model.path;
  const std::string& prepared_path = config.data.prepared;
  const bool live = config.reference.mode == ReferenceMode::live;
  StopSignals stop_signals;

  // 1. Runtime: device, dtype, threads, seeds; with several ranks, the process group (every rank
  // runs this same function; rank 0 alone writes the run folder's files).
  const WorldInfo& world = flags.world;
  const at::Device device = resolve_device(train.device, world.local_rank);
  // On the CPU, count tensor bytes from here on (tensor_peak_mib), as CUDA's allocator does.
  if (!device.is_cuda())
    count_cpu_tensor_memory();
  const at::ScalarType dtype = compute_dtype(train.dtype);
  // The CPU's cores are shared by the ranks on a node.
  const int threads = train.threads > 0 ? static_cast<int>(train.threads)
                                        : static_cast<int>(std::max(
                                              1u,
                                              std::thread::hardware_concurrency() /
                                                  static_cast<unsigned>(world.local_world_size)));
  set_cpu_threads(threads);
  at::manual_seed(train.seed);
  std::unique_ptr<Communicator> ranks_owner = join_world(
      world, CommunicatorOptions{config.distributed.backend, config.distributed.timeout_s, device});
  Communicator& ranks = *ranks_owner;
  const bool main_rank = ranks.is_main();
  require_same_on_all_ranks(ranks, "config", "config (its hash)", config_hash(config));
  if (ranks.world_size() > 1 &&
      std::find(config.loss.types.begin(), config.loss.types.end(), LossType::bco_pair) !=
          config.loss.types.end()) {
    throw ConfigError(
        "loss.types has bco_pair, whose running reward mean is updated per batch: it is not "
        "supported with more than one rank yet",
        "train bco_pair in one process");
  }
  // The folder is this process's until it returns, and holds no other run unless resumed; what
  // a killed process left half-written in it goes first.
  std::optional<FolderLock> lock;
  if (main_rank) {
    create_run_folder(out_dir);
    lock.emplace(out_dir, "run folder");
    remove_stale_run_temporaries(out_dir);
    if (!flags.resume)
      claim_run_folder(out_dir, flags.overwrite);
  }
  ranks.barrier("claiming the run folder");

  // 2. Data and model, checked against each other.
  const PreparedHeader prepared_header = read_prepared_header(prepared_path);
  Tokenizer tokenizer = tokenizer_for_prepared(model_dir, prepared_header);
  LoadedModel loaded = load_pretrained(model_dir, dtype, device);
  LlamaForCausalLM policy = loaded.model;
  check_prepared_matches_model(
      prepared_header, prepared_path, model_dir, tokenizer, template_spec(config));
  auto data = std::make_shared<PreparedDataset>(
      read_prepared_dataset(prepared_path, static_cast<int32_t>(loaded.config.vocab_size)));
  const int64_t context = loaded.config.max_position_embeddings;
  require_fits_context(data->train, "train", context, prepared_path, model_dir);
  require_fits_context(data->val, "val", context, prepared_path, model_dir);
  // A policy that starts non-finite would only skip steps (and score NaN on the held-out split).
  if (std::optional<std::string> bad = first_non_finite_weight(*policy)) {
    throw CheckpointError(
        "the initial policy '" + model_dir + "' holds non-finite weights: " + *bad,
        "the model folder is damaged or was saved from a diverged run: use an earlier checkpoint");
  }
  policy->set_gradient_checkpointing(train.gradient_checkpointing);
  RunLineage lineage;
  lineage.device = device;
  lineage.threads = threads;
  lineage.initial_hash = model_content_hash(*policy);
  lineage.world_size = ranks.world_size();
  lineage.backend = ranks.backend();
  lineage.rank_devices = ranks.all_gather_text("devices", device.str());
  require_same_on_all_ranks(
      ranks, "data", "prepared file (its fingerprint)", data->header.fingerprint);
  // LoRA: adapters on the frozen base, fresh (B zero: the policy equals the base) or an existing
  // PEFT adapter (the policy is base + adapter).
  LoraRun lora;
  if (config.lora.enabled) {
    lora.enabled = true;
    lora.base_hash = lineage.initial_hash;
    lora.base_dir = model_dir;
    lora.config = config.lora;
    if (config.lora.init_adapter.empty()) {
      attach_lora(*policy, config.lora, train.seed);
    } else {
      lora.config = load_peft_adapter(*policy, config.lora.init_adapter, lora.base_hash).lora;
      lineage.initial_hash = combined_hash(lora.base_hash, lora_content_hash(*policy));
      if (config.lora.merge_init_adapter_into_reference) {
        keep_initial_lora(*policy);
        lora.reference_mode = LoraMode::initial;
      }
    }
    for (const auto& [name, tensor] : lora_parameters(*policy))
      lineage.lora_trainable += tensor.numel();
    DPO_LOG_INFO(
        "train",
        "LoRA rank %lld, alpha %g on %zu layers: %lld trainable parameters (base frozen, %s)",
        static_cast<long long>(lora.config.rank),
        lora.config.alpha,
        lora_adapted_paths(*policy).size(),
        static_cast<long long>(lineage.lora_trainable),
        model_dtype_name(dtype).c_str());
  }
  require_same_on_all_ranks(
      ranks,
      "initial",
      "initial policy (its content hash)",
      lora.enabled ? combined_hash(lineage.initial_hash, lora_content_hash(*policy))
                   : lineage.initial_hash);
  const int32_t pad_id = data->header.pad_id >= 0 ? data->header.pad_id : 0;
  DPO_LOG_INFO(
      "train",
      "policy %s (%lld parameters, %s on %s, %d threads); %zu train / %zu val pairs",
      model_dir.c_str(),
      static_cast<long long>(loaded.config.num_parameters()),
      model_dtype_name(dtype).c_str(),
      device.str().c_str(),
      threads,
      data->train.size(),
      data->val.size());

  // 3. Reference: a separate model (another folder, or in live mode a frozen copy of the
  // policy), and the log-probs of the pairs, cached in the prepared file under its hash.
  // LoRA: the policy itself with the adapters off (or at the init adapter), never a second model.
  lineage.reference_dir = config.reference.path.empty() ? model_dir : config.reference.path;
  lineage.reference_hash = lineage.initial_hash;
  if (lora.enabled) {
    const bool initial = lora.reference_mode == LoraMode::initial;
    lineage.reference_dir = initial ? model_dir + " + " + config.lora.init_adapter : model_dir;
    lineage.reference_hash = initial ? lineage.initial_hash : lora.base_hash;
  }
  LlamaForCausalLM reference_model{nullptr};
  if (!lora.enabled &&
      ((!config.reference.path.empty() && config.reference.path != model_dir) || live)) {
    LoadedModel reference_loaded = load_pretrained(lineage.reference_dir, dtype, device);
    const int64_t reference_context = reference_loaded.config.max_position_embeddings;
    require_fits_context(
        data->train, "train", reference_context, prepared_path, lineage.reference_dir);
    require_fits_context(data->val, "val", reference_context, prepared_path, lineage.reference_dir);
    reference_model = reference_loaded.model;
    reference_model->eval();
    lineage.reference_hash = model_content_hash(*reference_model);
  }
  // (A LoRA policy started from an adapter with dropout differs from its reference by the dropout.)
  const bool step0_check = lineage.reference_hash == lineage.initial_hash &&
                           !all_reference_free(config.loss) &&
                           !(lora.reference_mode == LoraMode::initial && lora.config.dropout > 0);
  std::optional<LoraModeScope> reference_adapters;
  if (!reference_model)
    reference_adapters.emplace(policy.get(), lora);
  const ReferenceLogps reference = reference_logprobs(
      reference_model ? *reference_model : *policy,
      *data,
      ReferenceSource{
          prepared_path,
          lineage.reference_hash,
          lineage.reference_dir,
          live,
          device,
          dtype,
          config.eval.batch_pairs,
          pad_id,
          &ranks});
  reference_adapters.reset();
  if (!live)
    reference_model = nullptr;  // frees it
  // How much the pairs can teach, from the reference margins (docs/evaluation.md): for `dpo
  // report` and one line here. Only a precomputed reference has every pair's margin.
  std::optional<Informativeness> informativeness;
  if (!live && main_rank) {
    const Informativeness& info =
        informativeness.emplace(dataset_informativeness(*data, reference, config));
    write_file_atomically(
        out_dir + "/informativeness.json",
        informativeness_to_json(info, informativeness_thresholds(config)) + "\n");
    std::printf("[data] %s\n", informativeness_summary(info.overall).c_str());
    std::fflush(stdout);
    for (const std::string& warning : informativeness_warnings(
             info.overall, config.check.max_easy_share, config.check.max_ambiguous_share))
      DPO_LOG_WARN("train", "%s", warning.c_str());
  }
  const ReferenceTensors train_reference = reference_tensors(reference.train, device);
  const size_t eval_limit = static_cast<size_t>(config.eval.max_pairs);
  const PreparedSplit val_eval = first_pairs(data->val, eval_limit);
  const ReferenceLogps::Split val_reference = first_pairs(reference.val, eval_limit);

  // 4. Optimizer, schedule, loader, run state (restored from LATEST on resume).
  // LoRA: only the adapters (and trained copies) get gradients, optimizer state and checkpoints.
  std::vector<NamedParameter> parameters =
      adamw_parameter_groups(lora.enabled ? lora_parameters(*policy) : named_parameters(*policy));
  AdamW optimizer(parameters, adamw_options(config));
  // Every rank's loader plans the global micro-batch (micro_batch_pairs x ranks) and builds its
  // shard of it; positions are global, so checkpoints resume on another number of ranks.
  GradientBuckets gradient_buckets(
      [&] {
        std::vector<at::Tensor> tensors;
        for (const NamedParameter& p : parameters)
          tensors.push_back(p.tensor);
        return tensors;
      }(),
      config.distributed.bucket_mib);
  BatchLoaderOptions loader_options;
  loader_options.batch_size = train.micro_batch_pairs * ranks.world_size();
  loader_options.shard_count = ranks.world_size();
  loader_options.shard_index = ranks.rank();
  loader_options.seed = train.seed;
  loader_options.pad_id = pad_id;
  loader_options.max_sequence_length = loaded.config.max_position_embeddings;
  BatchLoader loader(std::shared_ptr<const PreparedSplit>(data, &data->train), loader_options);
  const int64_t steps_per_epoch =
      std::max<int64_t>(1, (loader.batches_per_epoch() + train.grad_accum - 1) / train.grad_accum);
  const int64_t total_steps =
      train.max_steps > 0 ? train.max_steps : std::max<int64_t>(1, train.epochs * steps_per_epoch);
  const LrScheduleParams schedule{
      config.optim.lr,
      config.optim.warmup_steps,
      total_steps,
      config.optim.schedule,
      config.optim.min_lr_ratio};

  DivergenceMonitor monitor(divergence_thresholds(config.eval));
  CheckpointStore store(out_dir, static_cast<int>(train.keep_checkpoints));
  const std::string metrics_path = out_dir + "/metrics.jsonl";
  TrainResult result;
  result.informativeness = std::move(informativeness);
  TrainState state;  // what a checkpoint saves
  BcoState bco;
  if (flags.resume) {
    const ResumeContext context{
        data->header.fingerprint, lineage.reference_hash, total_steps, flags.allowed_changes};
    state = resume_from_latest(
        out_dir,
        store,
        config,
        context,
        *policy,
        lora,
        optimizer,
        loader,
        monitor,
        metrics_path,
        ranks);
    bco = BcoState::from_value(state.bco_mean, state.bco_count, device);
    result.bad_steps = state.bad_steps;
  }
  state.total_steps = total_steps;
  state.config = config;
  state.prepared_fingerprint = data->header.fingerprint;
  state.reference_hash = lineage.reference_hash;
  state.world_size = ranks.world_size();
  int64_t& step = state.step;
  std::optional<MetricsLog> metrics;  // rank 0's
  if (main_rank)
    metrics.emplace(metrics_path, flags.resume);
  HeldOutEvaluator held_out(
      *policy,
      val_eval,
      val_reference,
      config,
      device,
      pad_id,
      static_cast<double>(steps_per_epoch),
      monitor,
      metrics ? &*metrics : nullptr,
      result,
      ranks,
      data->header.source_files);
  auto checkpoint = [&]() {
    state.optimizer_steps = optimizer.steps();
    state.loader = loader.position();
    state.bco_mean = bco.mean_value();  // the one host sync of the running mean
    state.bco_count = bco.count;
    state.bad_steps = result.bad_steps;
    state.evaluations = monitor.history();
    // Replicated state: rank 0 writes it, and every rank waits until the rename is done.
    if (main_rank)
      save_checkpoint(store, *policy, optimizer, state, model_dir, lora);
    ranks.barrier("the checkpoint of step " + std::to_string(step));
  };

  // 5. Before training: held-out figures of the initial policy.
  policy->train();
  if (!flags.resume)
    result.initial_eval = held_out.evaluate(step, bco, nullptr);

  // 6. Steps.
  const bool tty = isatty(fileno(stdout));
  auto loop_start = std::chrono::steady_clock::now();
  auto log_start = loop_start;
  int64_t tokens_seen = 0, tokens_since_log = 0;
  LossSums since_log;
  std::vector<LossSums> step_history;  // this process's steps, for train_tail
  bool first_step_of_run = !flags.resume && step == 0;
  result.stop_reason = "max_steps";
  while (step < total_steps) {
    // 6a. Batches of this step (grad_accum micro-batches; with several ranks, this rank's shards).
    std::vector<Batch> batches;
    int64_t step_pairs = 0;  // of the whole step, over all ranks
    for (int64_t k = 0; k < train.grad_accum; ++k) {
      batches.push_back(loader.next());
      step_pairs += batches.back().global_pairs;
    }
    // 6b. Forward and backward, each micro-batch weighted by its share of the step's pairs (over
    // all ranks: the gradients summed over the ranks are then those of the whole step).
    const BcoState bco_before_step = bco;  // a skipped step leaves it as it was
    LossSums step_metrics;
    int64_t step_tokens = 0;
    for (const Batch& batch : batches) {
      if (batch.pairs == 0)
        continue;  // a last batch smaller than the number of ranks: nothing for this one
      // The shared and packed layouts are built on the CPU (model/packed_batch.h).
      const BatchTensors tensors = batch_to_tensors(batch, layout.padded() ? device : at::kCPU);
      const PairLogps pair = micro_batch_logps(
          *policy,
          live ? (lora.enabled ? policy.get() : reference_model.get()) : nullptr,
          lora,
          train_reference,
          batch,
          tensors,
          layout,
          device);
      // Step 0: the policy is the reference, so the two must agree before any update.
      if (first_step_of_run && step0_check)
        check_step0(pair, dtype, config.reference.step0_tolerance);

      LossOutput out = compute_loss(pair, config.loss, bco);
      bco = out.bco;
      if (std::find(flags.nan_loss_steps.begin(), flags.nan_loss_steps.end(), step + 1) !=
          flags.nan_loss_steps.end()) {
        out.loss = out.loss * std::nan("");  // testing aid: an overflowing step
        out.metrics.loss = std::nan("");
      }
      (out.loss * (static_cast<double>(batch.pairs) / static_cast<double>(step_pairs))).backward();
      step_metrics.add(out.metrics);
      step_tokens += tensors.tokens;
    }
    first_step_of_run = false;
    ++step;
    // Several ranks: gradients and figures summed over them (every rank then holds the same).
    gradient_buckets.sum_over_ranks(ranks, "the gradients of step " + std::to_string(step));
    sum_step_over_ranks(step_metrics, step_tokens, ranks, step);
    tokens_seen += step_tokens;
    tokens_since_log += step_tokens;

    // 6c. Non-finite guard, clipping, update. The loss and the gradients are the same on every
    // rank, so every rank decides alike.
    const double grad_norm = global_grad_norm(parameters);
    if (!std::isfinite(step_metrics.loss) || !std::isfinite(grad_norm)) {
      optimizer.zero_grad();
      bco = bco_before_step;
      ++result.bad_steps;
      ++state.consecutive_bad_steps;
      std::string ids;
      for (const std::string& rank_ids :
           ranks.all_gather_text("skipped/" + std::to_string(step), pair_ids(batches, data->train)))
        ids += (ids.empty() || rank_ids.empty() ? "" : ", ") + rank_ids;
      if (main_rank) {
        DPO_LOG_WARN(
            "train",
            "step %lld skipped: loss %g, gradient norm %g (pairs: %s)",
            static_cast<long long>(step),
            step_metrics.loss,
            grad_norm,
            ids.c_str());
        metrics->write_skipped(step, step_metrics.loss, grad_norm, ids);
      }
      // A non-finite loss from finite weights is a bad batch, worth skipping; from non-finite
      // weights or optimizer state (an earlier update overflowed) every later step is bad too.
      if (std::optional<std::string> bad = non_finite_state(*policy, optimizer, bco.mean_value())) {
        throw CheckpointError(
            "step " + std::to_string(step) + ": " + *bad +
                " is not finite (an earlier update overflowed): stopping without a checkpoint",
            last_checkpoint_note(store));
      }
      if (state.consecutive_bad_steps >= train.max_bad_steps) {
        result.stop_reason = "bad_steps";
        DPO_LOG_ERROR(
            "train",
            "%lld non-finite steps in a row: stopping; %s",
            static_cast<long long>(state.consecutive_bad_steps),
            last_checkpoint_note(store).c_str());
        break;
      }
      continue;
    }
    state.consecutive_bad_steps = 0;
    const double grad_clip = config.optim.grad_clip;
    if (grad_clip > 0 && grad_norm > grad_clip)
      scale_gradients(parameters, grad_clip / (grad_norm + 1e-6));
    const double lr = learning_rate(schedule, step);  // steps count from 1
    optimizer.step(lr);
    optimizer.zero_grad();
    if (flags.after_update)
      flags.after_update(step, optimizer);
    step_history.push_back(step_metrics);
    since_log.add(step_metrics);
    held_out.add_train(step_metrics);

    // 6d. Log.
    if (step % train.log_every_steps == 0 || step == total_steps) {
      const double seconds = seconds_since(log_start);
      const LossMeans mean = since_log.mean();
      StepFigures figures;
      figures.lr = lr;
      figures.grad_norm = grad_norm;
      figures.tokens = tokens_since_log;
      figures.tokens_per_s = seconds > 0 ? tokens_since_log / seconds : 0.0;
      figures.peak_memory_mib = peak_memory_mib(device);
      figures.tensor_peak_mib = tensor_peak_mib(device);
      figures.seconds = seconds_since(run_start);
      if (main_rank) {
        metrics->write_train(step, static_cast<double>(step) / steps_per_epoch, mean, figures);
        print_progress(step, total_steps, mean, figures, seconds_since(loop_start), tty);
      }
      since_log = LossSums{};
      tokens_since_log = 0;
      log_start = std::chrono::steady_clock::now();
    }

    // 6e. Evaluate, save, stop (a signal to any rank stops them all after this step).
    const int stop_signal = stop_signal_of_all_ranks(ranks, step);
    const bool interrupted =
        stop_signal != 0 || (flags.stop_after_steps > 0 && step >= flags.stop_after_steps);
    if (config.eval.every_steps > 0 && step % config.eval.every_steps == 0 && step < total_steps) {
      if (tty && main_rank)
        std::printf("\n");
      held_out.evaluate(step, bco, nullptr);
      if (config.eval.early_stop && monitor.latest_is_best() && main_rank) {
        save_policy(*policy, lora, out_dir + "/best", model_dir, /*overwrite=*/true);
      }
      if (config.eval.early_stop &&
          monitor.evaluations_since_best() >= static_cast<size_t>(config.eval.patience)) {
        result.stop_reason = "early_stop";
        break;
      }
    }
    if ((train.save_every_steps > 0 && step % train.save_every_steps == 0) || stop_signal != 0) {
      checkpoint();
    }
    if (interrupted) {
      result.stop_reason = "interrupted";
      result.stop_signal = stop_signal;
      break;
    }
  }
  if (tty && main_rank)
    std::printf("\n");
  result.steps = step;
  result.train_tail = tail_mean(step_history);
  result.seconds = seconds_since(run_start);
  result.tokens_per_second = result.seconds > 0 ? tokens_seen / seconds_since(loop_start) : 0;
  if (std::optional<std::string> latest = store.latest())
    result.last_checkpoint = *latest;
  if (result.stop_reason == "interrupted" || result.stop_reason == "bad_steps")
    return result;

  // 7. Final evaluation, per-pair audit file, final model, manifest (rank 0 writes them, once
  // every rank has shown that its replica ended with the same weights).
  EvalPairs pairs;
  result.final_eval = held_out.evaluate(step, bco, &pairs);
  result.final_dir = out_dir + "/final";
  if (lora.enabled) {
    lineage.final_base_hash = model_content_hash(*policy);  // the frozen base, as it ends
    lineage.final_hash = combined_hash(lineage.final_base_hash, lora_content_hash(*policy));
  } else {
    lineage.final_hash = model_content_hash(*policy);
  }
  require_same_on_all_ranks(ranks, "final", "final policy (its content hash)", lineage.final_hash);
  if (main_rank) {
    if (data->val.size() > 0)
      write_eval_pairs(
          out_dir + "/eval_pairs.jsonl", *data, pairs, tokenizer, config.data.slice_by);
    if (lora.enabled) {
      save_policy(*policy, lora, result.final_dir, model_dir, /*overwrite=*/true);
      if (train.merge_lora) {
        lineage.merged_dir = out_dir + "/final-merged";
        save_merged_model(*policy, loaded, config, lineage.merged_dir);
      }
    } else {
      save_final_model(*policy, loaded, config, dtype, result.final_dir);
    }
    write_manifest(config, *data, lineage, result);
    // The data's validation report (recorded by prepare), for `dpo report`'s data section.
    if (!data->header.validation_json.empty()) {
      write_file_atomically(out_dir + "/validate.json", data->header.validation_json + "\n");
    }
  }
  ranks.barrier("writing the final model");
  return result;
}

}  // namespace dpo
