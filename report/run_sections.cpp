// The sections of a run directory in `dpo report`: loading its files, the run summary, the
// training curves, divergence alarms, worst held-out pairs and the manifest, and the run page.
#include "report/report_sections.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <utility>

#include <nlohmann/json.hpp>

#include "core/format.h"

namespace dpo::report_html {

namespace fs = std::filesystem;

namespace {

// A file's contents for RunData; null when the file does not exist.
template <typename T>
std::shared_ptr<const T> shared(std::optional<T> value) {
  return value ? std::make_shared<const T>(std::move(*value)) : nullptr;
}

bool is_split(const json& row, const std::string& split) {
  const json* value = at(row, {"split"});
  std::string name = value != nullptr && value->is_string() ? value->get<std::string>() : "train";
  return name == split;
}

std::vector<Marker> alarm_markers(const RunData& run) {
  std::vector<Marker> markers;
  if (!run.metrics)
    return markers;
  std::map<double, std::set<std::string>> by_step;
  for (const json& row : *run.metrics) {
    const json* alarms = at(row, {"alarms"});
    if (alarms == nullptr || !alarms->is_array() || alarms->empty())
      continue;
    double step = number_of(row, "step").value_or(0);
    for (const json& a : *alarms)
      by_step[step].insert(value_text(a));
  }
  for (const auto& [step, names] : by_step) {
    std::string label;
    for (const std::string& n : names)
      label += (label.empty() ? "" : ", ") + n;
    markers.push_back(Marker{step, label});
  }
  return markers;
}

const char* kTrainColor = "#1f77b4";
const char* kValColor = "#ff7f0e";
const char* kChosenColor = "#2ca02c";
const char* kRejectedColor = "#d62728";

std::string run_curves_html(const RunData& run) {
  if (!run.metrics)
    return kNotRecorded;
  std::vector<Marker> markers = alarm_markers(run);
  auto pair_chart =
      [&](const std::string& title, const std::string& key, const std::string& y_label) {
        return svg_chart(
            title,
            "step",
            y_label,
            {series_of(run, "train", key, "train", kTrainColor),
             series_of(run, "val", key, "val", kValColor)},
            markers);
      };
  std::string html = "<div class=\"charts\">";
  // Chosen and rejected, train solid and val dashed: `prefix` + "chosen" / "rejected".
  auto chosen_rejected_chart =
      [&](const std::string& title, const std::string& prefix, const std::string& y_label) {
        return svg_chart(
            title,
            "step",
            y_label,
            {series_of(run, "train", prefix + "chosen", "chosen (train)", kChosenColor),
             series_of(run, "train", prefix + "rejected", "rejected (train)", kRejectedColor),
             series_of(run, "val", prefix + "chosen", "chosen (val)", kChosenColor, true),
             series_of(run, "val", prefix + "rejected", "rejected (val)", kRejectedColor, true)},
            markers);
      };
  html += pair_chart("Loss", "loss", "loss");
  {
    std::vector<Series> s = {
        series_of(run, "train", "rewards/accuracies", "train", kTrainColor),
        series_of(run, "val", "rewards/accuracies", "val", kValColor)};
    // Chance level, for reading the accuracy against 0.5.
    Series chance{"chance", "#888888", {}, true};
    double lo = INFINITY, hi = -INFINITY;
    for (const Series& x : s) {
      for (const auto& p : x.points) {
        lo = std::min(lo, p.first);
        hi = std::max(hi, p.first);
      }
    }
    if (std::isfinite(lo))
      chance.points = {{lo, 0.5}, {hi, 0.5}};
    s.push_back(chance);
    html += svg_chart("Preference accuracy", "step", "accuracy", s, markers);
  }
  html += pair_chart("Reward margin (chosen - rejected)", "rewards/margins", "margin");
  html += chosen_rejected_chart("Rewards", "rewards/", "reward");
  html += chosen_rejected_chart(
      "Log-probabilities (summed over completion tokens)", "logps/", "log-prob");
  html += svg_chart(
      "Learning rate", "step", "lr", {series_of(run, "train", "lr", "lr", kTrainColor)}, markers);
  html += svg_chart(
      "Gradient norm (before clipping)",
      "step",
      "grad norm",
      {series_of(run, "train", "grad_norm", "grad_norm", kTrainColor)},
      markers);
  html += svg_chart(
      "Throughput",
      "step",
      "tokens/s",
      {series_of(run, "train", "tokens_per_s", "tokens/s", kTrainColor)},
      markers);
  return html + "</div>";
}

std::string manifest_html(const RunData& run) {
  if (!run.manifest)
    return kNotRecorded;
  std::vector<std::pair<std::string, std::string>> rows;
  flatten(*run.manifest, "", rows);
  return kv_table(rows);
}

}  // namespace

RunData load_run(const std::string& dir) {
  RunData run;
  run.dir = dir;
  std::error_code ec;
  run.exists = !dir.empty() && fs::is_directory(dir, ec);
  if (!run.exists)
    return run;
  run.manifest = shared(read_json_file(dir + "/manifest.json"));
  run.metrics = shared(read_jsonl_file(dir + "/metrics.jsonl"));
  run.eval_pairs = shared(read_jsonl_file(dir + "/eval_pairs.jsonl"));
  run.validate = shared(read_json_file(dir + "/validate.json"));
  run.informativeness = shared(read_json_file(dir + "/informativeness.json"));
  return run;
}

std::string resolve_run_dir(const std::string& report_path, const json* value) {
  if (value == nullptr || !value->is_string())
    return "";
  std::string dir = value->get<std::string>();
  std::error_code ec;
  if (dir.empty() || fs::is_directory(dir, ec))
    return dir;
  fs::path beside = fs::path(report_path).parent_path() / dir;
  if (fs::path(dir).is_relative() && fs::is_directory(beside, ec))
    return beside.string();
  return dir;
}

Series series_of(
    const RunData& run,
    const std::string& split,
    const std::string& key,
    const std::string& name,
    const std::string& color,
    bool dashed) {
  Series s{name, color, {}, dashed};
  if (!run.metrics)
    return s;
  size_t row_index = 0;
  for (const json& row : *run.metrics) {
    ++row_index;
    if (!is_split(row, split))
      continue;
    std::optional<double> y = number_of(row, key);
    if (!y)
      continue;
    std::optional<double> step = number_of(row, "step");
    s.points.emplace_back(step ? *step : static_cast<double>(row_index), *y);
  }
  return s;
}

std::string run_alarms_html(const RunData& run) {
  if (!run.metrics)
    return kNotRecorded;
  std::vector<std::vector<std::string>> rows;
  for (const json& row : *run.metrics) {
    const json* alarms = at(row, {"alarms"});
    if (alarms == nullptr || !alarms->is_array())
      continue;
    for (const json& a : *alarms) {
      rows.push_back(
          {esc(field_text(&row, "step")),
           esc(field_text(&row, "split")),
           "<code>" + esc(value_text(a)) + "</code>"});
    }
  }
  if (rows.empty())
    return "<p>No divergence alarm fired.</p>";
  return table({"step", "split", "alarm"}, rows, "alarms");
}

std::vector<std::pair<std::string, std::string>> run_summary_rows(const RunData& run) {
  std::vector<std::pair<std::string, std::string>> rows;
  rows.emplace_back("run directory", run.dir.empty() ? "not recorded" : run.dir);
  if (!run.exists) {
    rows.emplace_back("status", "not recorded (the directory does not exist)");
    return rows;
  }
  if (!run.metrics) {
    rows.emplace_back("metrics.jsonl", "not recorded");
    return rows;
  }
  const json* last_train = nullptr;
  const json* last_val = nullptr;
  size_t train_rows = 0, val_rows = 0, non_finite = 0;
  double best_val = INFINITY, best_val_step = 0, seconds = 0, tokens_sum = 0;
  size_t tokens_count = 0;
  for (const json& row : *run.metrics) {
    bool val = is_split(row, "val");
    (val ? val_rows : train_rows) += 1;
    (val ? last_val : last_train) = &row;
    std::optional<double> loss = number_of(row, "loss");
    if (loss && !std::isfinite(*loss))
      ++non_finite;
    if (val && loss && std::isfinite(*loss) && *loss < best_val) {
      best_val = *loss;
      best_val_step = number_of(row, "step").value_or(0);
    }
    seconds = std::max(seconds, number_of(row, "seconds").value_or(0));
    std::optional<double> tps = number_of(row, "tokens_per_s");
    if (!val && tps && std::isfinite(*tps)) {
      tokens_sum += *tps;
      ++tokens_count;
    }
  }
  rows.emplace_back("logged rows", format("%zu train, %zu val", train_rows, val_rows));
  rows.emplace_back("last step", field_text(last_train ? last_train : last_val, "step"));
  rows.emplace_back("last epoch", field_text(last_train ? last_train : last_val, "epoch"));
  rows.emplace_back("train loss (last)", field_text(last_train, "loss"));
  rows.emplace_back("train accuracy (last)", field_text(last_train, "rewards/accuracies"));
  rows.emplace_back("val loss (last)", field_text(last_val, "loss"));
  rows.emplace_back("val accuracy (last)", field_text(last_val, "rewards/accuracies"));
  rows.emplace_back("val margin (last)", field_text(last_val, "rewards/margins"));
  rows.emplace_back(
      "best val loss",
      std::isfinite(best_val) ? fmt_number(best_val) + " at step " + fmt_number(best_val_step)
                              : "not recorded");
  rows.emplace_back("non-finite losses", std::to_string(non_finite));
  rows.emplace_back("elapsed seconds", seconds > 0 ? fmt_number(seconds) : "not recorded");
  rows.emplace_back(
      "mean tokens/s (train)",
      tokens_count ? fmt_number(tokens_sum / static_cast<double>(tokens_count)) : "not recorded");
  return rows;
}

std::string worst_pairs_html(const RunData& run, const RunReportOptions& options) {
  if (!run.eval_pairs)
    return kNotRecorded;
  std::vector<const json*> pairs;
  size_t correct = 0, ties = 0;
  double margin_sum = 0;
  for (const json& pair : *run.eval_pairs) {
    std::optional<double> margin = number_of(pair, "margin");
    if (!margin || !std::isfinite(*margin))
      continue;
    pairs.push_back(&pair);
    margin_sum += *margin;
    correct += *margin > 0 ? 1 : 0;
    ties += *margin == 0 ? 1 : 0;
  }
  if (pairs.empty())
    return "<p>No held-out pair with a margin was recorded.</p>";
  std::stable_sort(pairs.begin(), pairs.end(), [](const json* a, const json* b) {
    return *number_of(*a, "margin") < *number_of(*b, "margin");
  });
  double n = static_cast<double>(pairs.size());
  std::string html =
      "<p>" +
      format(
          "%zu held-out pairs; accuracy %s (a tie counts half), mean margin %s.",
          pairs.size(),
          fmt_percent((correct + 0.5 * ties) / n).c_str(),
          fmt_number(margin_sum / n).c_str()) +
      " The pairs below have the most negative margins: the model prefers their rejected "
      "response most strongly, which is where mislabeled pairs tend to be.</p>";
  size_t shown = std::min(options.worst_pairs, pairs.size());
  for (size_t i = 0; i < shown; ++i) {
    const json& pair = *pairs[i];
    std::string source = field_text(&pair, "source_file");
    if (const json* line = at(pair, {"source_line"}))
      source += ":" + value_text(*line);
    html += "<div class=\"pair\"><div class=\"pair-head\">" + format("<b>#%zu</b> ", i + 1) +
            "margin <b>" + esc(field_text(&pair, "margin")) + "</b> &middot; id <code>" +
            esc(field_text(&pair, "id")) + "</code> &middot; pair " +
            esc(field_text(&pair, "pair_index")) + " &middot; " + esc(source) +
            " &middot; reward chosen " + esc(field_text(&pair, "reward_chosen")) + ", rejected " +
            esc(field_text(&pair, "reward_rejected")) + "</div>" + provenance_html(pair) +
            "<div class=\"texts\">";
    html += text_block(
        "prompt", conversation_text(at(pair, {"prompt"})), options.text_inline_max_chars);
    html += text_block(
        "chosen", conversation_text(at(pair, {"chosen"})), options.text_inline_max_chars);
    html += text_block(
        "rejected", conversation_text(at(pair, {"rejected"})), options.text_inline_max_chars);
    html += "</div></div>";
  }
  return html;
}

void add_run_sections(
    Page& page,
    const RunData& run,
    const RunReportOptions& options,
    const std::string& prefix,
    const std::string& title_prefix,
    bool with_data) {
  page.section(prefix + "summary", title_prefix + "Run summary", kv_table(run_summary_rows(run)));
  if (!run.exists)
    return;
  page.section(prefix + "curves", title_prefix + "Training curves", run_curves_html(run));
  page.section(prefix + "alarms", title_prefix + "Divergence alarms", run_alarms_html(run));
  page.section(
      prefix + "worst-pairs",
      title_prefix + "Worst held-out pairs",
      worst_pairs_html(run, options));
  if (run_has_slices(run))
    page.section(prefix + "slices", title_prefix + "Held-out slices", run_slices_html(run));
  if (with_data) {
    if (run.informativeness) {
      page.section(
          prefix + "informativeness",
          title_prefix + "Informativeness (reference margins)",
          informativeness_html(run.informativeness.get()));
    }
    page.section(
        prefix + "data", title_prefix + "Data (validate.json)", validate_html(run.validate.get()));
  }
  page.section(prefix + "manifest", title_prefix + "Manifest", manifest_html(run));
}

std::string render_run_page(const std::string& dir, const RunReportOptions& options) {
  Page page;
  RunData run = load_run(dir);
  add_run_sections(page, run, options, "", "");
  return page.render("dpo run report", dir);
}

}  // namespace dpo::report_html
