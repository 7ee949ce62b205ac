// The page of a `dpo check` report: the verdict and its criteria, the data validation, the
// checked run's sections, and the report's other fields.
#include "report/report_sections.h"

#include <nlohmann/json.hpp>

namespace dpo::report_html {

namespace {

std::string criteria_html(const json& report) {
  const json* criteria = at(report, {"criteria"});
  if (criteria == nullptr || !criteria->is_array())
    return kNotRecorded;
  std::vector<std::vector<std::string>> rows;
  for (const json& c : *criteria) {
    const json* passed = at(c, {"passed"});
    std::string verdict = passed != nullptr && passed->is_boolean()
                              ? badge(passed->get<bool>(), "pass", "fail")
                              : "<span class=\"missing\">not recorded</span>";
    rows.push_back(
        {esc(field_text(&c, "name")),
         esc(field_text(&c, "value")),
         esc(field_text(&c, "threshold")),
         verdict,
         esc(field_text(&c, "detail"))});
  }
  return table({"criterion", "value", "threshold", "verdict", "detail"}, rows, "criteria");
}

}  // namespace

std::string render_check_page(
    const json& report, const std::string& path, const RunReportOptions& options) {
  Page page;
  const json* passed = at(report, {"passed"});
  std::string verdict = passed != nullptr && passed->is_boolean()
                            ? badge(passed->get<bool>(), "PASS", "FAIL")
                            : "<span class=\"missing\">not recorded</span>";
  page.section(
      "verdict",
      "Verdict",
      "<p>" + verdict + "</p>" + criteria_html(report) + warnings_html(at(report, {"warnings"})));
  if (const json* slices = at(report, {"slices"}))
    page.section("slices", "Held-out accuracy per slice", slices_object_html(slices));
  if (const json* info = at(report, {"informativeness"}))
    page.section(
        "informativeness", "Informativeness (reference margins)", informativeness_html(info));
  page.section("validation", "Data validation", validate_html(at(report, {"validate"})));
  RunData run = load_run(resolve_run_dir(path, at(report, {"run_dir"})));
  // The run's validate.json is the same validation as the section above: shown once.
  add_run_sections(page, run, options, "run-", "", /*with_data=*/false);
  page.section(
      "other",
      "Other fields",
      other_fields_html(
          report,
          {"kind",
           "passed",
           "criteria",
           "validate",
           "run_dir",
           "warnings",
           "slices",
           "informativeness"}));
  return page.render("dpo check report", path);
}

}  // namespace dpo::report_html
