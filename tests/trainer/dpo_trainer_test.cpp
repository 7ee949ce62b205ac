// End-to-end tests of the training loop (trainer/dpo_trainer.h): train_dpo, evaluate_model and
// score_prepared on a tiny world built in-process: generated support pairs (chosen answers verify
// the order first, rejected ones refund at once), a sentencepiece tokenizer trained on them, a
// 2-layer Llama with a 32-wide hidden state, and a prepared file. A run of 40 steps takes about a
// second on one thread.
#include "trainer/dpo_trainer.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/folder_lock.h"
#include "dataloader/prepare.h"
#include "dataloader/prepared_dataset.h"
#include "dataloader/tokenizer_training.h"
#include "model/checkpoint.h"
#include "pipeline/data_gates.h"
#include "pipeline/model_factory.h"
#include "templates/chat_template.h"
#include "tests/support/test_support.h"
#include "tests/trainer/tiny_world.h"
#include "tests/trainer/trainer_fixture.h"
#include "tokenizer/tokenizer.h"
#include "trainer/checkpoint_store.h"
#include "trainer/config.h"
#include "trainer/evaluation.h"
#include "trainer/scoring.h"
#include "trainer/train_state.h"

namespace dpo {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// ---- The tiny world ----------------------------------------------------------------------------

// Built once per process (about two seconds) and never written afterwards: a run caches reference
// log-probs inside its prepared file, so each test trains on its own copy (copy_prepared).
using testing::TinyWorld;
constexpr int kVocab = testing::kTinyWorldVocab;

PrepareOptions prepare_options(const std::string& pairs_path, const std::string& out_path) {
  PrepareOptions options;
  options.files = {pairs_path};
  options.max_length = 128;
  options.validate.val_fraction = 0.2;
  options.threads = 1;
  options.out_path = out_path;
  return options;
}

void build_world(TinyWorld& w) {
  testing::build_tiny_world(w, testing::support_pairs_jsonl(240), 0.2);
}

const TinyWorld& world() {
  static TinyWorld w;
  static bool built = (build_world(w), true);
  (void)built;
  return w;
}

// A private copy of the world's prepared file inside `dir`.
std::string copy_prepared(const testing::TempDir& dir, const std::string& name = "prepared.h5") {
  std::string path = dir.file(name);
  fs::copy_file(world().prepared_path, path, fs::copy_options::overwrite_existing);
  return path;
}

// Deterministic CPU settings that learn the easy preference in a few dozen steps: a high constant
// learning rate (the model is tiny and starts random), one thread, a metrics line every step, a
// checkpoint only when a test asks for one, held-out evaluations only before and after training.
Config tiny_config(const std::string& prepared_path, const std::string& out_dir) {
  Config config;
  config.data.prepared = prepared_path;
  config.model.path = world().model_dir;
  config.train.out_dir = out_dir;
  config.train.device = DeviceChoice::cpu;
  config.train.threads = 1;
  config.train.seed = 7;
  config.optim.lr = 5e-3;
  config.optim.schedule = ScheduleKind::constant;
  config.train.micro_batch_pairs = 8;
  config.train.max_steps = 40;
  config.train.log_every_steps = 1;
  config.train.save_every_steps = 0;
  config.eval.every_steps = 0;
  config.eval.batch_pairs = 16;
  return config;
}

// The model's tensors by name.
std::vector<std::pair<std::string, at::Tensor>> weights_of(const std::string& folder) {
  LoadedModel loaded = load_pretrained(folder, at::kFloat, at::kCPU);
  return model_state(*loaded.model);
}

// Same tensors, NaN in the same places, every other value equal.
void expect_same_weights(const std::string& a, const std::string& b) {
  auto left = weights_of(a), right = weights_of(b);
  ASSERT_EQ(left.size(), right.size());
  for (size_t i = 0; i < left.size(); ++i) {
    ASSERT_EQ(left[i].first, right[i].first);
    const at::Tensor& x = left[i].second;
    const at::Tensor& y = right[i].second;
    EXPECT_TRUE(at::equal(x.isnan(), y.isnan())) << left[i].first;
    EXPECT_TRUE(at::equal(at::nan_to_num(x, 0.0), at::nan_to_num(y, 0.0))) << left[i].first;
  }
}

// train loss by step, from metrics.jsonl (skipped steps left out).
std::map<int64_t, double> train_losses(const std::string& run_dir) {
  std::map<int64_t, double> out;
  for (const json& line : testing::metrics_lines(run_dir + "/metrics.jsonl", "train")) {
    if (line.value("skipped", false))
      continue;
    EXPECT_EQ(out.count(line["step"].get<int64_t>()), 0u) << "step logged twice: " << line.dump();
    out[line["step"].get<int64_t>()] = line["loss"].get<double>();
  }
  return out;
}

TEST(DpoTrainerWorld, HasBothSplits) {
  EXPECT_GE(world().train_pairs, 150u);
  EXPECT_GE(world().val_pairs, 20u);
  EXPECT_EQ(world().train_pairs + world().val_pairs, 240u);
}

// ---- 1. A short run ----------------------------------------------------------------------------

TEST(DpoTrainer, ShortRunLearnsTheEasyPreferenceAndWritesAnAuditableRun) {
  testing::TempDir dir;
  Config options = tiny_config(copy_prepared(dir), dir.file("run"));
  options.eval.every_steps = 20;
  TrainResult result = train_dpo(options);

  EXPECT_EQ(result.stop_reason, "max_steps");
  EXPECT_EQ(result.steps, 40);
  EXPECT_EQ(result.bad_steps, 0);
  // Before training the policy is the reference: every margin is 0, a tie counts 0.5.
  EXPECT_EQ(result.initial_eval.pairs, static_cast<int64_t>(world().val_pairs));
  EXPECT_EQ(result.initial_eval.rewards_accuracies, 0.5);
  EXPECT_NEAR(result.initial_eval.loss, std::log(2.0), 1e-6);
  // After 40 steps the held-out pairs (never trained on) are ranked right.
  EXPECT_GT(result.final_eval.rewards_accuracies, 0.8);
  EXPECT_LT(result.final_eval.loss, std::log(2.0));
  EXPECT_GT(result.final_eval.rewards_margins, 0);

  // metrics.jsonl: a train line per step and a val line per evaluation, with the documented keys.
  const std::string metrics = dir.file("run/metrics.jsonl");
  std::vector<json> train = testing::metrics_lines(metrics, "train");
  ASSERT_EQ(train.size(), 40u);
  for (const char* key :
       {"step",
        "epoch",
        "split",
        "loss",
        "rewards/chosen",
        "rewards/rejected",
        "rewards/margins",
        "rewards/accuracies",
        "logps/chosen",
        "logps/rejected",
        "logps/chosen_per_token",
        "logps/rejected_per_token",
        "pairs",
        "lr",
        "grad_norm",
        "tokens",
        "tokens_per_s",
        "peak_memory_mib",
        "tensor_peak_mib",
        "seconds"}) {
    EXPECT_TRUE(train.front().contains(key)) << key << " missing in " << train.front().dump();
  }
  for (size_t i = 0; i < train.size(); ++i)
    EXPECT_EQ(train[i]["step"], static_cast<int64_t>(i + 1));
  // One epoch is ceil(train pairs / 8) steps and sees every train pair once.
  const int64_t steps_per_epoch = static_cast<int64_t>((world().train_pairs + 7) / 8);
  ASSERT_LT(steps_per_epoch, 40);
  int64_t epoch_pairs = 0;
  for (int64_t i = 0; i < steps_per_epoch; ++i)
    epoch_pairs += train[static_cast<size_t>(i)]["pairs"].get<int64_t>();
  EXPECT_EQ(epoch_pairs, static_cast<int64_t>(world().train_pairs));
  // `tokens`: the real tokens through the policy, a pair's prompt once in each of its two
  // sequences; over an epoch, those of the whole train split.
  PreparedDataset prepared = read_prepared_dataset(options.data.prepared);
  int64_t epoch_tokens = 0;
  for (int64_t i = 0; i < steps_per_epoch; ++i)
    epoch_tokens += train[static_cast<size_t>(i)]["tokens"].get<int64_t>();
  EXPECT_EQ(
      epoch_tokens,
      static_cast<int64_t>(
          2 * prepared.train.prompt_ids.size() + prepared.train.chosen_ids.size() +
          prepared.train.rejected_ids.size()));
  // `peak_memory_mib`: on CPU the process's resident high-water mark, which never falls.
  EXPECT_GT(train.front()["peak_memory_mib"].get<double>(), 1.0);
  for (size_t i = 1; i < train.size(); ++i)
    EXPECT_GE(
        train[i]["peak_memory_mib"].get<double>(), train[i - 1]["peak_memory_mib"].get<double>());
  // `tensor_peak_mib`: on CPU the peak of live tensor bytes (weights, gradients, AdamW state and
  // activations, without LibTorch's own resident memory), which never falls either.
  EXPECT_GT(train.front()["tensor_peak_mib"].get<double>(), 0.0);
  EXPECT_LT(
      train.back()["tensor_peak_mib"].get<double>(), train.back()["peak_memory_mib"].get<double>());
  for (size_t i = 1; i < train.size(); ++i)
    EXPECT_GE(
        train[i]["tensor_peak_mib"].get<double>(), train[i - 1]["tensor_peak_mib"].get<double>());
  EXPECT_DOUBLE_EQ(train[static_cast<size_t>(steps_per_epoch - 1)]["epoch"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(train.front()["lr"].get<double>(), 5e-3);
  std::vector<json> val = testing::metrics_lines(metrics, "val");
  ASSERT_EQ(val.size(), 3u);  // before training, at step 20, at the end
  EXPECT_EQ(val[0]["step"], 0);
  EXPECT_EQ(val[1]["step"], 20);
  EXPECT_EQ(val[2]["step"], 40);
  EXPECT_TRUE(val[2].contains("alarms"));
  EXPECT_EQ(val[2]["rewards/accuracies"].get<double>(), result.final_eval.rewards_accuracies);

  // manifest.json: the lineage of the run.
  json manifest = json::parse(testing::read_file(dir.file("run/manifest.json")));
  PreparedHeader header = read_prepared_header(options.data.prepared);
  Tokenizer tokenizer = Tokenizer::from_model_folder(world().model_dir);
  EXPECT_FALSE(manifest["dpo_version"].get<std::string>().empty());
  EXPECT_EQ(manifest["config"], json::parse(to_json_text(options)));  // the config that ran
  EXPECT_EQ(manifest["data"]["prepared_fingerprint"], header.fingerprint);
  EXPECT_EQ(manifest["data"]["tokenizer_sha256"], tokenizer.sha256());
  EXPECT_EQ(manifest["data"]["template_sha256"], ChatTemplate::load(world().model_dir).sha256());
  EXPECT_EQ(manifest["model"]["content_hash"], world().model_hash);
  EXPECT_EQ(manifest["reference"]["content_hash"], world().model_hash);
  EXPECT_EQ(manifest["threads"], 1);
  EXPECT_EQ(manifest["result"]["stop_reason"], "max_steps");

  // The manifest's held-out figures are those of the first and last val lines, key by key
  // (means over the held-out pairs, divided once).
  const json& initial_val = manifest["result"]["initial_val"];
  const json& final_val = manifest["result"]["final_val"];
  for (const char* key :
       {"loss",
        "rewards/chosen",
        "rewards/rejected",
        "rewards/margins",
        "rewards/accuracies",
        "logps/chosen",
        "logps/rejected",
        "logps/chosen_per_token",
        "logps/rejected_per_token",
        "pairs"}) {
    ASSERT_TRUE(initial_val.contains(key)) << key;
    EXPECT_EQ(initial_val[key], val.front()[key]) << key;
    EXPECT_EQ(final_val[key], val.back()[key]) << key;
  }
  EXPECT_EQ(final_val["rewards/accuracies"].get<double>(), result.final_eval.rewards_accuracies);
  EXPECT_EQ(initial_val["rewards/accuracies"].get<double>(), 0.5);
  EXPECT_GT(final_val["rewards/accuracies"].get<double>(), 0.8);

  // final/: a Hugging Face folder that loads, holding the trained (not the initial) weights.
  EXPECT_EQ(result.final_dir, dir.file("run/final"));
  LoadedModel final_model = load_pretrained(result.final_dir, at::kFloat, at::kCPU);
  std::string final_hash = model_content_hash(*final_model.model);
  EXPECT_EQ(manifest["final_model"]["content_hash"], final_hash);
  EXPECT_NE(final_hash, world().model_hash);
  EXPECT_EQ(Tokenizer::from_model_folder(result.final_dir).sha256(), tokenizer.sha256());

  // eval_pairs.jsonl: one line per held-out pair, with its margin and decoded text.
  std::vector<json> pairs = testing::read_jsonl(dir.file("run/eval_pairs.jsonl"));
  ASSERT_EQ(pairs.size(), world().val_pairs);
  for (const json& pair : pairs) {
    EXPECT_NEAR(
        pair["margin"].get<double>(),
        pair["reward_chosen"].get<double>() - pair["reward_rejected"].get<double>(),
        1e-9);
    EXPECT_NE(
        pair["chosen"].get<std::string>().find("verify the order number first"), std::string::npos)
        << pair.dump();
    EXPECT_NE(
        pair["rejected"].get<std::string>().find("Refund issued right away"), std::string::npos);
    EXPECT_NE(pair["prompt"].get<std::string>().find("Can I get a refund?"), std::string::npos);
    EXPECT_EQ(pair["source_file"], world().pairs_path);
    EXPECT_GT(pair["source_line"].get<int64_t>(), 0);
  }
}

// train.dtype = bfloat16 is bf16 (fp32 master weights), not a dtype of its own: the two configs
// resolve to the same config and train to the same losses.
TEST(DpoTrainer, Bfloat16IsBf16WithMasterWeights) {
  testing::TempDir dir;
  Config alias = tiny_config(copy_prepared(dir, "alias.h5"), dir.file("alias"));
  Config bf16 = tiny_config(copy_prepared(dir, "bf16.h5"), dir.file("bf16"));
  alias.train.max_steps = bf16.train.max_steps = 3;
  apply_override(alias, "train.dtype=bfloat16");
  apply_override(bf16, "train.dtype=bf16");
  EXPECT_EQ(alias.train.dtype, TrainDtype::bf16);
  EXPECT_TRUE(adamw_options(alias).master_weights);
  EXPECT_FALSE(adamw_options(tiny_config("x.h5", "run")).master_weights);  // fp32
  Config pure = tiny_config("x.h5", "run");
  pure.train.dtype = TrainDtype::bf16_pure;
  EXPECT_FALSE(adamw_options(pure).master_weights);

  TrainResult a = train_dpo(alias);
  TrainResult b = train_dpo(bf16);
  ASSERT_EQ(a.stop_reason, "max_steps");
  std::map<int64_t, double> losses_a = train_losses(dir.file("alias")),
                            losses_b = train_losses(dir.file("bf16"));
  ASSERT_EQ(losses_a.size(), 3u);
  EXPECT_EQ(losses_a, losses_b);
  json manifest = json::parse(testing::read_file(dir.file("alias/manifest.json")));
  EXPECT_EQ(manifest["dtype"], "bf16");
  EXPECT_EQ(manifest["config"]["train"]["dtype"], "bf16");
}

// dpo check trains on a copy of its config with the check's steps, data and folder: the run
// records that config, not the one before the edits.
TEST(DataGates, TheCheckRunRecordsTheConfigThatRan) {
  testing::TempDir dir;
  CheckRequest request;
  request.files = {world().pairs_path};
  request.model_dir = world().model_dir;
  request.overrides = {
      "train.device=cpu",
      "train.threads=1",
      "train.micro_batch_pairs=8",
      "data.max_length=128",
      "data.val_fraction=0.2"};
  request.steps = 6;
  request.out_dir = dir.file("check");
  CheckOutcome outcome = run_check(request);
  json manifest = json::parse(testing::read_file(outcome.run_dir + "/manifest.json"));
  EXPECT_EQ(manifest["result"]["steps"], 6);
  EXPECT_EQ(manifest["config"]["train"]["max_steps"], 6);  // not check.steps (60) nor 0
  EXPECT_EQ(manifest["config"]["train"]["out_dir"], outcome.run_dir);
  EXPECT_EQ(manifest["config"]["train"]["save_every_steps"], 0);
  EXPECT_EQ(manifest["config"]["eval"]["every_steps"], 2);
  EXPECT_EQ(manifest["config"]["data"]["prepared"], dir.file("check/prepared.h5"));
  EXPECT_EQ(manifest["config"]["model"]["path"], world().model_dir);
  EXPECT_EQ(manifest["data"]["prepared_path"], dir.file("check/prepared.h5"));
}

// ---- 2. The step-0 check -----------------------------------------------------------------------

// Caches the reference log-probs of the initial model, then shifts every chosen one by 2 nats (as a
// stale cache would be). Returns the clean figures.
ReferenceLogps corrupt_reference_cache(const std::string& prepared_path) {
  ScoreRequest score;
  score.model_dir = world().model_dir;
  score.prepared_path = prepared_path;
  score.device = DeviceChoice::cpu;
  score.threads = 1;
  score.write_reference = true;
  score_prepared(score);
  std::optional<ReferenceLogps> cached = read_reference_logps(prepared_path, world().model_hash);
  if (!cached)
    throw std::runtime_error("score_prepared wrote no reference group");
  ReferenceLogps clean = *cached;
  for (double& value : cached->train.chosen_logps)
    value += 2.0;
  for (double& value : cached->val.chosen_logps)
    value += 2.0;
  write_reference_logps(prepared_path, *cached);
  return clean;
}

TEST(DpoTrainer, StaleReferenceCacheFailsTheStep0Check) {
  testing::TempDir dir;
  Config options = tiny_config(copy_prepared(dir), dir.file("run"));
  corrupt_reference_cache(options.data.prepared);
  try {
    train_dpo(options);
    FAIL() << "expected a CacheError";
  } catch (const CacheError& error) {
    std::string message = error.what();
    EXPECT_NE(message.find("step-0 check failed"), std::string::npos) << message;
    EXPECT_NE(message.find("reference.mode=live"), std::string::npos) << message;
  }
  // Nothing was trained: no checkpoint, no final model.
  EXPECT_FALSE(fs::exists(dir.file("run/final")));
  EXPECT_FALSE(fs::exists(dir.file("run/checkpoints/LATEST")));
}

// The way out the message suggests: live mode runs the frozen reference beside the policy and does
// not trust the stale cache, neither for the steps nor for evaluation.
TEST(DpoTrainer, LiveReferenceRunsDespiteAStaleCache) {
  testing::TempDir dir;
  Config options = tiny_config(copy_prepared(dir), dir.file("run"));
  ReferenceLogps clean = corrupt_reference_cache(options.data.prepared);
  options.reference.mode = ReferenceMode::live;
  options.train.max_steps = 10;
  TrainResult result = train_dpo(options);
  EXPECT_EQ(result.stop_reason, "max_steps");
  EXPECT_EQ(result.steps, 10);
  // Evaluated against the real reference (the initial policy): zero rewards before training.
  EXPECT_EQ(result.initial_eval.rewards_accuracies, 0.5);
  EXPECT_NEAR(result.initial_eval.rewards_chosen, 0.0, 1e-6);
  EXPECT_NEAR(result.initial_eval.loss, std::log(2.0), 1e-6);
  std::vector<json> train = testing::metrics_lines(dir.file("run/metrics.jsonl"), "train");
  ASSERT_EQ(train.size(), 10u);
  // Step 1 starts at the reference: loss ln 2 exactly up to float rounding.
  EXPECT_NEAR(train.front()["loss"].get<double>(), std::log(2.0), 1e-5);
  json manifest = json::parse(testing::read_file(dir.file("run/manifest.json")));
  EXPECT_EQ(manifest["reference"]["mode"], "live");
  // No pair's reference margin is known before the steps: no informativeness.json.
  EXPECT_FALSE(std::filesystem::exists(dir.file("run/informativeness.json")));
  // The stale cache was left alone (live mode neither reads nor writes it).
  std::optional<ReferenceLogps> cached =
      read_reference_logps(options.data.prepared, world().model_hash);
  ASSERT_TRUE(cached.has_value());
  EXPECT_EQ(cached->val.chosen_logps[0], clean.val.chosen_logps[0] + 2.0);
  EXPECT_EQ(cached->train.chosen_logps[0], clean.train.chosen_logps[0] + 2.0);
}

// ---- 3. The non-finite guard -------------------------------------------------------------------

// A copy of the initial model with one NaN in the final norm's weight: every logit, log-prob, loss
// and gradient of it is NaN.
std::string write_nan_model(const testing::TempDir& dir) {
  LoadedModel loaded = load_pretrained(world().model_dir, at::kFloat, at::kCPU);
  bool found = false;
  for (auto& [name, tensor] : model_state(*loaded.model)) {
    if (name == "model.norm.weight") {
      at::NoGradGuard no_grad;
      tensor[0].fill_(std::nan(""));
      found = true;
    }
  }
  EXPECT_TRUE(found);
  SaveOptions save;
  save.tokenizer_source = world().model_dir;
  save_pretrained(*loaded.model, dir.file("nan_model"), save);
  return dir.file("nan_model");
}

// The optimizer's parameter named `name`.
const NamedParameter& parameter(const AdamW& optimizer, const std::string& name) {
  for (const NamedParameter& p : optimizer.parameters()) {
    if (p.name == name)
      return p;
  }
  throw std::runtime_error("no parameter " + name);
}

// Steps whose loss overflows (the testing aid makes it NaN) are skipped: no weight and no
// optimizer moment moves.
TEST(DpoTrainer, NonFiniteStepsAreSkippedWithoutTouchingTheWeights) {
  testing::TempDir dir;
  Config options = tiny_config(copy_prepared(dir), dir.file("run"));
  options.train.max_steps = 2;  // fewer than max_bad_steps: the run ends normally ...
  options.train.max_bad_steps = 3;
  RunFlags flags;
  flags.nan_loss_steps = {1, 2};
  TrainResult result = train_dpo(options, flags);
  EXPECT_EQ(result.stop_reason, "max_steps");
  EXPECT_EQ(result.bad_steps, 2);
  // ... and final/ shows that neither step moved a weight (or the optimizer's moments, which
  // would have moved the weights of the next step).
  ASSERT_FALSE(result.final_dir.empty());
  expect_same_weights(result.final_dir, options.model.path);

  std::vector<json> train = testing::metrics_lines(dir.file("run/metrics.jsonl"), "train");
  ASSERT_EQ(train.size(), 2u);
  for (size_t i = 0; i < train.size(); ++i) {
    EXPECT_EQ(train[i]["step"], static_cast<int64_t>(i + 1));
    EXPECT_EQ(train[i]["skipped"], true);
    EXPECT_TRUE(train[i]["loss"].is_null());  // NaN is written as null
    EXPECT_NE(train[i]["pair_ids"].get<std::string>().find("pair-"), std::string::npos);
  }
}

TEST(DpoTrainer, MaxBadStepsInARowStopTheRunAndNameTheLastCheckpoint) {
  testing::TempDir dir;
  Config options = tiny_config(copy_prepared(dir), dir.file("run"));
  options.train.max_steps = 20;
  options.train.max_bad_steps = 3;
  options.train.save_every_steps = 1;
  options.train.keep_checkpoints = 1;
  RunFlags flags;
  flags.nan_loss_steps = {3, 4, 5, 6, 7};
  ::testing::internal::CaptureStderr();
  TrainResult result = train_dpo(options, flags);
  const std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(result.stop_reason, "bad_steps");
  EXPECT_EQ(result.steps, 5);
  EXPECT_EQ(result.bad_steps, 3);
  EXPECT_TRUE(result.final_dir.empty());
  EXPECT_FALSE(fs::exists(dir.file("run/final")));
  // No bad step is checkpointed; the message names the one that is there.
  const std::string step2 = dir.file("run/checkpoints/step-00000002");
  EXPECT_EQ(CheckpointStore(options.train.out_dir, 1).latest().value(), step2);
  EXPECT_EQ(result.last_checkpoint, step2);
  EXPECT_NE(
      log.find(
          "3 non-finite steps in a row: stopping; the last checkpoint, " + step2 + ", is intact"),
      std::string::npos)
      << log;
  std::vector<json> train = testing::metrics_lines(dir.file("run/metrics.jsonl"), "train");
  ASSERT_EQ(train.size(), 5u);
  for (size_t i = 2; i < 5; ++i)
    EXPECT_EQ(train[i]["skipped"], true);
}

// What a checkpoint refused for non-finite state leaves: LATEST and the last good checkpoint as
// they were (keep_checkpoints 1: rotation would have deleted it), no new folder, no temporary.
void expect_only_checkpoint(const std::string& out_dir, const std::string& name) {
  EXPECT_EQ(CheckpointStore(out_dir, 1).latest().value(), out_dir + "/checkpoints/" + name);
  std::vector<std::string> entries;
  for (const auto& entry : fs::directory_iterator(out_dir + "/checkpoints"))
    entries.push_back(entry.path().filename().string());
  std::sort(entries.begin(), entries.end());
  EXPECT_EQ(entries, (std::vector<std::string>{"LATEST", name}));
  const TrainState state =
      read_train_state(out_dir + "/checkpoints/" + name + "/trainer_state.json");
  EXPECT_EQ(CheckpointStore::folder_name(static_cast<uint64_t>(state.step)), name);
  for (const auto& [tensor_name, tensor] : weights_of(out_dir + "/checkpoints/" + name + "/model"))
    EXPECT_TRUE(at::isfinite(tensor).all().item<bool>()) << tensor_name;
}

// NaN in the optimizer's state (here put there after step 4's update; an overflowing second
// moment does the same) must never reach a checkpoint: the run stops with the tensor named and a
// true statement about the last checkpoint.
TEST(DpoTrainer, NonFiniteOptimizerStateIsNeverCheckpointed) {
  for (const std::string slot : {"exp_avg", "exp_avg_sq"}) {
    SCOPED_TRACE(slot);
    testing::TempDir dir;
    Config options = tiny_config(copy_prepared(dir), dir.file("run"));
    options.train.max_steps = 10;
    options.train.save_every_steps = 2;
    options.train.keep_checkpoints = 1;
    RunFlags flags;
    const std::string key = "model.layers.1.mlp.down_proj.weight." + slot;
    flags.after_update = [&](int64_t step, AdamW& optimizer) {
      if (step != 4)
        return;
      std::map<std::string, at::Tensor> state = optimizer.state_tensors();
      state[key] = state.at(key).clone();
      state[key].view(-1)[5].fill_(slot == "exp_avg" ? std::nan("") : INFINITY);
      optimizer.load_state(state, optimizer.steps());
    };
    try {
      train_dpo(options, flags);
      FAIL() << "expected CheckpointError";
    } catch (const CheckpointError& error) {
      const std::string message = error.what();
      EXPECT_NE(
          message.find(
              "step 4: the optimizer state '" + key + "' (" +
              (slot == "exp_avg" ? "1 NaN, 0 Inf" : "0 NaN, 1 Inf") +
              " of 2048 values) is not finite, so no checkpoint was written"),
          std::string::npos)
          << message;
      EXPECT_NE(
          error.hint().find(
              "the last checkpoint, " + dir.file("run/checkpoints/step-00000002") + ", is intact"),
          std::string::npos)
          << error.hint();
    }
    expect_only_checkpoint(options.train.out_dir, "step-00000002");
    EXPECT_FALSE(fs::exists(dir.file("run/final")));
  }
}

// A weight that turns NaN (an update overflowed) makes every later step non-finite: the guard
// does not skip steps forever, it stops at once, naming the weight, and nothing is checkpointed.
TEST(DpoTrainer, NonFiniteWeightsStopTheRunAtTheFirstBadStep) {
  testing::TempDir dir;
  Config options = tiny_config(copy_prepared(dir), dir.file("run"));
  options.train.max_steps = 10;
  options.train.save_every_steps = 2;
  options.train.keep_checkpoints = 1;
  options.train.max_bad_steps = 5;
  RunFlags flags;
  flags.after_update = [](int64_t step, AdamW& optimizer) {
    if (step != 3)
      return;
    at::NoGradGuard no_grad;
    parameter(optimizer, "model.norm.weight").tensor.detach()[0].fill_(std::nan(""));
  };
  try {
    train_dpo(options, flags);
    FAIL() << "expected CheckpointError";
  } catch (const CheckpointError& error) {
    const std::string message = error.what();
    EXPECT_NE(
        message.find("step 4: the weight 'model.norm.weight' (1 NaN, 0 Inf of 32 values) is not "
                     "finite (an earlier update overflowed)"),
        std::string::npos)
        << message;
    EXPECT_NE(
        error.hint().find(
            "the last checkpoint, " + dir.file("run/checkpoints/step-00000002") + ", is intact"),
        std::string::npos)
        << error.hint();
  }
  expect_only_checkpoint(options.train.out_dir, "step-00000002");
  // The bad step is logged before the stop.
  std::vector<json> train = testing::metrics_lines(dir.file("run/metrics.jsonl"), "train");
  ASSERT_EQ(train.size(), 4u);
  EXPECT_EQ(train[3]["skipped"], true);
}

// Before any checkpoint: the message says that none was written (and does not claim one is
// intact).
TEST(DpoTrainer, NonFiniteStateBeforeTheFirstCheckpointSaysNoneWasWritten) {
  testing::TempDir dir;
  Config options = tiny_config(copy_prepared(dir), dir.file("run"));
  options.train.max_steps = 4;
  options.train.save_every_steps = 2;
  RunFlags flags;
  flags.after_update = [](int64_t step, AdamW& optimizer) {
    if (step == 2) {
      at::NoGradGuard no_grad;
      parameter(optimizer, "lm_head.weight").tensor.detach()[3][1].fill_(INFINITY);
    }
  };
  try {
    train_dpo(options, flags);
    FAIL() << "expected CheckpointError";
  } catch (const CheckpointError& error) {
    EXPECT_NE(
        std::string(error.what()).find("the weight 'lm_head.weight' (0 NaN, 1 Inf"),
        std::string::npos)
        << error.what();
    EXPECT_NE(error.hint().find("no checkpoint was written in this run"), std::string::npos);
  }
  EXPECT_FALSE(fs::exists(dir.file("run/checkpoints/LATEST")));
  EXPECT_FALSE(fs::exists(dir.file("run/checkpoints/step-00000002")));
}

// A NaN policy is refused before any step, naming the weight; a NaN reference before its
// log-probs reach the cache, naming the pair and the weight.
TEST(DpoTrainer, ANanPolicyIsRefusedBeforeAnyStep) {
  for (std::string mode : {"precomputed", "live"}) {
    SCOPED_TRACE(mode);
    testing::TempDir dir;
    Config options = tiny_config(copy_prepared(dir), dir.file("run"));
    options.model.path = write_nan_model(dir);
    options.reference.mode = mode == "live" ? ReferenceMode::live : ReferenceMode::precomputed;
    try {
      train_dpo(options);
      FAIL() << "expected a CheckpointError";
    } catch (const CheckpointError& error) {
      std::string message = error.what();
      EXPECT_NE(
          message.find(
              "the initial policy '" + options.model.path +
              "' holds non-finite weights: 'model.norm.weight' (1 NaN"),
          std::string::npos)
          << message;
    }
    EXPECT_FALSE(fs::exists(dir.file("run/final")));
    EXPECT_FALSE(fs::exists(dir.file("run/metrics.jsonl")));
  }
}

TEST(DpoTrainer, ANanReferenceIsRefusedBeforeAnythingIsCached) {
  for (std::string mode : {"precomputed", "live"}) {
    SCOPED_TRACE(mode);
    testing::TempDir dir;
    Config options = tiny_config(copy_prepared(dir), dir.file("run"));
    options.reference.path = write_nan_model(dir);
    options.reference.mode = mode == "live" ? ReferenceMode::live : ReferenceMode::precomputed;
    try {
      train_dpo(options);
      FAIL() << "expected a CheckpointError";
    } catch (const CheckpointError& error) {
      std::string message = error.what();
      EXPECT_NE(
          message.find(
              "the reference model '" + options.reference.path +
              "' gives non-finite log-probs (chosen "),
          std::string::npos)
          << message;
      // The first pair of the first batch scored: train in precomputed mode, val in live mode.
      EXPECT_NE(
          message.find(std::string(") for ") + (mode == "live" ? "val" : "train") + " pair "),
          std::string::npos)
          << message;
      EXPECT_NE(message.find(" (id 'pair-"), std::string::npos) << message;
      EXPECT_NE(
          message.find("its weight 'model.norm.weight' (1 NaN, 0 Inf of 32 values) is not finite"),
          std::string::npos)
          << message;
    }
    EXPECT_FALSE(fs::exists(dir.file("run/final")));
    EXPECT_TRUE(list_reference_logps(options.data.prepared).empty());
  }
}

// Reference log-probs cached with a NaN (a damaged file) are refused when read, by train and eval.
TEST(DpoTrainer, NonFiniteCachedReferenceLogProbsAreACacheError) {
  testing::TempDir dir;
  const std::string prepared = copy_prepared(dir);
  ScoreRequest score;
  score.model_dir = world().model_dir;
  score.prepared_path = prepared;
  score.device = DeviceChoice::cpu;
  score.threads = 1;
  score.write_reference = true;
  score_prepared(score);
  ReferenceLogps cached = read_reference_logps(prepared, world().model_hash).value();
  cached.val.rejected_logps[2] = -INFINITY;
  write_reference_logps(prepared, cached);

  Config options = tiny_config(prepared, dir.file("run"));
  try {
    train_dpo(options);
    FAIL() << "expected CacheError";
  } catch (const CacheError& error) {
    EXPECT_NE(
        std::string(error.what())
            .find(
                "the cached reference log-probs in '" + prepared +
                "' are not finite for val pair 2"),
        std::string::npos)
        << error.what();
  }
  EXPECT_THROW(
      evaluate_model(
          world().model_dir, prepared, "", LossConfig{}, DeviceChoice::cpu, TrainDtype::fp32, 8),
      CacheError);
}

// ---- 4. Bitwise resume -------------------------------------------------------------------------

TEST(DpoTrainer, ResumedRunRepeatsTheUninterruptedLossesBitForBit) {
  testing::TempDir dir;
  const std::string prepared = copy_prepared(dir);
  Config a = tiny_config(prepared, dir.file("a"));
  a.train.max_steps = 12;
  a.train.save_every_steps = 2;
  a.eval.every_steps = 4;
  a.train.grad_accum = 2;
  a.train.micro_batch_pairs = 4;
  a.optim.schedule = ScheduleKind::cosine;  // the schedule must continue where it stopped
  a.optim.warmup_steps = 3;
  TrainResult straight = train_dpo(a);
  ASSERT_EQ(straight.stop_reason, "max_steps");

  // B: the same run, stopped after step 7 as if killed (the last checkpoint is step 6), then
  // resumed in the same folder.
  Config b = a;
  b.train.out_dir = dir.file("b");
  RunFlags flags;
  flags.stop_after_steps = 7;
  TrainResult first = train_dpo(b, flags);
  EXPECT_EQ(first.stop_reason, "interrupted");
  EXPECT_EQ(first.steps, 7);
  ASSERT_EQ(
      CheckpointStore(b.train.out_dir, static_cast<int>(b.train.keep_checkpoints)).latest(),
      dir.file("b/checkpoints/") + CheckpointStore::folder_name(6));
  EXPECT_EQ(train_losses(b.train.out_dir).size(), 7u);  // step 7 is logged, and dropped on resume
  flags.stop_after_steps = 0;
  flags.resume = true;
  TrainResult resumed = train_dpo(b, flags);
  EXPECT_EQ(resumed.stop_reason, "max_steps");
  EXPECT_EQ(resumed.steps, 12);

  std::map<int64_t, double> expected = train_losses(a.train.out_dir),
                            actual = train_losses(b.train.out_dir);
  ASSERT_EQ(expected.size(), 12u);
  ASSERT_EQ(actual.size(), 12u);
  for (const auto& [step, loss] : expected) {
    ASSERT_EQ(actual.count(step), 1u) << "step " << step;
    EXPECT_EQ(actual[step], loss) << "step " << step;  // bit for bit, not approximately
  }
  std::vector<json> val_a = testing::metrics_lines(a.train.out_dir + "/metrics.jsonl", "val");
  std::vector<json> val_b = testing::metrics_lines(b.train.out_dir + "/metrics.jsonl", "val");
  ASSERT_EQ(val_a.size(), val_b.size());
  for (size_t i = 0; i < val_a.size(); ++i) {
    EXPECT_EQ(val_a[i]["step"], val_b[i]["step"]);
    EXPECT_EQ(val_a[i]["loss"].get<double>(), val_b[i]["loss"].get<double>()) << "eval " << i;
  }
  // The final weights are the same bytes.
  json manifest_a = json::parse(testing::read_file(a.train.out_dir + "/manifest.json"));
  json manifest_b = json::parse(testing::read_file(b.train.out_dir + "/manifest.json"));
  EXPECT_EQ(manifest_a["final_model"]["content_hash"], manifest_b["final_model"]["content_hash"]);
  EXPECT_EQ(straight.final_eval.loss, resumed.final_eval.loss);
}

// Less work per pair: every combination of train.prefix_sharing and train.padding_free trains
// the same (float noise apart) with the precomputed and with the live reference, and the run
// records the layout it used.
TEST(DpoTrainer, PairLayoutsTrainTheSame) {
  EXPECT_TRUE(Config{}.train.prefix_sharing);  // on by default
  EXPECT_TRUE(Config{}.train.padding_free);
  testing::TempDir dir;
  for (const ReferenceMode mode : {ReferenceMode::precomputed, ReferenceMode::live}) {
    std::map<int64_t, double> baseline;
    double baseline_final = 0;
    for (const bool sharing : {false, true}) {
      for (const bool packing : {false, true}) {
        const std::string name = std::string(mode == ReferenceMode::live ? "live" : "cached") +
                                 (sharing ? "-shared" : "-unshared") +
                                 (packing ? "-packed" : "-padded");
        Config c = tiny_config(copy_prepared(dir, name + ".h5"), dir.file(name));
        c.train.max_steps = 6;
        c.train.micro_batch_pairs = 4;
        c.train.grad_accum = 2;
        c.reference.mode = mode;
        c.train.prefix_sharing = sharing;
        c.train.padding_free = packing;
        TrainResult result = train_dpo(c);
        ASSERT_EQ(result.stop_reason, "max_steps") << name;
        const std::map<int64_t, double> losses = train_losses(c.train.out_dir);
        ASSERT_EQ(losses.size(), 6u) << name;
        if (!sharing && !packing) {  // the padded forward, run first
          baseline = losses;
          baseline_final = result.final_eval.loss;
          // Not a vacuous comparison: the policy moves.
          EXPECT_GT(std::abs(losses.rbegin()->second - losses.begin()->second), 1e-3);
        }
        for (const auto& [step, loss] : baseline)
          EXPECT_NEAR(losses.at(step), loss, 1e-5) << name << " step " << step;
        EXPECT_NEAR(result.final_eval.loss, baseline_final, 1e-5) << name;
        json manifest = json::parse(testing::read_file(c.train.out_dir + "/manifest.json"));
        EXPECT_EQ(manifest["pair_layout"]["prefix_sharing"], sharing) << name;
        EXPECT_EQ(manifest["pair_layout"]["padding_free"], packing) << name;
        EXPECT_EQ(manifest["config"]["train"]["prefix_sharing"], sharing) << name;
        EXPECT_EQ(manifest["config"]["train"]["padding_free"], packing) << name;
      }
    }
  }
}

TEST(DpoTrainer, ResumeWithoutACheckpointIsACheckpointError) {
  testing::TempDir dir;
  Config options = tiny_config(copy_prepared(dir), dir.file("run"));
  RunFlags flags;
  flags.resume = true;
  EXPECT_THROW(train_dpo(options, flags), CheckpointError);
}

// ---- 4b. What --resume checks ------------------------------------------------------------------

// A run stopped after step 5 with checkpoints at steps 2 and 4 (LATEST), in `dir`/base.
Config stopped_run(const testing::TempDir& dir) {
  Config config = tiny_config(copy_prepared(dir), dir.file("base"));
  config.train.max_steps = 8;
  config.train.save_every_steps = 2;
  config.train.keep_checkpoints = 2;
  config.train.micro_batch_pairs = 4;
  RunFlags flags;
  flags.stop_after_steps = 5;
  EXPECT_EQ(train_dpo(config, flags).stop_reason, "interrupted");
  return config;
}

// A copy of the stopped run in `name`, and its config pointing there.
Config copy_of_run(const testing::TempDir& dir, const Config& base, const std::string& name) {
  fs::copy(base.train.out_dir, dir.file(name), fs::copy_options::recursive);
  Config config = base;
  config.train.out_dir = dir.file(name);
  return config;
}

// The CheckpointError message of resuming `config` (with `allowed` changes), "" when it resumes.
std::string resume_error(const Config& config, const std::vector<std::string>& allowed = {}) {
  RunFlags flags;
  flags.resume = true;
  flags.allowed_changes = allowed;
  try {
    train_dpo(config, flags);
    return "";
  } catch (const CheckpointError& error) {
    return error.what();
  }
}

TEST(DpoTrainerResume, ChecksTheConfigTheStateAndLatest) {
  testing::TempDir dir;
  const Config base = stopped_run(dir);
  const std::string state_name = "checkpoints/step-00000004/trainer_state.json";

  {  // A changed micro-batch size would reuse the cursor in another unit: refused, listed.
    Config config = copy_of_run(dir, base, "micro");
    config.train.micro_batch_pairs = 8;
    config.optim.lr = 1e-3;
    const std::string message = resume_error(config);
    EXPECT_NE(
        message.find("cannot resume from '" + config.train.out_dir + "/" + state_name),
        std::string::npos)
        << message;
    EXPECT_NE(message.find("train.micro_batch_pairs: 4 -> 8"), std::string::npos) << message;
    EXPECT_NE(message.find("optim.lr: 0.005 -> 0.001"), std::string::npos) << message;
    // Nothing was loaded or cut: metrics.jsonl still holds the 5 steps.
    EXPECT_EQ(train_losses(config.train.out_dir).size(), 5u);
    // Allowed explicitly, the run continues.
    EXPECT_EQ(resume_error(config, {"train.micro_batch_pairs", "optim.lr"}), "");
  }
  {  // Harmless changes only make a note.
    Config config = copy_of_run(dir, base, "harmless");
    config.train.log_every_steps = 2;
    config.train.save_every_steps = 3;
    config.eval.every_steps = 3;
    ::testing::internal::CaptureStderr();
    const std::string message = resume_error(config);
    const std::string log = ::testing::internal::GetCapturedStderr();
    EXPECT_EQ(message, "");
    EXPECT_NE(
        log.find("resuming with a changed setting: train.log_every_steps: 1 -> 2"),
        std::string::npos)
        << log;
  }
  {  // A trainer state that claims step 9999 does not "finish" the run.
    Config config = copy_of_run(dir, base, "step9999");
    const std::string path = config.train.out_dir + "/" + state_name;
    json state = json::parse(testing::read_file(path));
    state["step"] = 9999;
    testing::write_file(path, state.dump(2));
    const std::string message = resume_error(config);
    EXPECT_NE(
        message.find("'" + path + "': key 'step' (9999) is past key 'total_steps' (8)"),
        std::string::npos)
        << message;
    EXPECT_FALSE(fs::exists(config.train.out_dir + "/final"));
  }
  {  // A cursor past the epoch.
    Config config = copy_of_run(dir, base, "cursor");
    const std::string path = config.train.out_dir + "/" + state_name;
    json state = json::parse(testing::read_file(path));
    state["loader_cursor"] = 100000;
    testing::write_file(path, state.dump(2));
    EXPECT_NE(
        resume_error(config).find("'" + path + "': key 'loader_cursor' (100000)"),
        std::string::npos);
  }
  {  // A deleted trainer_state.json is named as missing.
    Config config = copy_of_run(dir, base, "deleted");
    fs::remove(config.train.out_dir + "/" + state_name);
    const std::string message = resume_error(config);
    EXPECT_NE(
        message.find(
            "checkpoint '" + config.train.out_dir +
            "/checkpoints/step-00000004' is incomplete: trainer_state.json is "
            "missing"),
        std::string::npos)
        << message;
  }
  {  // LATEST pointing into another run's folder is not followed.
    Config config = copy_of_run(dir, base, "elsewhere");
    testing::write_file(
        config.train.out_dir + "/checkpoints/LATEST", "../../base/checkpoints/step-00000004\n");
    EXPECT_NE(
        resume_error(config).find("which is not the name of a checkpoint folder"),
        std::string::npos);
  }
  {  // Another prepared file (same path): refused by its fingerprint.
    Config config = copy_of_run(dir, base, "data");
    PrepareOptions prepare = prepare_options(world().pairs_path, dir.file("other.h5"));
    prepare.model_dir = world().model_dir;
    prepare.validate.val_fraction = 0.3;
    prepare_dataset(prepare);
    config.data.prepared = prepare.out_path;
    EXPECT_NE(resume_error(config).find("prepared data fingerprint: "), std::string::npos);
  }
  {  // The unchanged run resumes to the end.
    Config config = copy_of_run(dir, base, "same");
    EXPECT_EQ(resume_error(config), "");
    EXPECT_EQ(train_losses(config.train.out_dir).size(), 8u);
  }
}

// A run killed while writing leaves temporaries; the next start in the folder removes them and
// names each one.
TEST(DpoTrainerResume, StaleTemporariesOfAKilledRunAreRemovedAtTheNextStart) {
  testing::TempDir dir;
  const Config base = stopped_run(dir);
  Config config = copy_of_run(dir, base, "killed");
  pid_t child = fork();
  if (child == 0)
    _exit(0);
  int status = 0;
  waitpid(child, &status, 0);  // a pid that is gone
  const std::string dead = std::to_string(child);
  const std::string out = config.train.out_dir;
  fs::create_directories(out + "/checkpoints/step-00000006.tmp/model");
  testing::write_file(out + "/checkpoints/step-00000006.tmp/model/config.json", "{");
  const std::vector<std::string> stale = {
      out + "/checkpoints/step-00000006.tmp",
      out + "/metrics.jsonl.tmp." + dead + ".0",
      out + "/checkpoints/LATEST.tmp." + dead + ".4",
      out + "/manifest.json.tmp." + dead + ".2"};
  for (size_t i = 1; i < stale.size(); ++i)
    testing::write_file(stale[i], "torn");
  ::testing::internal::CaptureStderr();
  const std::string message = resume_error(config);
  const std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(message, "");
  for (const std::string& path : stale) {
    EXPECT_FALSE(fs::exists(path)) << path;
    EXPECT_NE(log.find("removed " + path + " ("), std::string::npos) << path << "\n" << log;
  }
  EXPECT_TRUE(fs::is_directory(out + "/final"));
}

// ---- 4c. Folders and contexts that do not fit -------------------------------------------------

TEST(DpoTrainer, AnOutDirThatIsAFileOrUnderAFileIsAnIoErrorNamingIt) {
  testing::TempDir dir;
  testing::write_file(dir.file("taken"), "x");
  for (const std::string& out_dir : {dir.file("taken"), dir.file("taken/run")}) {
    Config options = tiny_config(copy_prepared(dir), out_dir);
    try {
      train_dpo(options);
      FAIL() << "expected IoError";
    } catch (const IoError& error) {
      const std::string message = error.what();
      EXPECT_NE(message.find("the run folder '" + out_dir + "' (train.out_dir)"), std::string::npos)
          << message;
      const std::string reason = out_dir == dir.file("taken")
                                     ? "is not a folder: a file of that name exists"
                                     : "'" + dir.file("taken") + "' is a file, not a folder";
      EXPECT_NE(message.find(reason), std::string::npos) << message;
    }
  }
  EXPECT_EQ(testing::read_file(dir.file("taken")), "x");
}

// A copy of the world's model whose context is `positions` tokens (RoPE has no weights for it).
std::string short_context_model(const testing::TempDir& dir, int64_t positions) {
  const std::string folder = dir.file("short_model");
  fs::copy(world().model_dir, folder, fs::copy_options::recursive);
  json config = json::parse(testing::read_file(folder + "/config.json"));
  config["max_position_embeddings"] = positions;
  testing::write_file(folder + "/config.json", config.dump(2));
  return folder;
}

// Every command that runs a model on prepared pairs refuses a sequence longer than its context,
// with the same check and message, before any forward pass.
TEST(SequenceLength, TrainScoreAndEvalRefuseSequencesLongerThanTheContext) {
  testing::TempDir dir;
  const std::string prepared = copy_prepared(dir);
  const std::string model = short_context_model(dir, 16);
  auto expect_refusal = [&](const std::function<void()>& run, const std::string& what) {
    try {
      run();
      ADD_FAILURE() << what << ": expected DataError";
    } catch (const DataError& error) {
      const std::string message = error.what();
      EXPECT_NE(message.find("'" + prepared + "': "), std::string::npos) << what << message;
      EXPECT_NE(message.find(" pair "), std::string::npos) << what << message;
      EXPECT_NE(
          message.find(
              "more than the 16 positions of the model ('" + model +
              "/config.json': max_position_embeddings)"),
          std::string::npos)
          << what << message;
      EXPECT_NE(error.hint().find("--max-length 16"), std::string::npos) << error.hint();
    }
  };
  Config options = tiny_config(prepared, dir.file("run"));
  options.model.path = model;
  expect_refusal([&] { train_dpo(options); }, "train");
  Config reference = tiny_config(prepared, dir.file("run2"));
  reference.reference.path = model;  // the reference's context counts too
  expect_refusal([&] { train_dpo(reference); }, "train, reference");
  ScoreRequest score;
  score.model_dir = model;
  score.prepared_path = prepared;
  score.device = DeviceChoice::cpu;
  score.out_path = dir.file("scores.jsonl");
  for (const std::string split : {"train", "val", "all"}) {
    score.split = split;
    expect_refusal([&] { score_prepared(score); }, "score " + split);
  }
  EXPECT_FALSE(fs::exists(score.out_path));
  expect_refusal(
      [&] {
        evaluate_model(model, prepared, "", LossConfig{}, DeviceChoice::cpu, TrainDtype::fp32, 8);
      },
      "eval");
  expect_refusal(
      [&] {
        evaluate_model(
            world().model_dir,
            prepared,
            model,
            LossConfig{},
            DeviceChoice::cpu,
            TrainDtype::fp32,
            8);
      },
      "eval, reference");
}

// A restart that forgot --resume, or a new run pointed at an old folder: refused, because it would
// rotate the old run's checkpoints away and overwrite its metrics.jsonl.
TEST(DpoTrainer, AFreshRunRefusesAFolderHoldingAnotherRun) {
  testing::TempDir dir;
  Config old_run = tiny_config(copy_prepared(dir), dir.file("run"));
  old_run.train.max_steps = 4;
  old_run.train.save_every_steps = 2;
  train_dpo(old_run);
  const std::string old_latest = CheckpointStore(old_run.train.out_dir, 2).latest().value();

  Config new_run = old_run;
  new_run.train.max_steps = 1;
  try {
    train_dpo(new_run);
    FAIL() << "expected CheckpointError";
  } catch (const CheckpointError& error) {
    const std::string message = error.what();
    EXPECT_NE(
        message.find("'" + new_run.train.out_dir + "' already holds a run"), std::string::npos)
        << message;
    EXPECT_NE(message.find("checkpoints"), std::string::npos) << message;
    EXPECT_NE(error.hint().find("--resume"), std::string::npos);
    EXPECT_NE(error.hint().find("--overwrite"), std::string::npos);
  }
  EXPECT_TRUE(fs::is_directory(old_latest));  // nothing of the old run was touched
  EXPECT_EQ(testing::metrics_lines(old_run.train.out_dir + "/metrics.jsonl", "train").size(), 4u);

  // --overwrite: the old run's files go first, then the new run writes its own.
  RunFlags overwrite;
  overwrite.overwrite = true;
  TrainResult result = train_dpo(new_run, overwrite);
  EXPECT_EQ(result.steps, 1);
  EXPECT_FALSE(fs::exists(old_latest));
  EXPECT_EQ(testing::metrics_lines(new_run.train.out_dir + "/metrics.jsonl", "train").size(), 1u);
}

TEST(DpoTrainer, ASecondProcessOnTheRunFolderIsRefusedWithTheOwnersPid) {
  testing::TempDir dir;
  Config options = tiny_config(copy_prepared(dir), dir.file("run"));
  fs::create_directories(options.train.out_dir);
  FolderLock other_process(options.train.out_dir, "run folder");  // as a running dpo train holds it
  try {
    train_dpo(options);
    FAIL() << "expected UsageError";
  } catch (const UsageError& error) {
    EXPECT_NE(std::string(error.what()).find("pid " + std::to_string(getpid())), std::string::npos)
        << error.what();
  }
  EXPECT_FALSE(fs::exists(options.train.out_dir + "/metrics.jsonl"));
}

// ---- 5. score_prepared and evaluate_model
// --------------------------------------------------------

TEST(ScorePrepared, WriteReferenceCachesEveryPairUnderTheModelHash) {
  testing::TempDir dir;
  ScoreRequest request;
  request.model_dir = world().model_dir;
  request.prepared_path = copy_prepared(dir);
  request.device = DeviceChoice::cpu;
  request.threads = 1;
  request.out_path = dir.file("scores.jsonl");
  request.write_reference = true;
  ScoreSummary summary = score_prepared(request);
  EXPECT_EQ(summary.model_hash, world().model_hash);
  EXPECT_EQ(summary.pairs, static_cast<int64_t>(world().train_pairs + world().val_pairs));

  EXPECT_EQ(
      list_reference_logps(request.prepared_path), std::vector<std::string>{world().model_hash});
  std::optional<ReferenceLogps> cached =
      read_reference_logps(request.prepared_path, summary.model_hash);
  ASSERT_TRUE(cached.has_value());
  EXPECT_EQ(cached->dtype, "float32");
  PreparedDataset data = read_prepared_dataset(request.prepared_path);
  ASSERT_EQ(cached->train.chosen_logps.size(), data.train.size());
  ASSERT_EQ(cached->val.rejected_logps.size(), data.val.size());
  for (size_t i = 0; i < data.val.size(); ++i) {
    EXPECT_EQ(cached->val.chosen_tokens[i], static_cast<int32_t>(data.val.pair(i).chosen.size));
    EXPECT_LT(cached->val.chosen_logps[i], 0);
    EXPECT_TRUE(std::isfinite(cached->val.chosen_logps[i]));
  }
  // The JSONL output holds the same numbers, one line per pair.
  std::vector<json> lines = testing::read_jsonl(request.out_path);
  ASSERT_EQ(lines.size(), static_cast<size_t>(summary.pairs));
  EXPECT_EQ(lines.front()["split"], "train");
  EXPECT_EQ(lines.front()["chosen_logps"].get<double>(), cached->train.chosen_logps[0]);
}

TEST(EvaluateModel, TheInitialModelAgainstItselfTiesEveryPair) {
  testing::TempDir dir;
  const std::string prepared = copy_prepared(dir);
  LossConfig sigmoid;  // DPO: -log sigmoid(beta * margin)
  // Without a cache the reference (the model itself) is scored on the fly ...
  LossMeans fresh = evaluate_model(
      world().model_dir,
      prepared,
      "",
      sigmoid,
      DeviceChoice::cpu,
      TrainDtype::fp32,
      8,
      dir.file("eval_pairs.jsonl"));
  EXPECT_EQ(fresh.pairs, static_cast<int64_t>(world().val_pairs));
  EXPECT_EQ(fresh.rewards_accuracies, 0.5);
  EXPECT_EQ(fresh.rewards_margins, 0.0);
  EXPECT_NEAR(fresh.loss, std::log(2.0), 1e-6);
  EXPECT_EQ(testing::read_jsonl(dir.file("eval_pairs.jsonl")).size(), world().val_pairs);

  // ... and with the cache written by score_prepared the figures are the same.
  ScoreRequest score;
  score.model_dir = world().model_dir;
  score.prepared_path = prepared;
  score.device = DeviceChoice::cpu;
  score.threads = 1;
  score.write_reference = true;
  score_prepared(score);
  LossMeans cached = evaluate_model(
      world().model_dir, prepared, "", sigmoid, DeviceChoice::cpu, TrainDtype::fp32, 8);
  EXPECT_EQ(cached.rewards_accuracies, 0.5);
  EXPECT_NEAR(cached.loss, std::log(2.0), 1e-6);
  EXPECT_NEAR(cached.logps_chosen, fresh.logps_chosen, 1e-9);
}

TEST(EvaluateModel, ATrainedModelBeatsItsReference) {
  testing::TempDir dir;
  Config options = tiny_config(copy_prepared(dir), dir.file("run"));
  options.train.max_steps = 30;
  TrainResult result = train_dpo(options);
  LossMeans metrics = evaluate_model(
      result.final_dir,
      options.data.prepared,
      world().model_dir,
      LossConfig{},
      DeviceChoice::cpu,
      TrainDtype::fp32,
      16);
  EXPECT_EQ(metrics.pairs, static_cast<int64_t>(world().val_pairs));
  EXPECT_NEAR(metrics.rewards_accuracies, result.final_eval.rewards_accuracies, 1e-12);
  EXPECT_NEAR(metrics.loss, result.final_eval.loss, 1e-5);
}

// A model with a NaN weight: `dpo score` stops at the first pair, naming it and the weight, and
// writes nothing (no output file, nothing cached); `dpo eval` too, for the model and for the
// reference.
TEST(ScorePrepared, ANonFiniteModelIsAnErrorAndNothingIsWritten) {
  testing::TempDir dir;
  const std::string nan_model = write_nan_model(dir);
  for (const std::string split : {"all", "val"}) {
    ScoreRequest request;
    request.model_dir = nan_model;
    request.prepared_path = copy_prepared(dir);
    request.device = DeviceChoice::cpu;
    request.threads = 1;
    request.split = split;
    request.out_path = dir.file("scores.jsonl");
    request.write_reference = split == "all";  // must not cache what is not finite
    try {
      score_prepared(request);
      FAIL() << "expected CheckpointError";
    } catch (const CheckpointError& error) {
      const std::string message = error.what();
      EXPECT_NE(
          message.find("the model '" + nan_model + "' gives non-finite log-probs"),
          std::string::npos)
          << message;
      // "all" scores the train split first.
      const std::string first_split = split == "all" ? "train" : split;
      EXPECT_NE(message.find(") for " + first_split + " pair "), std::string::npos) << message;
      EXPECT_NE(message.find("its weight 'model.norm.weight' (1 NaN"), std::string::npos)
          << message;
    }
    EXPECT_FALSE(fs::exists(request.out_path));
    EXPECT_TRUE(list_reference_logps(request.prepared_path).empty());
  }
}

TEST(EvaluateModel, ANonFiniteModelOrReferenceIsAnErrorNotALossOfNan) {
  testing::TempDir dir;
  const std::string prepared = copy_prepared(dir);
  const std::string nan_model = write_nan_model(dir);
  const std::pair<std::string, std::string> cases[] = {
      {nan_model, ""},  // the model as its own reference: the reference pass fails first
      {nan_model, world().model_dir},
      {world().model_dir, nan_model}};
  for (const auto& [model, reference] : cases) {
    SCOPED_TRACE(model + " against " + reference);
    try {
      evaluate_model(
          model,
          prepared,
          reference,
          LossConfig{},
          DeviceChoice::cpu,
          TrainDtype::fp32,
          8,
          dir.file("pairs.jsonl"));
      FAIL() << "expected CheckpointError";
    } catch (const CheckpointError& error) {
      const std::string message = error.what();
      EXPECT_NE(message.find("'" + nan_model + "' gives non-finite log-probs"), std::string::npos)
          << message;
      EXPECT_NE(message.find(") for val pair "), std::string::npos) << message;
      EXPECT_NE(message.find("'model.norm.weight'"), std::string::npos) << message;
    }
    EXPECT_FALSE(fs::exists(dir.file("pairs.jsonl")));
  }
}

// ---- 6. A prepared file from another tokenizer or template --------------------------------------

TEST(DpoTrainer, PreparedWithAnotherTokenizerIsACacheErrorNamingBothHashes) {
  testing::TempDir dir;
  const std::string model_tokenizer = Tokenizer::from_model_folder(world().model_dir).sha256();
  // A smaller vocabulary (ids fit the model) and a larger one (some ids do not): either way the
  // message is about the tokenizer, not about token ids.
  for (int vocab : {400, 600}) {
    SCOPED_TRACE("vocab " + std::to_string(vocab));
    TokenizerTrainingOptions other;
    other.vocab_size = vocab;
    other.user_symbols = testing::chatml_markers();
    std::string tokenizer_dir = dir.file("tok" + std::to_string(vocab));
    std::string other_tokenizer =
        train_tokenizer_on_pairs({world().pairs_path}, tokenizer_dir, other).model_path;
    PrepareOptions prepare = prepare_options(world().pairs_path, tokenizer_dir + "/prepared.h5");
    prepare.tokenizer_path = other_tokenizer;
    prepare.template_spec = world().model_dir;
    PrepareResult prepared = prepare_dataset(prepare);
    ASSERT_NE(prepared.tokenizer_sha256, model_tokenizer);

    Config options = tiny_config(prepare.out_path, dir.file("run"));
    try {
      train_dpo(options);
      ADD_FAILURE() << "expected a CacheError";
    } catch (const CacheError& error) {
      std::string message = error.what();
      EXPECT_NE(message.find(prepared.tokenizer_sha256), std::string::npos) << message;
      EXPECT_NE(message.find(model_tokenizer), std::string::npos) << message;
    }
  }
}

TEST(DpoTrainer, PreparedWithAnotherTemplateIsACacheErrorNamingBothHashes) {
  testing::TempDir dir;
  PrepareOptions prepare = prepare_options(world().pairs_path, dir.file("zephyr.h5"));
  prepare.model_dir = world().model_dir;
  prepare.template_spec = "zephyr";  // overrides the model's chatml
  PrepareResult prepared = prepare_dataset(prepare);

  Config options = tiny_config(prepare.out_path, dir.file("run"));
  const std::string model_template = ChatTemplate::load(world().model_dir).sha256();
  ASSERT_NE(prepared.template_sha256, model_template);
  try {
    train_dpo(options);
    FAIL() << "expected a CacheError";
  } catch (const CacheError& error) {
    std::string message = error.what();
    EXPECT_NE(message.find(prepared.template_sha256), std::string::npos) << message;
    EXPECT_NE(message.find(model_template), std::string::npos) << message;
  }
  // evaluate_model checks the same.
  EXPECT_THROW(
      evaluate_model(
          world().model_dir,
          prepare.out_path,
          "",
          LossConfig{},
          DeviceChoice::cpu,
          TrainDtype::fp32,
          8),
      CacheError);
}

}  // namespace
}  // namespace dpo
