// The sections of the `dpo report` pages, shared between the files that render them:
// run_sections.cpp (a run directory), data_sections.cpp (validation statistics and the dataset
// diff), check_sections.cpp and compare_sections.cpp (the pages of those reports).
// Internal to report/; run_report_html.h is the public entry point.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "report/html_page.h"
#include "report/report_json.h"
#include "report/run_report_html.h"
#include "report/svg_chart.h"

namespace dpo::report_html {

// ---------------------------------------------------------------------------------------------
// run_sections.cpp: a run directory.

// The files of a run directory; a null pointer is a file that does not exist. (Pointers, not
// std::optional, so that this header needs only nlohmann's forward declarations.)
struct RunData {
  std::string dir;
  bool exists = false;
  std::shared_ptr<const json> manifest;
  std::shared_ptr<const std::vector<json>> metrics;
  std::shared_ptr<const std::vector<json>> eval_pairs;
  std::shared_ptr<const json> validate;
  std::shared_ptr<const json> informativeness;  // informativeness.json (precomputed reference)
};

// Reads whatever the directory holds; a missing directory gives exists == false.
RunData load_run(const std::string& dir);

// A run_dir named in a report: as written, else relative to the report's folder.
std::string resolve_run_dir(const std::string& report_path, const json* value);

// The `key` values of the `split` rows of a run's metrics against their step.
Series series_of(
    const RunData& run,
    const std::string& split,
    const std::string& key,
    const std::string& name,
    const std::string& color,
    bool dashed = false);

// Key figures of a run, from its metrics.
std::vector<std::pair<std::string, std::string>> run_summary_rows(const RunData& run);
// The divergence alarms of a run as a table.
std::string run_alarms_html(const RunData& run);
// The held-out pairs with the most negative margins, with their texts.
std::string worst_pairs_html(const RunData& run, const RunReportOptions& options);

// The sections of one run, ids prefixed (for pages that hold several runs). `with_data` false
// leaves out the run's validate.json, for pages that show the data's validation already.
void add_run_sections(
    Page& page,
    const RunData& run,
    const RunReportOptions& options,
    const std::string& prefix,
    const std::string& title_prefix,
    bool with_data = true);

// The page of a run directory.
std::string render_run_page(const std::string& dir, const RunReportOptions& options);

// ---------------------------------------------------------------------------------------------
// slice_sections.cpp: slices, provenance and informativeness (issue 19).

// The metadata of an eval_pairs line as a "provenance: reviewer=r1 · rubric=concise" line; ""
// when the pair has none.
std::string provenance_html(const json& pair);
// Whether the run's val lines carry per-slice figures.
bool run_has_slices(const RunData& run);
// The per-slice table of the last evaluation and the worst held-out pairs per slice.
std::string run_slices_html(const RunData& run);
// A `slices` object ({"<key>": {"<value>": {pairs, loss, accuracy, margin}}}) as a table.
std::string slices_object_html(const json* slices);
// The `informativeness` object of a check report.
std::string informativeness_html(const json* info);
// The `slices` object of a compare report: one row per slice with its verdict.
std::string slice_comparisons_html(const json* slices);
// A report's `warnings` array as a list; "" when there are none.
std::string warnings_html(const json* warnings);

// ---------------------------------------------------------------------------------------------
// data_sections.cpp: data validation and the dataset diff.

// The data statistics of a `dpo validate --report` JSON; "not recorded" for nullptr.
std::string validate_html(const json* v);
// The dataset diff of `dpo compare` (data/dataset_diff.h's JSON); "not recorded" for nullptr.
std::string dataset_diff_html(const json* d);

// ---------------------------------------------------------------------------------------------
// check_sections.cpp and compare_sections.cpp: the pages of those reports. `path` is the
// report's file; run_dir values in it are resolved against its folder.

std::string render_check_page(
    const json& report, const std::string& path, const RunReportOptions& options);
std::string render_compare_page(
    const json& report, const std::string& path, const RunReportOptions& options);

}  // namespace dpo::report_html
