// dpo validate DATA... : checks preference data before any GPU time is spent on it.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <optional>

#include "core/atomic_file.h"
#include "core/error.h"
#include "data/timestamp.h"
#include "data/validator.h"
#include "tokenizer/sentencepiece_model.h"
#include "tools/commands.h"
#include "trainer/config.h"

namespace dpo {

namespace {

struct ValidateFlags {
  std::vector<std::string> files;
  std::string format = "auto";
  std::string fields;
  std::string report_path;
  std::string fail_on = "error";
  std::vector<double> length_bias_range = {0.35, 0.65};
  bool quiet = false;
  std::string tokenizer_path;
  std::string config_path;
  std::vector<std::string> overrides;
  std::vector<std::string> slice_by;
  std::string reviewer_field, judge_field, timestamp_field;
  std::string as_of;
  double max_age_days = 0;  // 0: the config's (365 by default)
  std::vector<double> agreement_thresholds;
  ValidateOptions options;
};

// The provenance options: the config's data section (defaults without --config), then the flags.
ProvenanceOptions provenance_options(const ValidateFlags& flags) {
  ProvenanceOptions provenance = flags.options.provenance;
  if (!flags.config_path.empty() || !flags.overrides.empty()) {
    Config config = load_config(flags.config_path, flags.overrides);
    apply_data_provenance(config.data, provenance);
  }
  for (const std::string& key : flags.slice_by) {
    if (std::find(provenance.slice_by.begin(), provenance.slice_by.end(), key) ==
        provenance.slice_by.end())
      provenance.slice_by.push_back(key);
  }
  if (!flags.reviewer_field.empty())
    provenance.reviewer_field = flags.reviewer_field;
  if (!flags.judge_field.empty())
    provenance.judge_field = flags.judge_field;
  if (!flags.timestamp_field.empty())
    provenance.timestamp_field = flags.timestamp_field;
  if (flags.max_age_days != 0)
    provenance.max_age_days = flags.max_age_days;
  if (!flags.as_of.empty()) {
    std::optional<double> as_of = parse_timestamp(flags.as_of);
    if (!as_of) {
      throw UsageError(
          "--as-of '" + flags.as_of + "' is not a date",
          "use ISO 8601 (2024-12-01, 2024-12-01T08:00:00Z) or epoch seconds");
    }
    provenance.as_of = as_of;
  }
  if (!flags.agreement_thresholds.empty()) {
    if (flags.agreement_thresholds.size() != 2 ||
        !(flags.agreement_thresholds[1] <= flags.agreement_thresholds[0])) {
      throw UsageError("--agreement-thresholds takes STRONG,WARNING with WARNING <= STRONG");
    }
    provenance.agreement_strong = flags.agreement_thresholds[0];
    provenance.agreement_warning = flags.agreement_thresholds[1];
  }
  return provenance;
}

int run_validate(const ValidateFlags& flags) {
  ValidateOptions options = flags.options;
  options.format = parse_data_format(flags.format);
  if (!flags.fields.empty())
    options.fields = FieldNames::parse(flags.fields);
  if (flags.fail_on != "error" && flags.fail_on != "warning") {
    throw UsageError("--fail-on must be 'error' or 'warning', got '" + flags.fail_on + "'");
  }
  options.fail_on_warnings = flags.fail_on == "warning";
  if (flags.length_bias_range.size() != 2 ||
      !(flags.length_bias_range[0] <= flags.length_bias_range[1])) {
    throw UsageError("--length-bias-range takes two fractions LOW,HIGH with LOW <= HIGH");
  }
  options.length_bias_low = flags.length_bias_range[0];
  options.length_bias_high = flags.length_bias_range[1];
  if (!flags.tokenizer_path.empty())
    options.count_tokens = make_token_counter(flags.tokenizer_path);
  options.provenance = provenance_options(flags);

  ValidationReport report = validate_files(flags.files, options);
  if (!flags.report_path.empty()) {
    write_file_atomically(flags.report_path, report_to_json(report));
  }
  if (!flags.quiet) {
    std::fputs(report_summary(report).c_str(), stdout);
    std::fputs("\n", stdout);
  }
  if (report.passed) {
    std::printf(
        "PASS: %llu pairs ok, no row has an error",
        static_cast<unsigned long long>(report.pairs_ok));
    std::printf("%s\n", report.fail_on_warnings ? " or a warning" : "");
    return kExitOk;
  }
  if (report.rows == 0) {
    std::printf("FAIL: no rows: the input is empty or holds only blank lines\n");
  } else if (report.errors > 0) {
    std::printf(
        "FAIL: %llu of %llu rows rejected with errors\n",
        static_cast<unsigned long long>(report.rejected),
        static_cast<unsigned long long>(report.rows));
  } else {
    std::printf(
        "FAIL: %llu warnings (--fail-on warning)\n",
        static_cast<unsigned long long>(report.warnings));
  }
  return kExitFailed;
}

}  // namespace

Command add_validate_command(CLI::App& dpo) {
  auto flags = std::make_shared<ValidateFlags>();
  CLI::App* app = dpo.add_subcommand(
      "validate",
      "Check preference data (JSONL or JSON arrays, optionally .gz) for every defect that makes "
      "DPO training unsound; exit 0 when no row has an error, 1 when some do, 2 when the input "
      "cannot be read.");
  app->add_option("data", flags->files, "Data files (JSONL, JSON array, .gz)")->required();
  app->add_option(
         "--format",
         flags->format,
         "auto, standard, conversational, implicit, sharegpt or openai (auto detects per file)")
      ->capture_default_str();
  app->add_option(
      "--fields",
      flags->fields,
      "Column names of the fields, e.g. prompt=question,chosen=response_j,rejected=response_k");
  app->add_option("--report", flags->report_path, "Write the full report as JSON to this file");
  app->add_option(
      "--rejects",
      flags->options.rejects_path,
      "Write one JSON line per rejected or excluded row, with its reasons");
  app->add_option("--val-fraction", flags->options.val_fraction, "Held-out fraction of prompts")
      ->capture_default_str();
  app->add_option("--seed", flags->options.seed, "Seed of the train/held-out split")
      ->capture_default_str();
  app->add_option("--fail-on", flags->fail_on, "Fail (exit 1) on 'error' or also on 'warning'")
      ->capture_default_str();
  app->add_option(
         "--max-record-bytes",
         flags->options.max_record_bytes,
         "Records longer than this are rejected unread (record_too_large)")
      ->capture_default_str();
  app->add_option(
         "--similarity-threshold",
         flags->options.similarity_threshold,
         "near_identical_responses above this edit-distance similarity")
      ->capture_default_str();
  app->add_option(
         "--length-bias-range",
         flags->length_bias_range,
         "Allowed fraction of pairs whose chosen is longer: LOW,HIGH")
      ->delimiter(',')
      ->expected(2);
  app->add_option(
      "--tokenizer",
      flags->tokenizer_path,
      "A sentencepiece tokenizer.model: also report lengths in tokens");
  app->add_option(
      "--special-token",
      flags->options.extra_special_tokens,
      "Another string to flag when it appears in content (repeatable)");
  app->add_option("--max-examples", flags->options.max_examples, "Examples kept per issue code")
      ->capture_default_str();
  app->add_option(
      "--slice-by",
      flags->slice_by,
      "Counts, length bias, labels, agreement and ages per value of this field: metadata.KEY or "
      "a top-level field (repeatable; adds to the config's data.slice_by)");
  app->add_option(
      "--config", flags->config_path, "A run config: its data section's slice_by and fields");
  app->add_option("--set", flags->overrides, "Override a config key (repeatable)");
  app->add_option(
      "--reviewer-field",
      flags->reviewer_field,
      "Field with the reviewer id, for agreement (default metadata.reviewer)");
  app->add_option(
      "--judge-field",
      flags->judge_field,
      "Field whose value \"ai\" marks an AI judgment (default metadata.judge)");
  app->add_flag(
      "--exclude-ai-judgments",
      flags->options.provenance.exclude_ai_judgments,
      "Leave AI judgments out (counted as excluded)");
  app->add_option(
      "--timestamp-field",
      flags->timestamp_field,
      "Field with the judgment's time, ISO 8601 or epoch seconds (default metadata.timestamp)");
  app->add_option("--as-of", flags->as_of, "Reference date for ages (default: now)");
  app->add_option(
      "--max-age-days", flags->max_age_days, "stale_pairs above this age (default 365)");
  app->add_option(
         "--agreement-thresholds",
         flags->agreement_thresholds,
         "Kappa at or above STRONG is strong; below WARNING is low_agreement (default 0.7,0.5)")
      ->delimiter(',')
      ->expected(2);
  app->add_option(
         "--agreement-min-items",
         flags->options.provenance.agreement_min_items,
         "Comparisons judged by several reviewers needed before low_agreement can fire")
      ->capture_default_str();
  app->add_flag("--quiet", flags->quiet, "Print only the verdict line");
  return Command{app, [flags]() { return run_validate(*flags); }};
}

}  // namespace dpo
