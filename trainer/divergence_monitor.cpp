#include "trainer/divergence_monitor.h"

#include <algorithm>

namespace dpo {

DivergenceMonitor::DivergenceMonitor(DivergenceThresholds thresholds) : thresholds_(thresholds) {}

std::vector<std::string> DivergenceMonitor::add(const EvalPoint& point) {
  history_.push_back(point);
  size_t n = history_.size();
  if (n == 1 || point.val_loss < history_[best_index_].val_loss)
    best_index_ = n - 1;

  std::vector<std::string> alarms;
  size_t patience = static_cast<size_t>(std::max(1, thresholds_.patience));

  // Rising for `patience` evaluations in a row needs patience + 1 points.
  if (n > patience) {
    bool val_rising = true, train_falling = true;
    for (size_t i = n - patience; i < n; ++i) {
      val_rising = val_rising && history_[i].val_loss > history_[i - 1].val_loss;
      train_falling = train_falling && history_[i].train_loss < history_[i - 1].train_loss;
    }
    if (val_rising && train_falling)
      alarms.push_back("val_loss_rising");
  }

  if (point.val_loss - point.train_loss > thresholds_.gap_threshold)
    alarms.push_back("val_train_gap");

  if (history_.front().val_chosen_logps_per_token - point.val_chosen_logps_per_token >
      thresholds_.displacement_threshold) {
    alarms.push_back("likelihood_displacement");
  }

  if (n > patience && point.train_accuracy >= thresholds_.train_accuracy_high) {
    double before = history_[n - 1 - patience].val_accuracy;
    double best_since = before;
    for (size_t i = n - patience; i < n; ++i)
      best_since = std::max(best_since, history_[i].val_accuracy);
    if (best_since - before < thresholds_.min_improvement)
      alarms.push_back("accuracy_stall");
  }
  return alarms;
}

}  // namespace dpo
