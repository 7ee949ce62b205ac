// The output folder of a training run (train.out_dir) belongs to one run. A fresh run refuses a
// folder that holds another one, whose checkpoints it would otherwise rotate away and whose
// metrics.jsonl it would overwrite (a restart that forgot --resume); with `overwrite` it clears
// that run's files first. Files that are not a run's (a prepared.h5 written there) are kept.
#pragma once

#include <string>
#include <vector>

namespace dpo {

// What a run writes into its folder: checkpoints/, final/, best/, metrics.jsonl, manifest.json,
// eval_pairs.jsonl, validate.json, report.html.
std::vector<std::string> run_files_in(const std::string& out_dir);

// For a run that does not resume: throws CheckpointError naming the folder and the run files it
// holds (with the ways out: --resume, --overwrite, another train.out_dir); with `overwrite`,
// deletes them instead.
void claim_run_folder(const std::string& out_dir, bool overwrite);

}  // namespace dpo
