// Divergence alarms over the held-out evaluations of a run. After each evaluation the trainer
// hands over the train and val figures; the monitor answers which alarms fire now. Each alarm is
// defined so that a healthy run cannot fire it (docs/training.md, "Divergence alarms"):
//   val_loss_rising          val loss rose `patience` evaluations in a row while train loss fell,
//                            by more than `min_loss_rise` in all, and is not near zero (below
//                            `near_zero_loss`: wobbles of an almost perfect fit are not a trend)
//   val_train_gap            val loss - train loss above `gap_threshold` while val loss no
//                            longer improves on its best earlier value (a gap that closes from
//                            above, val still falling, is a run that learns)
//   likelihood_displacement  mean per-token log-prob of the chosen responses (val) fell more
//                            than `displacement_threshold` nats below its first evaluation and
//                            is still falling (below the previous evaluation)
//   accuracy_stall           train accuracy at or above `train_accuracy_high` while val accuracy
//                            has not improved by `min_improvement` over `patience` evaluations,
//                            and could still rise: not when val accuracy is at or above
//                            `saturated_accuracy` or val loss is below `near_zero_loss`
// It also tracks the best evaluation by val loss, for early stopping.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace dpo {

struct DivergenceThresholds {
  int patience = 3;
  double gap_threshold = 0.25;
  double displacement_threshold = 1.0;
  double train_accuracy_high = 0.95;
  double min_improvement = 0.005;
  // What a healthy run looks like: an accuracy that cannot rise, a loss that is already ~0, and
  // the least rise of val loss over `patience` evaluations that counts as a trend.
  double saturated_accuracy = 0.98;
  double near_zero_loss = 0.05;
  double min_loss_rise = 0.01;
};

struct EvalSection;
// The thresholds of the config's eval section (eval.patience, eval.gap_threshold, ...).
DivergenceThresholds divergence_thresholds(const EvalSection& eval);

struct EvalPoint {
  uint64_t step = 0;
  double train_loss = 0;  // mean over the pairs trained on since the previous evaluation
  double train_accuracy = 0;
  double val_loss = 0;
  double val_accuracy = 0;
  double val_chosen_logps_per_token = 0;
};

class DivergenceMonitor {
 public:
  explicit DivergenceMonitor(DivergenceThresholds thresholds);

  // Records an evaluation; returns the names of the alarms that fire at it (possibly none).
  std::vector<std::string> add(const EvalPoint& point);

  bool has_best() const {
    return !history_.empty();
  }
  const EvalPoint& best() const {
    return history_[best_index_];
  }
  // True when the latest evaluation is the best so far (lowest val loss).
  bool latest_is_best() const {
    return !history_.empty() && best_index_ + 1 == history_.size();
  }
  // Evaluations since the best one.
  size_t evaluations_since_best() const {
    return history_.empty() ? 0 : history_.size() - 1 - best_index_;
  }
  const std::vector<EvalPoint>& history() const {
    return history_;
  }

 private:
  bool val_loss_rising() const;
  bool val_train_gap() const;
  bool likelihood_displacement() const;
  bool accuracy_stall() const;

  DivergenceThresholds thresholds_;
  std::vector<EvalPoint> history_;
  size_t best_index_ = 0;
};

}  // namespace dpo
