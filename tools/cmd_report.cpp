// dpo report RUN_DIR|REPORT.json [--out report.html] : a self-contained HTML page (no network
// access, inline SVG charts) for a training run, a check report or a compare report.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <filesystem>
#include <memory>

#include "core/atomic_file.h"
#include "core/error.h"
#include "report/run_report_html.h"
#include "tools/commands.h"

namespace dpo {

Command add_report_command(CLI::App& dpo) {
  auto input = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>();
  CLI::App* app = dpo.add_subcommand(
      "report", "Write a self-contained HTML report of a run, check or compare.");
  app->add_option(
         "input", *input, "A run folder (metrics.jsonl, manifest.json, ...) or a report JSON")
      ->required();
  app->add_option(
      "--out", *out, "The HTML file (default: report.html in the run folder, or beside the JSON)");
  return Command{app, [input, out]() {
                   std::string path = *out;
                   if (path.empty()) {
                     path = std::filesystem::is_directory(*input)
                                ? *input + "/report.html"
                                : std::filesystem::path(*input).replace_extension(".html").string();
                   }
                   write_file_atomically(path, render_run_report_html(*input));
                   std::printf("wrote %s\n", path.c_str());
                   return kExitOk;
                 }};
}

}  // namespace dpo
