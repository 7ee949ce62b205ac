#include "plan/plan_report.h"

#include <nlohmann/json.hpp>

#include <cstdio>

namespace dpo {

namespace {

std::string line(
    const char* format, const std::string& a, const std::string& b, const std::string& c) {
  char text[512];
  std::snprintf(text, sizeof text, format, a.c_str(), b.c_str(), c.c_str());
  return text;
}

std::string set_flags(const PlanSuggestion& s) {
  std::string flags;
  for (const std::string& assignment : s.set)
    flags += " --set '" + assignment + "'";
  return flags;
}

nlohmann::json plan_json(const MemoryPlan& plan) {
  nlohmann::json terms = nlohmann::json::array();
  for (const PlanTerm& t : plan.terms)
    terms.push_back({{"name", t.name}, {"bytes", t.bytes}, {"detail", t.detail}});
  return {
      {"peak_bytes", plan.peak_bytes},
      {"peak_mib", static_cast<double>(plan.peak_bytes) / (1024.0 * 1024.0)},
      {"peak_phase", plan.peak_phase},
      {"terms", terms},
      {"activations_bytes", plan.activations_bytes},
      {"activations_checkpointed_bytes", plan.activations_checkpointed_bytes},
      {"trainable_parameters", plan.trainable_parameters},
      {"total_parameters", plan.total_parameters}};
}

}  // namespace

std::string plan_report_text(
    const PlanInputs& in, const PlanVerdict& verdict, const std::string& budget_name) {
  const MemoryPlan& plan = verdict.plan;
  std::string out = "[plan] memory on " + std::string(plan_device_name(in.device)) + ": " +
                    std::to_string(plan.total_parameters) + " parameters (" +
                    std::to_string(plan.trainable_parameters) + " trained), " +
                    train_dtype_name(in.dtype) + ", micro-batch of " +
                    std::to_string(in.micro_batch_pairs) + " pairs" +
                    (in.gradient_checkpointing ? ", gradient checkpointing" : "") +
                    (in.lora.enabled ? ", LoRA r=" + std::to_string(in.lora.rank) : "") + "\n";
  for (const PlanTerm& t : plan.terms)
    out += line("  %-24s %12s  %s\n", t.name, format_bytes(t.bytes), t.detail);
  out += line(
      "  %-24s %12s  %s\n", "peak", format_bytes(plan.peak_bytes), "(" + plan.peak_phase + ")");
  out += "  activations per micro-batch: " + format_bytes(plan.activations_bytes) + " without, " +
         format_bytes(plan.activations_checkpointed_bytes) + " with gradient checkpointing\n";
  if (verdict.budget_bytes <= 0) {
    out += "  fits: unknown (no memory size given)\n";
    return out;
  }
  out += "  " + std::string(verdict.fits ? "fits" : "does NOT fit") + " into " +
         format_bytes(verdict.budget_bytes) + " (" + budget_name + ")\n";
  if (verdict.fits)
    return out;
  bool any = false;
  for (const PlanSuggestion& s : verdict.suggestions) {
    if (!s.fits)
      continue;
    if (!any)
      out += "  settings that fit:\n";
    any = true;
    out +=
        line("    %-52s %12s %s\n", s.description, format_bytes(s.plan.peak_bytes), set_flags(s));
  }
  if (!any)
    out += "  no single change below fits; closest:\n";
  else
    out += "  not enough alone:\n";
  for (const PlanSuggestion& s : verdict.suggestions) {
    if (!s.fits)
      out +=
          line("    %-52s %12s %s\n", s.description, format_bytes(s.plan.peak_bytes), set_flags(s));
  }
  return out;
}

std::string plan_report_json(
    const PlanInputs& in, const PlanVerdict& verdict, const std::string& budget_name) {
  nlohmann::json suggestions = nlohmann::json::array();
  for (const PlanSuggestion& s : verdict.suggestions) {
    suggestions.push_back(
        {{"description", s.description},
         {"set", s.set},
         {"fits", s.fits},
         {"peak_bytes", s.plan.peak_bytes}});
  }
  nlohmann::json out = {
      {"device", plan_device_name(in.device)},
      {"dtype", train_dtype_name(in.dtype)},
      {"micro_batch_pairs", in.micro_batch_pairs},
      {"micro_batch",
       {{"tokens", in.micro_batch.tokens},
        {"attention_rows", in.micro_batch.attention_rows},
        {"attention_length", in.micro_batch.attention_length},
        {"predicted", in.micro_batch.predicted}}},
      {"gradient_checkpointing", in.gradient_checkpointing},
      {"lora",
       in.lora.enabled
           ? nlohmann::json{{"rank", in.lora.rank}, {"target_modules", in.lora.target_modules}}
           : nlohmann::json(nullptr)},
      {"plan", plan_json(verdict.plan)},
      {"budget_bytes", verdict.budget_bytes},
      {"budget", budget_name},
      {"fits", verdict.budget_bytes > 0 ? nlohmann::json(verdict.fits) : nlohmann::json(nullptr)},
      {"suggestions", suggestions}};
  return out.dump(2) + "\n";
}

}  // namespace dpo
