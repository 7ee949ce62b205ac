// The learning-rate schedule: linear warmup from 0, then constant, linear or cosine decay to
// min_lr_ratio * lr at the last step. A pure function of the step, so a resumed run gets the
// same rates as an uninterrupted one without saving any scheduler state.
#pragma once

#include <cstdint>

namespace dpo {

enum class ScheduleKind { constant, linear, cosine };

struct LrScheduleParams {
  double lr = 0;             // peak rate
  int64_t warmup_steps = 0;  // steps 1..warmup_steps ramp up linearly
  int64_t total_steps = 0;   // the last optimizer step of the run
  ScheduleKind kind = ScheduleKind::constant;
  double min_lr_ratio = 0;  // the rate at total_steps is min_lr_ratio * lr (linear, cosine)
};

// The rate for optimizer step `step`, counted from 1 (step 0 is "before training"):
//   step <= W:  lr * step / W                                 (W = warmup_steps)
//   step >  W:  p = min(1, (step - W) / (T - W)),             (T = total_steps)
//               constant: lr
//               linear:   lr * (m + (1 - m) * (1 - p))       (m = min_lr_ratio)
//               cosine:   lr * (m + (1 - m) * (1 + cos(pi p)) / 2)
// So the first step after warmup has p = 1/(T - W) and the last step reaches exactly m * lr.
double learning_rate(const LrScheduleParams& params, int64_t step);

}  // namespace dpo
