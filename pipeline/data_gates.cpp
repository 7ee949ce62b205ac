#include "pipeline/data_gates.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
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
#include "trainer/config.h"
#include "trainer/dpo_trainer.h"
#include "trainer/evaluation.h"

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

}  // namespace

// ---- dpo check -------------------------------------------------------------------------------

CheckOutcome run_check(const CheckRequest& request) {
  Config config = load_config(request.config_path, request.overrides);
  config.model.path = request.model_dir;
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
  outcome.criteria.push_back(criterion(
      "truncated_pairs",
      static_cast<double>(truncated),
      0,
      truncated == 0 || config.check.allow_truncation,
      std::to_string(truncated) + " pairs truncated, " +
          std::to_string(
              prepared.train_counts.dropped_too_long + prepared.val_counts.dropped_too_long) +
          " dropped as too long (max_length " + std::to_string(config.data.max_length) + ")"));

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
      double chance = 0.5 + config.check.min_val_accuracy_margin;
      outcome.criteria.push_back(criterion(
          "val_accuracy",
          run.final_eval.rewards_accuracies,
          chance,
          run.final_eval.rewards_accuracies > chance,
          "held-out accuracy " + format("%.3f", run.initial_eval.rewards_accuracies) + " -> " +
              format("%.3f", run.final_eval.rewards_accuracies) + " on " +
              std::to_string(run.final_eval.pairs) + " pairs"));
      std::string alarms;
      for (const std::string& a : run.alarms)
        alarms += (alarms.empty() ? "" : "; ") + a;
      outcome.criteria.push_back(criterion(
          "divergence_alarms",
          static_cast<double>(run.alarms.size()),
          0,
          run.alarms.empty() || config.check.allow_alarms,
          alarms.empty() ? "none fired" : alarms));
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
    common.add(encoded, a.val.source_file[i], a.val.source_line[i], a.val.row_ids[i]);
  }
  PreparedHeader header = a.header;
  header.fingerprint =
      sha256_hex("common-heldout\n" + a.header.fingerprint + "\n" + b.header.fingerprint);
  header.created_by.clear();
  write_prepared_dataset(out, header, empty, common);
  return common.size();
}

}  // namespace

CompareOutcome run_compare(const CompareRequest& request) {
  Config config = load_config(request.config_path, request.overrides);
  config.model.path = request.model_dir;
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
    PrepareOptions e =
        prepare_options_from_config(config, request.eval_data, request.model_dir, common_path);
    e.validate.val_fraction = 1.0;  // every pair is held out
    e.require_train = false;
    common_pairs = prepare_dataset(e).val_pairs;
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
  json baseline_runs = json::array();
  for (int64_t s = 0; s < seeds; ++s) {
    std::string dir = request.out_dir + "/baseline-seed" + std::to_string(s);
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
        8);
    baseline_accuracy.push_back(m.rewards_accuracies);
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
  LossMeans candidate = evaluate_model(
      candidate_run.final_dir,
      common_path,
      request.model_dir,
      config.loss,
      config.train.device,
      config.train.dtype,
      8);

  // 4. The verdict: an accuracy drop beyond max(threshold, noise_multiplier x seed spread).
  double baseline_mean = 0;
  for (double v : baseline_accuracy)
    baseline_mean += v;
  baseline_mean /= static_cast<double>(baseline_accuracy.size());
  auto [low, high] = std::minmax_element(baseline_accuracy.begin(), baseline_accuracy.end());
  double noise = *high - *low;
  double allowed =
      std::max(config.compare.max_accuracy_drop, config.compare.noise_multiplier * noise);
  double drop = baseline_mean - candidate.rewards_accuracies;
  if (drop > allowed) {
    outcome.reasons.push_back(
        "training: held-out accuracy dropped by " + format("%.3f", drop) + " (" +
        format("%.3f", baseline_mean) + " -> " + format("%.3f", candidate.rewards_accuracies) +
        "), more than the allowed " + format("%.3f", allowed));
  }
  outcome.regression = !outcome.reasons.empty();
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
      {"seeds", seeds}, {"accuracy_spread", noise}, {"allowed_drop", allowed}, {"drop", drop}};
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
          << " (noise " << format("%.3f", noise) << ")\n";
  outcome.summary = summary.str();
  return outcome;
}

}  // namespace dpo
