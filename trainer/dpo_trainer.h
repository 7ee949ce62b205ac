// The DPO training loop (`dpo train`): a policy initialised from an SFT checkpoint learns from
// the pairs of a prepared file against a reference model, with held-out evaluation, divergence
// alarms, a non-finite guard, atomic checkpoints and exact resume. One function, train_dpo(),
// in numbered phases like llm.c's loop; see docs/training.md.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "losses/loss_config.h"
#include "losses/preference_loss.h"
#include "trainer/divergence_monitor.h"
#include "trainer/lr_schedule.h"

namespace dpo {

struct TrainOptions {
  // What to train on and from.
  std::string prepared_path;      // a file written by dpo prepare
  std::string model_dir;          // the initial policy (Hugging Face folder)
  std::string template_spec;      // the chat template the data was prepared with; empty: the model's
  std::string save_dtype = "auto";  // weights of final/: auto (the initial checkpoint's) | fp32 | bf16
  std::string reference_dir;      // empty: the initial policy
  std::string reference_mode = "precomputed";  // precomputed | live
  std::string out_dir;
  bool resume = false;            // continue from out_dir/checkpoints/LATEST

  LossConfig loss;

  // Optimiser and schedule.
  double lr = 5e-7;
  double weight_decay = 0.0;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  int64_t warmup_steps = 0;
  ScheduleKind schedule = ScheduleKind::cosine;
  double min_lr_ratio = 0.0;
  double grad_clip = 1.0;           // <= 0: no clipping

  // Loop.
  std::string device = "auto";      // auto | cpu | cuda
  std::string dtype = "fp32";       // fp32 | bf16 (fp32 master weights) | bf16_pure
  int64_t micro_batch_pairs = 4;
  int64_t grad_accum = 1;
  int64_t max_steps = 0;            // 0: `epochs` decides
  double epochs = 1;
  uint64_t seed = 0;
  int threads = 0;                  // CPU threads (0: all cores); recorded in the manifest
  int64_t log_every_steps = 1;
  int64_t save_every_steps = 0;     // 0: only the final model
  int keep_checkpoints = 2;
  int max_bad_steps = 3;
  int64_t stop_after_steps = 0;     // testing aid: return after this many steps as if killed

  // Evaluation.
  int64_t eval_every_steps = 0;     // 0: only before training and at the end
  int64_t eval_batch_pairs = 8;
  int64_t eval_max_pairs = 0;       // held-out pairs per evaluation (the first n); 0: all
  bool early_stop = false;          // stop after `patience` evaluations without a new best
  DivergenceThresholds alarms;
  double step0_tolerance = 0;       // 0: by dtype (fp32 1e-3 nats per 100 tokens, bf16 more)

  std::string config_json = "{}";   // the resolved configuration, recorded in the run
};

// Held-out figures: LossMetrics averaged over the pairs (pairs = how many).
using EvalMetrics = LossMetrics;

struct TrainResult {
  int64_t steps = 0;
  int64_t bad_steps = 0;
  EvalMetrics initial_eval, final_eval;
  LossMetrics train_tail;           // train metrics over the last quarter of the steps (sums)
  std::vector<std::string> alarms;  // every alarm fired, "step N: name"
  std::string stop_reason;          // "max_steps", "early_stop", "bad_steps", "interrupted"
  std::string final_dir;            // out_dir/final (empty when stopped early without one)
  double seconds = 0;
  double tokens_per_second = 0;
};

TrainResult train_dpo(const TrainOptions& options);

struct Config;
// The trainer's options from a resolved configuration (trainer/config.h).
TrainOptions train_options_from_config(const Config& config);

// Evaluates `model_dir` on the held-out split of a prepared file (`dpo eval`), against
// `reference_dir` (empty: the reference log-probs cached for the model itself, i.e. zero
// rewards, or those of the reference named in the cache when there is exactly one).
EvalMetrics evaluate_model(const std::string& model_dir, const std::string& prepared_path,
                           const std::string& reference_dir, const LossConfig& loss,
                           const std::string& device, const std::string& dtype,
                           int64_t batch_pairs, const std::string& pairs_out = "");

// `dpo score`: per pair, the summed completion log-probs and token counts of chosen and
// rejected under a model.
struct ScoreRequest {
  std::string model_dir;
  std::string prepared_path;
  std::string split = "all";     // train | val | all
  int64_t batch_pairs = 8;
  std::string device = "auto";
  std::string dtype = "fp32";
  int threads = 0;
  std::string out_path;          // .jsonl: one line per pair; .h5: a copy of the prepared file
                                 // with the scores as its reference group; empty: none
  bool write_reference = false;  // also store them in the prepared file as reference log-probs
};
struct ScoreSummary {
  int64_t pairs = 0;
  int64_t tokens = 0;            // tokens through the model (prompt counted for both sequences)
  double seconds = 0;
  std::string model_hash;
  std::string device;
};
ScoreSummary score_prepared(const ScoreRequest& request);

}  // namespace dpo
