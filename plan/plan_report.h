// The memory plan as `dpo plan` and `dpo train` print it: a table of terms with the peak, the
// verdict against the budget, and the settings that would fit; or as JSON (`dpo plan --json`).
#pragma once

#include <string>

#include "plan/memory_plan.h"

namespace dpo {

// `budget_name` says where the budget comes from ("--gpu-memory", "available RAM").
std::string plan_report_text(
    const PlanInputs& inputs, const PlanVerdict& verdict, const std::string& budget_name);
std::string plan_report_json(
    const PlanInputs& inputs, const PlanVerdict& verdict, const std::string& budget_name);

}  // namespace dpo
