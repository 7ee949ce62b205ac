// What `dpo train --resume` checks before it continues a run: the checkpoint's trainer state is
// sane (no negative counter, no step past the run's end, a loader position inside the epoch),
// and the config of this invocation is the checkpoint's in every key that changes the data order
// or the optimisation. A resumed run is bitwise the run it continues only when both hold.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "trainer/config.h"
#include "trainer/train_state.h"

namespace dpo {

// One key whose value differs between two configs ("optim.lr"), with both values as JSON text.
struct ConfigChange {
  std::string key, old_value, new_value;
  std::string text() const;  // "optim.lr: 0.005 -> 0.001"
};
std::vector<ConfigChange> config_changes(const Config& before, const Config& now);

// True for the keys a resumed run may change without changing the batches it sees or the
// updates it makes: logging, saving, evaluation and alarms, threads and device, the check and
// compare gates, and paths whose content is compared instead (data.prepared by the prepared
// file's fingerprint, model.path and reference.path by the reference model's content hash).
bool change_is_harmless(const std::string& key);

// The counters of a trainer state read from `path`: CheckpointError naming the file and the key
// when one is negative, the step is past total_steps, more updates or bad steps than steps were
// counted, or an evaluation is newer than the step.
void check_train_state(const TrainState& state, const std::string& path);

// The resumed config against the checkpoint's. Keys that change the data order or the
// optimisation and differ are refused (CheckpointError listing "key: old -> new", naming `path`),
// unless listed in `allowed` (--resume-allow-change); harmless ones and allowed ones are logged
// as a note. `now_fingerprint` and `now_reference_hash`: of this invocation's prepared file and
// reference model, compared with the state's when it records them. `now_world_size`: the ranks of
// this invocation; on another number of ranks than the checkpoint's, train.micro_batch_pairs may
// change as long as the global micro-batch (micro_batch_pairs x ranks) stays the same.
void check_resume_config(
    const TrainState& state,
    const Config& now,
    const std::string& now_fingerprint,
    const std::string& now_reference_hash,
    int64_t now_total_steps,
    const std::vector<std::string>& allowed,
    const std::string& path,
    int64_t now_world_size = 1);

// The loader position of a resumed state against this run's epoch: CheckpointError naming the
// file and 'loader_cursor' when it is past the last batch.
void check_loader_position(
    const TrainState& state, int64_t batches_per_epoch, const std::string& path);

}  // namespace dpo
