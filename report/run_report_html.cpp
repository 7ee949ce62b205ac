// The entry point of `dpo report`: tells a run directory from a report JSON file and a report's
// kind, and hands each to its page (run_sections.cpp, check_sections.cpp, compare_sections.cpp);
// validate, dataset-diff and unknown reports are one-section pages made here.
#include "report/run_report_html.h"

#include <filesystem>
#include <optional>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "report/report_sections.h"

namespace dpo {

namespace fs = std::filesystem;
using report_html::at;
using report_html::dataset_diff_html;
using report_html::field_text;
using report_html::flatten;
using report_html::json;
using report_html::kv_table;
using report_html::Page;
using report_html::read_json_file;
using report_html::render_check_page;
using report_html::render_compare_page;
using report_html::render_run_page;
using report_html::validate_html;

std::string render_run_report_html(const std::string& path, const RunReportOptions& options) {
  std::error_code ec;
  if (fs::is_directory(path, ec))
    return render_run_page(path, options);
  std::optional<json> report = read_json_file(path);
  if (!report) {
    throw IoError(
        "report: '" + path + "' does not exist",
        "give a run directory (with metrics.jsonl) or a report written by dpo check / compare");
  }
  if (!report->is_object()) {
    throw DataError(
        "report: '" + path + "' holds no JSON object",
        "give a report written by dpo check / compare");
  }
  std::string kind = field_text(&*report, "kind");
  if (kind == "check")
    return render_check_page(*report, path, options);
  if (kind == "compare")
    return render_compare_page(*report, path, options);
  Page page;
  if (kind == "dataset_diff") {
    page.section("data-diff", "Data diff", dataset_diff_html(&*report));
    return page.render("dpo data diff", path);
  }
  if (at(*report, {"stats"}) != nullptr || at(*report, {"issues"}) != nullptr) {
    page.section("data", "Data validation", validate_html(&*report));
    return page.render("dpo validate report", path);
  }
  std::vector<std::pair<std::string, std::string>> rows;
  flatten(*report, "", rows);
  page.section("fields", "Fields", kv_table(rows));
  return page.render("dpo report", path);
}

}  // namespace dpo
