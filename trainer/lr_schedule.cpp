// Warmup then constant, linear or cosine decay (see lr_schedule.h for the formulas).
#include "trainer/lr_schedule.h"

#include <algorithm>
#include <cmath>

namespace dpo {

double learning_rate(const LrScheduleParams& p, int64_t step) {
  if (step <= 0)
    return p.warmup_steps > 0 ? 0.0 : p.lr;
  if (step <= p.warmup_steps) {
    return p.lr * static_cast<double>(step) / static_cast<double>(p.warmup_steps);
  }
  if (p.kind == ScheduleKind::constant)
    return p.lr;
  const int64_t decay_steps = p.total_steps - p.warmup_steps;
  const double progress =
      decay_steps <= 0
          ? 1.0
          : std::min(
                1.0, static_cast<double>(step - p.warmup_steps) / static_cast<double>(decay_steps));
  const double m = p.min_lr_ratio;
  const double shape =
      p.kind == ScheduleKind::linear ? 1.0 - progress : 0.5 * (1.0 + std::cos(M_PI * progress));
  return p.lr * (m + (1.0 - m) * shape);
}

}  // namespace dpo
