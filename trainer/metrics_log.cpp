// Writing metrics.jsonl (trainer/metrics_log.h).
#include "trainer/metrics_log.h"

#include <cerrno>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/json_file.h"

namespace dpo {
namespace {

using json = nlohmann::json;

json metrics_json(const LossMeans& m) {
  return json{
      {"loss", m.loss},
      {"rewards/chosen", m.rewards_chosen},
      {"rewards/rejected", m.rewards_rejected},
      {"rewards/margins", m.rewards_margins},
      {"rewards/accuracies", m.rewards_accuracies},
      {"logps/chosen", m.logps_chosen},
      {"logps/rejected", m.logps_rejected},
      {"logps/chosen_per_token", m.logps_chosen_per_token},
      {"logps/rejected_per_token", m.logps_rejected_per_token},
      {"pairs", m.pairs}};
}

}  // namespace

MetricsLog::MetricsLog(const std::string& path, bool append) {
  file_ = std::fopen(path.c_str(), append ? "ab" : "wb");
  if (file_ == nullptr)
    throw IoError(errno_message("cannot write '" + path + "'", errno));
}

MetricsLog::~MetricsLog() {
  if (file_)
    std::fclose(file_);
}

void MetricsLog::write_line(const std::string& text) {
  const std::string line = text + "\n";
  std::fwrite(line.data(), 1, line.size(), file_);
  std::fflush(file_);
}

void MetricsLog::write_train(
    int64_t step, double epoch, const LossMeans& metrics, const StepFigures& figures) {
  json line = metrics_json(metrics);
  line["step"] = step;
  line["epoch"] = epoch;
  line["split"] = "train";
  line["lr"] = figures.lr;
  line["grad_norm"] = figures.grad_norm;
  line["tokens"] = figures.tokens;
  line["tokens_per_s"] = figures.tokens_per_s;
  line["peak_memory_mib"] = figures.peak_memory_mib;
  line["tensor_peak_mib"] = figures.tensor_peak_mib;
  line["seconds"] = figures.seconds;
  write_line(line.dump());
}

void MetricsLog::write_val(
    int64_t step,
    double epoch,
    const LossMeans& metrics,
    const std::vector<std::string>& alarms,
    const std::string& slices_json) {
  json line = metrics_json(metrics);
  line["step"] = step;
  line["epoch"] = epoch;
  line["split"] = "val";
  line["alarms"] = alarms;
  if (!slices_json.empty())
    line["slices"] = json::parse(slices_json);
  write_line(line.dump());
}

void MetricsLog::write_skipped(
    int64_t step, double loss_sum, double grad_norm, const std::string& pair_ids) {
  json line = {
      {"step", step},
      {"split", "train"},
      {"skipped", true},
      {"loss", loss_sum},
      {"grad_norm", std::isfinite(grad_norm) ? json(grad_norm) : json(nullptr)},
      {"pair_ids", pair_ids}};
  write_line(line.dump());
}

void MetricsLog::truncate_after(const std::string& path, int64_t step) {
  std::ifstream in(path);
  if (!in)
    return;
  std::string kept, line;
  while (std::getline(in, line)) {
    if (line.empty())
      continue;
    json object;
    JsonProblem problem;
    if (!parse_json_strict(line, object, problem) || !object.is_object() ||
        !object.contains("step") || !object["step"].is_number_integer())
      continue;  // a torn last line
    if (object["step"].get<int64_t>() <= step)
      kept += line + "\n";
  }
  write_file_atomically(path, kept);
}

std::string loss_means_json(const LossMeans& metrics) {
  return metrics_json(metrics).dump();
}

}  // namespace dpo
