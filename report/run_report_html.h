// The page of `dpo report`: one self-contained HTML file (inline CSS, inline SVG charts, no
// JavaScript, no network references) from a run directory or from a check / compare report.
//
// A run directory may hold manifest.json, metrics.jsonl, eval_pairs.jsonl and validate.json;
// whatever is missing is shown as "not recorded". A report JSON is recognised by its "kind"
// ("check", "compare", "dataset_diff"); a `dpo validate --report` file (no kind) shows its data
// statistics. docs/report.md describes every section.
//
// Torch-free: only core/ and nlohmann_json (in the .cpp files). The page is made in pieces:
// html_page.h (HTML blocks, page skeleton), svg_chart.h (charts), report_json.h (reading the
// inputs), report_sections.h (the run, data, check and compare sections).
#pragma once

#include <cstddef>
#include <string>

namespace dpo {

struct RunReportOptions {
  size_t worst_pairs = 20;             // held-out pairs listed, most negative margin first
  size_t text_inline_max_chars = 300;  // longer texts are folded into <details>
};

// Renders the page for `path` (a run directory or a report JSON file) and returns it; writes
// nothing (the command writes it atomically). Throws IoError when `path` does not exist and
// DataError naming the file and line when a JSON or JSONL file is malformed.
std::string render_run_report_html(const std::string& path, const RunReportOptions& options = {});

}  // namespace dpo
