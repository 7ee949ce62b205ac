#include "trainer/run_folder.h"

#include <filesystem>
#include <system_error>

#include "core/error.h"
#include "core/log.h"

namespace fs = std::filesystem;

namespace dpo {

std::vector<std::string> run_files_in(const std::string& out_dir) {
  static const char* const kRunFiles[] = {
      "checkpoints",
      "final",
      "best",
      "metrics.jsonl",
      "manifest.json",
      "eval_pairs.jsonl",
      "validate.json",
      "report.html"};
  std::vector<std::string> present;
  for (const char* name : kRunFiles) {
    std::error_code error;
    if (fs::exists(fs::path(out_dir) / name, error))
      present.push_back(name);
  }
  return present;
}

void claim_run_folder(const std::string& out_dir, bool overwrite) {
  const std::vector<std::string> present = run_files_in(out_dir);
  if (present.empty())
    return;
  std::string listed;
  for (const std::string& name : present)
    listed += (listed.empty() ? "" : ", ") + name;
  if (!overwrite) {
    throw CheckpointError(
        "'" + out_dir + "' already holds a run (" + listed + ")",
        "continue it with --resume, replace it with --overwrite, or set another train.out_dir");
  }
  for (const std::string& name : present) {
    std::error_code error;
    fs::remove_all(fs::path(out_dir) / name, error);
    if (error) {
      throw IoError(
          "cannot delete '" + (fs::path(out_dir) / name).string() +
          "' of the run replaced: " + error.message());
    }
  }
  DPO_LOG_INFO("train", "replaced the run in %s (%s deleted)", out_dir.c_str(), listed.c_str());
}

}  // namespace dpo
