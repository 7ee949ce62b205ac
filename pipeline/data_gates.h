// The two data gates of a pipeline: `dpo check` (does this dataset train cleanly?) and
// `dpo compare` (is version B of a dataset worse than version A?). Both run the same steps as
// the commands a person would run (validate, prepare, train, eval) and turn the figures into
// criteria with thresholds from the config's `check` and `compare` sections.
#pragma once

#include <string>
#include <vector>

namespace dpo {

struct Criterion {
  std::string name;
  double value = 0;
  double threshold = 0;
  bool passed = false;
  std::string detail;  // what was measured, in words
};

struct CheckRequest {
  std::vector<std::string> files;
  std::string model_dir;
  std::string config_path;             // empty: defaults (configs/check.json is a good start)
  std::vector<std::string> overrides;  // --set
  int64_t steps = 0;                   // 0: check.steps
  std::string out_dir = "runs/check";
};

struct CheckOutcome {
  bool passed = false;
  std::vector<Criterion> criteria;
  std::string report_json;  // {"kind": "check", ...}
  std::string run_dir;
};

CheckOutcome run_check(const CheckRequest& request);

struct CompareRequest {
  std::vector<std::string> baseline, candidate;
  std::string model_dir;
  std::string config_path;
  std::vector<std::string> overrides;
  std::vector<std::string> eval_data;  // empty: held-out pairs present in both versions
  std::string out_dir = "runs/compare";
};

struct CompareOutcome {
  bool regression = false;
  std::vector<std::string> reasons;
  std::string report_json;  // {"kind": "compare", ...}
  std::string summary;      // for the console
};

CompareOutcome run_compare(const CompareRequest& request);

}  // namespace dpo
