// The DPO training loop (`dpo train`): a policy initialised from an SFT checkpoint learns from
// the pairs of a prepared file against a reference model, with held-out evaluation, divergence
// alarms, a non-finite guard, atomic checkpoints and exact resume. One function, train_dpo(),
// in numbered phases like llm.c's loop, driven by the resolved config (trainer/config.h); see
// docs/training.md. Evaluation (`dpo eval`) is in trainer/evaluation.h, scoring (`dpo score`)
// in trainer/scoring.h.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "distributed/world_info.h"
#include "losses/preference_loss.h"
#include "trainer/adamw.h"
#include "trainer/config.h"
#include "trainer/informativeness.h"

namespace dpo {

// How this invocation runs, beside the config (neither is recorded in the run's config).
struct RunFlags {
  bool resume = false;     // continue from train.out_dir/checkpoints/LATEST
  bool overwrite = false;  // a fresh run may replace the run in train.out_dir
  // Config keys a resumed run may change although they change the data order or the
  // optimisation (--resume-allow-change); see trainer/resume_check.h.
  std::vector<std::string> allowed_changes;
  // This process's place in a data-parallel run (distributed/world_info.h: from torchrun's,
  // SLURM's or `--nproc-per-node`'s variables); the default is one process. docs/distributed.md.
  WorldInfo world;
  // Testing aids: return after this many steps as if killed; make the loss of these steps NaN
  // (as an overflow would); called after each update with the step and the optimizer (to poison
  // its state or the weights).
  int64_t stop_after_steps = 0;
  std::vector<int64_t> nan_loss_steps;
  std::function<void(int64_t step, AdamW& optimizer)> after_update;
};

struct TrainResult {
  int64_t steps = 0;
  int64_t bad_steps = 0;
  LossMeans initial_eval, final_eval;  // held-out means (pairs: how many)
  LossMeans train_tail;                // train means over the last quarter of this process's steps
  std::vector<std::string> alarms;     // every alarm fired, "step N: name"
  std::string stop_reason;             // "max_steps", "early_stop", "bad_steps", "interrupted"
  int stop_signal = 0;                 // SIGINT or SIGTERM when a signal interrupted the run
  std::string last_checkpoint;         // the newest checkpoint folder at the end (empty: none)
  std::string final_dir;               // out_dir/final (empty when stopped early without one)
  double seconds = 0;
  double tokens_per_second = 0;
  // The pairs' reference margins (informativeness.json), on the main rank with a precomputed
  // reference; empty otherwise.
  std::optional<Informativeness> informativeness;
};

// Trains as `config` says (validated here with validate_config; data.prepared and model.path
// must be set) and records that config in the run (manifest.json, checkpoints). A checkpoint is
// never written from non-finite weights or optimizer state: the run stops with a CheckpointError
// naming the tensor and the last checkpoint, which is left as it was. SIGINT and SIGTERM end the
// current step, save a checkpoint and return with stop_reason "interrupted" (a second signal
// kills the process as usual).
TrainResult train_dpo(const Config& config, const RunFlags& flags = {});

// The optimizer's options under a config: betas, eps and weight decay from `optim`; fp32 master
// weights when train.dtype is bf16 (not for fp32, nor for bf16_pure).
AdamWOptions adamw_options(const Config& config);

}  // namespace dpo
