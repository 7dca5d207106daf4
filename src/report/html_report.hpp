#pragma once

#include <cstddef>
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "stats/analysis.hpp"
#include "store/results_reader.hpp"

namespace bm {

struct HtmlOptions {
  // Raw sample values embedded at most (every metric of a task counts). Tasks are taken whole, the
  // compared ones first, then in plan order; the others are shown by their statistics alone.
  std::size_t sample_budget = 200'000;
  // Monitor rows embedded per task at most (evenly thinned beyond it), and tasks with monitor data.
  std::size_t monitor_rows = 600;
  std::size_t monitor_tasks = 100;
  // The folder the page will be written to: links to the tasks' logs are relative to it.
  std::filesystem::path page_dir;
};

// What report.html and the exported plots are drawn from: per-task statistics of every metric,
// the comparisons, the axes and their values as they exist in the results, raw samples up to the
// budget, monitor timelines, links to logs. Plain data; the charts are made from it in the page.
nlohmann::json report_data(const ResultsTree& tree, const Analysis& analysis, const HtmlOptions& options);

// The whole page: static HTML for what must read without scripts (header, warnings, verdicts,
// failures), the data as JSON, and the embedded front end. Self-contained: it loads nothing, and
// its Content-Security-Policy forbids every load and every script but its own.
std::string html_page(const ResultsTree& tree, const Analysis& analysis, const nlohmann::json& data);

// Writes the page to `path` whole (temporary name, then rename).
void write_html_report(const ResultsTree& tree, const Analysis& analysis, const std::filesystem::path& path,
                       HtmlOptions options = {});

// JSON text that is safe inside a <script> element: every <, > and & (only ever inside strings)
// as a \u escape, so no "</script>" or "<!--" can appear.
std::string json_for_script(const nlohmann::json& json);

} // namespace bm
