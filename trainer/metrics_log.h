// metrics.jsonl of a run: one JSON object per line, a "train" line per logged step (figures
// averaged over the steps since the previous line), a "val" line per evaluation, and a line per
// skipped (non-finite) step. Every line is flushed as it is written, so a crash loses at most the
// line being written; resume truncates the file to the checkpoint's step. Keys: docs/training.md.
// The JSON library stays in metrics_log.cpp.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "losses/preference_loss.h"

namespace dpo {

// The throughput figures of a train line.
struct StepFigures {
  double lr = 0;
  double grad_norm = 0;
  int64_t tokens = 0;  // real tokens through the policy since the previous line
  double tokens_per_s = 0;
  double peak_memory_mib = 0;  // CUDA: allocator peak; CPU: resident high-water mark
  double tensor_peak_mib = 0;  // CUDA: the same; CPU: peak of live tensor bytes
  double seconds = 0;          // since the start of the run
};

class MetricsLog {
 public:
  // Opens `path` for writing (`append`: keep what is there, for resume). IoError when it cannot.
  MetricsLog(const std::string& path, bool append);
  ~MetricsLog();
  MetricsLog(const MetricsLog&) = delete;
  MetricsLog& operator=(const MetricsLog&) = delete;

  void write_train(
      int64_t step, double epoch, const LossMeans& metrics, const StepFigures& figures);
  // `slices_json`: the per-slice figures (slices_to_json, trainer/slice_metrics.h) written as
  // the line's "slices" object; empty: no slices key.
  void write_val(
      int64_t step,
      double epoch,
      const LossMeans& metrics,
      const std::vector<std::string>& alarms,
      const std::string& slices_json = "");
  // A step skipped by the non-finite guard; `loss_sum` is the step's summed loss (NaN or Inf is
  // written as null, as is a non-finite gradient norm).
  void write_skipped(int64_t step, double loss_sum, double grad_norm, const std::string& pair_ids);

  // Keeps the lines whose step is at most `step` (used when resuming); no file: nothing to do.
  static void truncate_after(const std::string& path, int64_t step);

 private:
  void write_line(const std::string& text);
  std::FILE* file_ = nullptr;
};

// The loss figures as the compact JSON object of a metrics line ("loss", "rewards/chosen", ...,
// "pairs"), for the manifest's result section.
std::string loss_means_json(const LossMeans& metrics);

}  // namespace dpo
