#include "pipeline/data_gates.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>

#include "core/error.h"
#include "core/format.h"
#include "core/hash.h"
#include "core/log.h"
#include "data/dataset_diff.h"
#include "data/validation_report.h"
#include "dataloader/prepare.h"
#include "dataloader/prepared_dataset.h"
#include "pipeline/slice_gates.h"
#include "trainer/config.h"
#include "trainer/dpo_trainer.h"
#include "trainer/evaluation.h"
#include "trainer/informativeness.h"
#include "trainer/prepared_informativeness.h"
#include "trainer/slice_metrics.h"

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace dpo {
namespace {

json criterion_json(const Criterion& c) {
  return json{
      {"name", c.name},
      {"value", c.value},
      {"threshold", c.threshold},
      {"passed", c.passed},
      {"detail", c.detail}};
}

Criterion criterion(
    std::string name, double value, double threshold, bool passed, std::string detail) {
  return Criterion{std::move(name), value, threshold, passed, std::move(detail)};
}

// A gate owns the run folders under its out_dir: a rerun of the gate replaces them.
const RunFlags kGateRun = [] {
  RunFlags flags;
  flags.overwrite = true;
  return flags;
}();

// The config of a gate's short run: the gate's config with the run's data, folder, length, seed
// and cadence, so that the run records (manifest.json, checkpoints) the config that ran.
Config short_run(
    const Config& config,
    const std::string& model_dir,
    const std::string& prepared,
    const std::string& out_dir,
    int64_t steps,
    uint64_t seed) {
  Config run = config;
  run.model.path = model_dir;
  run.data.prepared = prepared;
  run.data.files.clear();  // prepared above into `prepared`
  run.train.out_dir = out_dir;
  run.train.max_steps = steps;
  run.train.seed = seed;
  run.train.save_every_steps = 0;
  run.eval.every_steps = std::max<int64_t>(1, steps / 3);
  run.train.log_every_steps = std::max<int64_t>(1, steps / 10);
  return run;
}

// --slice-by keys after those of data.slice_by, each once.
void add_slice_keys(Config& config, const std::vector<std::string>& keys) {
  for (const std::string& key : keys) {
    if (std::find(config.data.slice_by.begin(), config.data.slice_by.end(), key) ==
        config.data.slice_by.end())
      config.data.slice_by.push_back(key);
  }
}

// The `slices` object of the last val line of a run's metrics.jsonl (empty: none).
std::vector<SliceBreakdown> last_val_slices(const std::string& metrics_path) {
  std::ifstream in(metrics_path);
  std::string line, last;
  while (std::getline(in, line)) {
    json row = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (row.is_object() && row.value("split", "") == "val" && row.contains("slices"))
      last = row["slices"].dump();
  }
  return last.empty() ? std::vector<SliceBreakdown>{} : slices_from_json(last);
}

}  // namespace

Criterion truncation_criterion(int64_t truncated, int64_t dropped, const Config& config) {
  const bool asked = config.data.length_policy == LengthPolicy::truncate_prompt_left ||
                     config.data.length_policy == LengthPolicy::truncate_completion;
  std::string detail = std::to_string(truncated) + " pairs truncated, " + std::to_string(dropped) +
                       " dropped as too long (max_length " +
                       std::to_string(config.data.max_length) + ")";
  if (truncated > 0 && asked)
    detail += "; data.length_policy asks for truncation";
  return criterion(
      "truncated_pairs",
      static_cast<double>(truncated),
      0,
      truncated == 0 || asked || config.check.allow_truncation,
      detail);
}

Criterion val_accuracy_criterion(
    const LossMeans& initial, const LossMeans& final_eval, const Config& config) {
  const double chance = 0.5 + config.check.min_val_accuracy_margin;
  if (final_eval.pairs == 0) {
    return criterion(
        "val_accuracy",
        0,
        chance,
        false,
        "no held-out pair to measure: raise data.val_fraction, or give rows a \"split\": \"val\"");
  }
  return criterion(
      "val_accuracy",
      final_eval.rewards_accuracies,
      chance,
      final_eval.rewards_accuracies > chance,
      "held-out accuracy " + format("%.3f", initial.rewards_accuracies) + " -> " +
          format("%.3f", final_eval.rewards_accuracies) + " on " +
          std::to_string(final_eval.pairs) + " pairs");
}

double overall_allowed_drop(const Config& config, double seed_spread, double standard_error) {
  return std::max(
      {config.compare.max_accuracy_drop,
       config.compare.noise_multiplier * seed_spread,
       config.compare.slice_noise_multiplier * standard_error});
}

// ---- dpo check -------------------------------------------------------------------------------

CheckOutcome run_check(const CheckRequest& request) {
  Config config = load_config(request.config_path, request.overrides);
  config.model.path = request.model_dir;
  add_slice_keys(config, request.slice_by);
  const int64_t steps = request.steps > 0 ? request.steps : config.check.steps;
  fs::create_directories(request.out_dir);
  CheckOutcome outcome;
  outcome.run_dir = request.out_dir + "/run";
  json report = {
      {"kind", "check"},
      {"files", request.files},
      {"model", request.model_dir},
      {"steps", steps},
      {"run_dir", outcome.run_dir}};

  // 1. Validation and preparation. Always from the files themselves: a gate does not trust a
  // prepared file left by an earlier run (its validation counts are not re-measured on reuse).
  PrepareOptions prepare = prepare_options_from_config(
      config, request.files, request.model_dir, request.out_dir + "/prepared.h5");
  prepare.force = true;
  PrepareResult prepared;
  bool have_pairs = true;
  std::string prepare_failure;
  try {
    prepared = prepare_dataset(prepare);
  } catch (const DataError& error) {
    have_pairs = false;
    prepare_failure = error.what();
  }
  if (have_pairs)
    std::fputs(prepare_summary(prepared, prepare.out_path).c_str(), stdout);
  if (!have_pairs) {
    // Preparation stops before writing when nothing is left; validate once more for the report.
    prepared.validation = validate_files(request.files, prepare.validate);
    std::fputs(report_summary(prepared.validation).c_str(), stdout);
  }
  const ValidationReport& validation = prepared.validation;
  report["validate"] = json::parse(report_to_json(validation));
  double error_rate =
      validation.rows > 0 ? static_cast<double>(validation.rejected) / validation.rows : 1.0;
  outcome.criteria.push_back(criterion(
      "validation_error_rate",
      error_rate,
      config.check.max_error_rate,
      error_rate <= config.check.max_error_rate,
      std::to_string(validation.rejected) + " of " + std::to_string(validation.rows) +
          " rows rejected with errors"));
  outcome.criteria.push_back(criterion(
      "pairs_available",
      have_pairs ? 1 : 0,
      1,
      have_pairs,
      have_pairs ? std::to_string(prepared.train_pairs) + " train / " +
                       std::to_string(prepared.val_pairs) + " held-out pairs"
                 : prepare_failure));
  int64_t truncated =
      prepared.train_counts.prompt_truncated + prepared.train_counts.completion_truncated +
      prepared.val_counts.prompt_truncated + prepared.val_counts.completion_truncated;
  outcome.criteria.push_back(truncation_criterion(
      truncated,
      prepared.train_counts.dropped_too_long + prepared.val_counts.dropped_too_long,
      config));

  // 2. A short DPO run.
  if (have_pairs) {
    Config run_config = short_run(
        config, request.model_dir, prepare.out_path, outcome.run_dir, steps, config.train.seed);
    try {
      TrainResult run = train_dpo(run_config, kGateRun);
      outcome.criteria.push_back(criterion(
          "step0_consistency",
          1,
          1,
          true,
          "policy and reference log-probs agreed on the first batch"));
      outcome.criteria.push_back(criterion(
          "non_finite_steps",
          static_cast<double>(run.bad_steps),
          0,
          run.bad_steps == 0,
          std::to_string(run.bad_steps) + " steps with a non-finite loss or gradient"));
      const LossMeans& tail = run.train_tail;
      outcome.criteria.push_back(criterion(
          "train_accuracy",
          tail.rewards_accuracies,
          config.check.min_train_accuracy,
          tail.rewards_accuracies > config.check.min_train_accuracy,
          "preference accuracy over the last quarter of " + std::to_string(run.steps) + " steps"));
      outcome.criteria.push_back(val_accuracy_criterion(run.initial_eval, run.final_eval, config));
      std::string alarms;
      for (const std::string& a : run.alarms)
        alarms += (alarms.empty() ? "" : "; ") + a;
      outcome.criteria.push_back(criterion(
          "divergence_alarms",
          static_cast<double>(run.alarms.size()),
          0,
          run.alarms.empty() || config.check.allow_alarms,
          alarms.empty() ? "none fired" : alarms));
      // 3. Per slice (data.slice_by): the final held-out figures of the run, judged per slice.
      std::vector<SliceBreakdown> slices = last_val_slices(outcome.run_dir + "/metrics.jsonl");
      SliceCheck slice_check =
          check_slices(slices, config.check.min_slice_accuracy, config.check.min_slice_pairs);
      outcome.criteria.insert(
          outcome.criteria.end(), slice_check.criteria.begin(), slice_check.criteria.end());
      outcome.warnings.insert(
          outcome.warnings.end(), slice_check.warnings.begin(), slice_check.warnings.end());
      if (!slices.empty())
        report["slices"] = json::parse(slices_to_json(slices));
      // 4. Informativeness: the reference's margins, as the run measured them.
      if (const std::optional<Informativeness>& info = run.informativeness) {
        report["informativeness"] =
            json::parse(informativeness_to_json(*info, informativeness_thresholds(config)));
        for (const std::string& warning : informativeness_warnings(
                 info->overall, config.check.max_easy_share, config.check.max_ambiguous_share))
          outcome.warnings.push_back(warning);
        outcome.informativeness = informativeness_summary(info->overall);
      }
    } catch (const CacheError& error) {
      outcome.criteria.push_back(criterion("step0_consistency", 0, 1, false, error.what()));
    }
  }
  outcome.passed =
      std::all_of(outcome.criteria.begin(), outcome.criteria.end(), [](const Criterion& c) {
        return c.passed;
      });
  json criteria = json::array();
  for (const Criterion& c : outcome.criteria)
    criteria.push_back(criterion_json(c));
  report["criteria"] = criteria;
  report["warnings"] = outcome.warnings;
  report["passed"] = outcome.passed;
  outcome.report_json = report.dump(2) + "\n";
  return outcome;
}

// ---- dpo compare -------------------------------------------------------------------------------

namespace {

// Hash of a pair's token ids, to find the held-out pairs two prepared files share.
std::string pair_key(const PairTokens& pair) {
  Hash128Stream hash;
  auto add = [&](const IdSpan& ids) {
    hash.update_field(
        std::string_view(reinterpret_cast<const char*>(ids.data), ids.size * sizeof(int32_t)));
  };
  add(pair.prompt);
  add(pair.chosen);
  add(pair.rejected);
  return hash.digest().hex();
}

// A prepared file holding, as its held-out split, the held-out pairs of `a` that `b` also holds.
size_t write_common_heldout(
    const std::string& a_path, const std::string& b_path, const std::string& out) {
  PreparedDataset a = read_prepared_dataset(a_path);
  PreparedDataset b = read_prepared_dataset(b_path);
  std::set<std::string> in_b;
  for (size_t i = 0; i < b.val.size(); ++i)
    in_b.insert(pair_key(b.val.pair(i)));
  PreparedSplit common, empty;
  for (size_t i = 0; i < a.val.size(); ++i) {
    PairTokens pair = a.val.pair(i);
    if (!in_b.count(pair_key(pair)))
      continue;
    EncodedPair encoded{
        pair.prompt.to_vector(),
        pair.chosen.to_vector(),
        pair.rejected.to_vector(),
        a.val.flags[i]};
    common.add(
        encoded,
        a.val.source_file[i],
        a.val.source_line[i],
        a.val.row_ids[i],
        a.val.pair_metadata(i),
        a.val.pair_fields(i));
  }
  PreparedHeader header = a.header;
  header.fingerprint =
      sha256_hex("common-heldout\n" + a.header.fingerprint + "\n" + b.header.fingerprint);
  header.created_by.clear();
  write_prepared_dataset(out, header, empty, common);
  return common.size();
}

// A prepared file holding every pair of `path` (train, then val) as its held-out split.
size_t write_all_heldout(const std::string& path, const std::string& out) {
  PreparedDataset data = read_prepared_dataset(path);
  PreparedSplit all, empty;
  for (const PreparedSplit* split : {&data.train, &data.val}) {
    for (size_t i = 0; i < split->size(); ++i) {
      PairTokens pair = split->pair(i);
      EncodedPair encoded{
          pair.prompt.to_vector(),
          pair.chosen.to_vector(),
          pair.rejected.to_vector(),
          split->flags[i]};
      all.add(
          encoded,
          split->source_file[i],
          split->source_line[i],
          split->row_ids[i],
          split->pair_metadata(i),
          split->pair_fields(i));
    }
  }
  PreparedHeader header = data.header;
  header.fingerprint = sha256_hex("all-heldout\n" + data.header.fingerprint);
  header.created_by.clear();
  write_prepared_dataset(out, header, empty, all);
  return all.size();
}

}  // namespace

CompareOutcome run_compare(const CompareRequest& request) {
  Config config = load_config(request.config_path, request.overrides);
  config.model.path = request.model_dir;
  add_slice_keys(config, request.slice_by);
  fs::create_directories(request.out_dir);
  CompareOutcome outcome;
  json report = {
      {"kind", "compare"},
      {"baseline_files", request.baseline},
      {"candidate_files", request.candidate},
      {"model", request.model_dir}};

  // 1. The data diff.
  DatasetDiffOptions diff_options;
  diff_options.validate.format = config.data.format;
  diff_options.validate.val_fraction = config.data.val_fraction;
  diff_options.validate.seed = config.data.seed;
  diff_options.thresholds.allowed_error_increase =
      static_cast<uint64_t>(config.compare.max_error_increase);
  diff_options.thresholds.max_label_flip_fraction = config.compare.max_label_flip_fraction;
  DatasetDiff diff = diff_datasets(request.baseline, request.candidate, diff_options);
  report["data_diff"] = json::parse(dataset_diff_to_json(diff, false));
  std::ostringstream summary;
  summary << dataset_diff_summary(diff);
  if (diff.data_regression) {
    for (const std::string& reason : diff.reasons)
      outcome.reasons.push_back("data: " + reason);
  }

  // 2. Both versions prepared with the same model, and one common held-out set.
  PrepareOptions a = prepare_options_from_config(
      config, request.baseline, request.model_dir, request.out_dir + "/baseline.h5");
  PrepareOptions b = prepare_options_from_config(
      config, request.candidate, request.model_dir, request.out_dir + "/candidate.h5");
  prepare_dataset(a);
  prepare_dataset(b);
  std::string common_path = request.out_dir + "/common_heldout.h5";
  size_t common_pairs = 0;
  if (!request.eval_data.empty()) {
    // Every pair is held out: prepared with val_fraction 0 (the validator refuses 1), then all
    // of them moved to the held-out split.
    PrepareOptions e = prepare_options_from_config(
        config, request.eval_data, request.model_dir, request.out_dir + "/eval_data.h5");
    e.validate.val_fraction = 0.0;
    e.require_train = false;
    prepare_dataset(e);
    common_pairs = write_all_heldout(e.out_path, common_path);
  } else {
    common_pairs = write_common_heldout(a.out_path, b.out_path, common_path);
  }
  if (common_pairs < 10) {
    throw DataError(
        "the common held-out set has only " + std::to_string(common_pairs) + " pairs",
        "pass --eval-data with a held-out file, or raise data.val_fraction");
  }

  // 3. The same short run on each version; the baseline with several seeds for the noise.
  const int64_t steps = config.compare.steps;
  const int64_t seeds = std::max<int64_t>(2, config.compare.noise_seeds);
  std::vector<double> baseline_accuracy;
  std::vector<std::vector<SliceBreakdown>> baseline_slices;  // per seed (data.slice_by)
  json baseline_runs = json::array();
  for (int64_t s = 0; s < seeds; ++s) {
    std::string dir = request.out_dir + "/baseline-seed" + std::to_string(s);
    EvalDetails seed_details;
    seed_details.slice_by = config.data.slice_by;
    TrainResult run = train_dpo(
        short_run(
            config,
            request.model_dir,
            a.out_path,
            dir,
            steps,
            config.train.seed + static_cast<uint64_t>(s)),
        kGateRun);
    LossMeans m = evaluate_model(
        run.final_dir,
        common_path,
        request.model_dir,
        config.loss,
        config.train.device,
        config.train.dtype,
        8,
        "",
        nullptr,
        &seed_details);
    baseline_accuracy.push_back(m.rewards_accuracies);
    baseline_slices.push_back(seed_details.slices);
    baseline_runs.push_back(
        {{"run_dir", dir},
         {"seed", config.train.seed + static_cast<uint64_t>(s)},
         {"common_val_accuracy", m.rewards_accuracies},
         {"common_val_loss", m.loss},
         {"common_val_margin", m.rewards_margins}});
  }
  std::string candidate_dir = request.out_dir + "/candidate-seed0";
  TrainResult candidate_run = train_dpo(
      short_run(config, request.model_dir, b.out_path, candidate_dir, steps, config.train.seed),
      kGateRun);
  EvalDetails candidate_details;
  candidate_details.slice_by = config.data.slice_by;
  LossMeans candidate = evaluate_model(
      candidate_run.final_dir,
      common_path,
      request.model_dir,
      config.loss,
      config.train.device,
      config.train.dtype,
      8,
      "",
      nullptr,
      &candidate_details);

  // 4. The verdict: an accuracy drop beyond the threshold, the seeds' spread and the sampling
  // noise of the common held-out set (overall_allowed_drop).
  double baseline_mean = 0;
  for (double v : baseline_accuracy)
    baseline_mean += v;
  baseline_mean /= static_cast<double>(baseline_accuracy.size());
  auto [low, high] = std::minmax_element(baseline_accuracy.begin(), baseline_accuracy.end());
  double noise = *high - *low;
  const double standard_error = accuracy_difference_standard_error(
      baseline_mean,
      static_cast<int64_t>(common_pairs),
      candidate.rewards_accuracies,
      static_cast<int64_t>(common_pairs));
  double allowed = overall_allowed_drop(config, noise, standard_error);
  double drop = baseline_mean - candidate.rewards_accuracies;
  if (drop > allowed) {
    outcome.reasons.push_back(
        "training: held-out accuracy dropped by " + format("%.3f", drop) + " (" +
        format("%.3f", baseline_mean) + " -> " + format("%.3f", candidate.rewards_accuracies) +
        "), more than the allowed " + format("%.3f", allowed));
  }
  // 5. Per slice: a drop beyond the slice's own noise (pipeline/slice_gates.h).
  std::vector<SliceComparison> slice_comparisons = compare_slices(
      baseline_slices,
      candidate_details.slices,
      config.compare.max_accuracy_drop,
      config.compare.slice_noise_multiplier,
      config.compare.min_slice_pairs);
  for (const SliceComparison& c : slice_comparisons) {
    if (c.regression)
      outcome.reasons.push_back("training: " + slice_comparison_text(c));
    if (c.warning)
      outcome.warnings.push_back("small_slice: " + slice_comparison_text(c));
  }
  outcome.regression = !outcome.reasons.empty();
  if (!config.data.slice_by.empty()) {
    report["slices"] = {
        {"keys", config.data.slice_by},
        {"noise_multiplier", config.compare.slice_noise_multiplier},
        {"min_pairs", config.compare.min_slice_pairs},
        {"comparisons", json::parse(slice_comparisons_json(slice_comparisons))},
        {"candidate", json::parse(slices_to_json(candidate_details.slices))}};
  }
  report["warnings"] = outcome.warnings;
  report["common_heldout"] = {
      {"path", common_path},
      {"pairs", common_pairs},
      {"source", request.eval_data.empty() ? "held-out pairs in both versions" : "--eval-data"}};
  // Each side: the run shown on the report page (for the baseline, the one with the candidate's
  // seed), and its metrics on the common held-out set (for the baseline, the mean over seeds).
  auto mean_of = [&](const char* key) {
    double sum = 0;
    for (const json& run : baseline_runs)
      sum += run[key].get<double>();
    return sum / static_cast<double>(baseline_runs.size());
  };
  report["baseline"] = {
      {"run_dir", baseline_runs[0]["run_dir"]},
      {"metrics",
       {{"common_val_accuracy", baseline_mean},
        {"common_val_loss", mean_of("common_val_loss")},
        {"common_val_margin", mean_of("common_val_margin")}}},
      {"runs", baseline_runs}};
  report["candidate"] = {
      {"run_dir", candidate_dir},
      {"metrics",
       {{"common_val_accuracy", candidate.rewards_accuracies},
        {"common_val_loss", candidate.loss},
        {"common_val_margin", candidate.rewards_margins}}}};
  report["noise"] = {
      {"seeds", seeds},
      {"accuracy_spread", noise},
      {"standard_error", standard_error},
      {"allowed_drop", allowed},
      {"drop", drop}};
  report["regression"] = outcome.regression;
  report["reasons"] = outcome.reasons;
  outcome.report_json = report.dump(2) + "\n";

  summary << "\ncommon held-out set: " << common_pairs << " pairs\n";
  for (size_t s = 0; s < baseline_accuracy.size(); ++s) {
    summary << "  baseline seed " << s << ": accuracy " << format("%.3f", baseline_accuracy[s])
            << "\n";
  }
  summary << "  candidate:       accuracy " << format("%.3f", candidate.rewards_accuracies) << "\n";
  summary << "  drop " << format("%.3f", drop) << ", allowed " << format("%.3f", allowed)
          << " (seed spread " << format("%.3f", noise) << ", standard error "
          << format("%.3f", standard_error) << ")\n";
  if (!slice_comparisons.empty()) {
    summary << "  per slice (accuracy baseline -> candidate, drop, allowed = max(threshold, "
            << format("%.1f", config.compare.slice_noise_multiplier) << " x standard error)):\n";
    for (const SliceComparison& c : slice_comparisons) {
      summary << "    " << c.key << "=" << c.value << "  " << c.pairs << " pairs  "
              << format("%.3f", c.baseline) << " -> " << format("%.3f", c.candidate) << "  drop "
              << format("%+.3f", c.drop) << "  allowed " << format("%.3f", c.allowed)
              << (c.regression ? "  REGRESSION" : (c.warning ? "  (too small to judge)" : ""))
              << "\n";
    }
  }
  outcome.summary = summary.str();
  return outcome;
}

}  // namespace dpo
