#include "trainer/divergence_monitor.h"

#include <algorithm>

#include "trainer/config.h"

namespace dpo {

DivergenceThresholds divergence_thresholds(const EvalSection& eval) {
  DivergenceThresholds t;
  t.patience = static_cast<int>(eval.patience);
  t.gap_threshold = eval.gap_threshold;
  t.displacement_threshold = eval.displacement_threshold;
  t.train_accuracy_high = eval.train_accuracy_high;
  t.min_improvement = eval.min_improvement;
  t.saturated_accuracy = eval.saturated_accuracy;
  t.near_zero_loss = eval.near_zero_loss;
  t.min_loss_rise = eval.min_loss_rise;
  return t;
}

DivergenceMonitor::DivergenceMonitor(DivergenceThresholds thresholds) : thresholds_(thresholds) {}

std::vector<std::string> DivergenceMonitor::add(const EvalPoint& point) {
  history_.push_back(point);
  size_t n = history_.size();
  if (n == 1 || point.val_loss < history_[best_index_].val_loss)
    best_index_ = n - 1;

  std::vector<std::string> alarms;
  if (val_loss_rising())
    alarms.push_back("val_loss_rising");
  if (val_train_gap())
    alarms.push_back("val_train_gap");
  if (likelihood_displacement())
    alarms.push_back("likelihood_displacement");
  if (accuracy_stall())
    alarms.push_back("accuracy_stall");
  return alarms;
}

bool DivergenceMonitor::val_loss_rising() const {
  const size_t n = history_.size();
  const size_t patience = static_cast<size_t>(std::max(1, thresholds_.patience));
  // Rising for `patience` evaluations in a row needs patience + 1 points.
  if (n <= patience)
    return false;
  const EvalPoint& now = history_.back();
  if (now.val_loss < thresholds_.near_zero_loss)
    return false;
  bool val_rising = true, train_falling = true;
  for (size_t i = n - patience; i < n; ++i) {
    val_rising = val_rising && history_[i].val_loss > history_[i - 1].val_loss;
    train_falling = train_falling && history_[i].train_loss < history_[i - 1].train_loss;
  }
  const double rise = now.val_loss - history_[n - 1 - patience].val_loss;
  return val_rising && train_falling && rise > thresholds_.min_loss_rise;
}

bool DivergenceMonitor::val_train_gap() const {
  const size_t n = history_.size();
  if (n < 2)
    return false;  // the first evaluation has nothing to improve on
  const EvalPoint& now = history_.back();
  if (now.val_loss - now.train_loss <= thresholds_.gap_threshold)
    return false;
  double best_before = history_.front().val_loss;
  for (size_t i = 0; i + 1 < n; ++i)
    best_before = std::min(best_before, history_[i].val_loss);
  return now.val_loss >= best_before;  // the gap is not closing from the val side
}

bool DivergenceMonitor::likelihood_displacement() const {
  const size_t n = history_.size();
  if (n < 2)
    return false;
  const double now = history_.back().val_chosen_logps_per_token;
  const bool fell_far =
      history_.front().val_chosen_logps_per_token - now > thresholds_.displacement_threshold;
  const bool still_falling = now < history_[n - 2].val_chosen_logps_per_token;
  return fell_far && still_falling;
}

bool DivergenceMonitor::accuracy_stall() const {
  const size_t n = history_.size();
  const size_t patience = static_cast<size_t>(std::max(1, thresholds_.patience));
  if (n <= patience)
    return false;
  const EvalPoint& now = history_.back();
  if (now.train_accuracy < thresholds_.train_accuracy_high)
    return false;
  // An accuracy that cannot rise (or a loss already ~0) is a finished fit, not a stall.
  if (now.val_accuracy >= thresholds_.saturated_accuracy ||
      now.val_loss < thresholds_.near_zero_loss)
    return false;
  const double before = history_[n - 1 - patience].val_accuracy;
  double best_since = before;
  for (size_t i = n - patience; i < n; ++i)
    best_since = std::max(best_since, history_[i].val_accuracy);
  return best_since - before < thresholds_.min_improvement;
}

}  // namespace dpo
