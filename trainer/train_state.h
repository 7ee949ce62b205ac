// The trainer's state in a checkpoint (checkpoints/step-N/trainer_state.json) besides the weights
// and the optimizer's tensors: where the loop, the loader and BCO's running mean stand, the
// bad-step counters, the evaluation history of the divergence monitor and the resolved config.
// Written by the save phase and read back by --resume through the same type; the JSON library
// stays in train_state.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "dataloader/batch_loader.h"
#include "trainer/config.h"
#include "trainer/divergence_monitor.h"

namespace dpo {

struct TrainState {
  int64_t step = 0;             // optimizer steps taken by the loop (skipped ones included)
  int64_t optimizer_steps = 0;  // AdamW updates (bias correction)
  BatchPosition loader;         // the next batch of the train loader
  double bco_mean = 0.0;        // BCO's running reward mean (BcoState), read back from the device
  int64_t bco_count = 0;
  int64_t consecutive_bad_steps = 0;
  int64_t bad_steps = 0;
  std::vector<EvalPoint> evaluations;  // the divergence monitor's history
  int64_t total_steps = 0;
  Config config;  // the resolved config of the run
  // What data.prepared and the reference held, for --resume to compare (empty in checkpoints
  // written before they were recorded).
  std::string prepared_fingerprint;
  std::string reference_hash;
  // Ranks of the data-parallel run that wrote it (1 in checkpoints written before it was
  // recorded): a resume on another number of ranks keeps micro_batch_pairs x world_size.
  int64_t world_size = 1;
};

// Pretty JSON with the keys step, optimizer_steps, loader_epoch, loader_cursor, bco_mean,
// bco_count, consecutive_bad_steps, bad_steps, evaluations, total_steps, config,
// prepared_fingerprint, reference_hash, world_size (the last three optional when read).
std::string to_json_text(const TrainState& state);
// Parses what to_json_text writes. `origin` names the file in errors: CheckpointError naming
// the file and the key that is missing or of the wrong type, with a hint.
TrainState train_state_from_json_text(const std::string& text, const std::string& origin);
// Reads `path` (IoError when it cannot be read) and parses it as above.
TrainState read_train_state(const std::string& path);

}  // namespace dpo
