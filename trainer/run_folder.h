// The output folder of a training run (train.out_dir) belongs to one run. A fresh run refuses a
// folder that holds another one, whose checkpoints it would otherwise rotate away and whose
// metrics.jsonl it would overwrite (a restart that forgot --resume); with `overwrite` it clears
// that run's files first. Files that are not a run's (a prepared.h5 written there) are kept.
#pragma once

#include <string>
#include <vector>

namespace dpo {

// What a run writes into its folder: checkpoints/, final/, best/, metrics.jsonl, manifest.json,
// eval_pairs.jsonl, validate.json, informativeness.json, report.html.
std::vector<std::string> run_files_in(const std::string& out_dir);

// Creates train.out_dir (and its parents) for a run. IoError naming the path and the reason when
// it is a file, lies under a file, cannot be created or is not writable (never a
// std::filesystem exception).
void create_run_folder(const std::string& out_dir);

// The temporaries a killed process left in a run folder: checkpoints/step-*.tmp folders (only a
// run holding the folder's lock writes them, and this process holds it now), and the
// temporaries of atomic writes (core/atomic_file.h: NAME.tmp.PID.N; model/checkpoint.h's
// save_pretrained: FOLDER.tmp.PID.N) of what a run writes (metrics.jsonl, manifest.json,
// eval_pairs.jsonl, validate.json, informativeness.json, report.html, final/, best/, *.h5;
// checkpoints/LATEST) whose writer PID is no longer running. Each one is removed with a log line
// naming it; a temporary of a live process is left with a warning; other files are not looked at.
// Returns the paths removed. Call it with the folder's lock held (core/folder_lock.h).
std::vector<std::string> remove_stale_run_temporaries(const std::string& out_dir);

// For a run that does not resume: throws CheckpointError naming the folder and the run files it
// holds (with the ways out: --resume, --overwrite, another train.out_dir); with `overwrite`,
// deletes them instead.
void claim_run_folder(const std::string& out_dir, bool overwrite);

}  // namespace dpo
