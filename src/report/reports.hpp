#pragma once

#include <cstdio>
#include <filesystem>
#include <optional>

#include <nlohmann/json.hpp>

#include "report/html_report.hpp"
#include "stats/analysis.hpp"
#include "store/results_reader.hpp"

namespace bm {

// Report writers: they only read the results and the analysis, one format each. File outputs
// are written whole and renamed, so a crash never leaves half a report.

// OUT/summary.json: per task and metric the descriptive statistics and outliers; comparisons.
void write_summary_json(const ResultsTree& tree, const Analysis& analysis, const std::filesystem::path& path);
// OUT/samples.csv: every measured sample of every finished task, one row each.
void write_samples_csv(const ResultsTree& tree, const std::filesystem::path& path);
// OUT/comparison_table.md: a table per task and the comparisons with their verdicts.
void write_markdown(const ResultsTree& tree, const Analysis& analysis, const std::filesystem::path& path);
// The comparisons for a terminal, and the analysis's warnings (tasks skipped, and why).
void print_comparisons(std::FILE* out, const Analysis& analysis);

// The verdict rule in one paragraph, with the correction, the family-wise confidence and the
// threshold of this analysis: said once under every table of comparisons.
std::string verdict_rule_text(const Analysis& analysis);

// The comparisons alone, for CI: JSON (the verdict counts and every comparison, as in
// summary.json), Markdown (the counts line and the table, ready for a job summary) and JUnit XML
// (one test case per comparison; regressed, failed, timed out and missing ones fail, the last
// three unless `allow_missing`). `title` names what was compared.
void write_comparisons_json(const Analysis& analysis, const nlohmann::json& about, const std::filesystem::path& path);
void write_comparisons_markdown(const Analysis& analysis, const std::string& title, const std::filesystem::path& path);
void write_comparisons_junit(const Analysis& analysis, const std::string& title, bool allow_missing,
                             const std::filesystem::path& path);

// Which report files are written into a folder: the config's `report:` list (json: summary.json,
// csv: samples.csv, markdown: comparison_table.md, html: report.html); all four by default.
struct ReportOutputs {
  bool json = true;
  bool csv = true;
  bool markdown = true;
  bool html = true;
  HtmlOptions html_options;

  // From format names already validated by the config loader; none given means all four.
  static ReportOutputs from_names(const std::optional<std::vector<std::string>>& names);
  // "summary.json, samples.csv, comparison_table.md and report.html": what a message names.
  std::string describe() const;
};

// The chosen files into `dir` (the tree's root, or another folder). Checks for an interrupt
// between tasks: a file is then left as it was (each appears whole or not at all).
void write_reports(const ResultsTree& tree, const Analysis& analysis, const std::filesystem::path& dir,
                   const ReportOutputs& outputs = {});

} // namespace bm
