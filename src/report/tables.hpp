#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "stats/analysis.hpp"
#include "store/results_reader.hpp"

namespace bm {

// Numbers as people read them: 4 significant digits in fixed notation (never 1.2e-05), times in
// ns/us/ms/s, sizes in KiB/MiB/GiB.
std::string format_number(double value);
std::string format_quantity(double value, const std::string& unit);
std::string format_p(double p);  // "0.0123", "<0.0001"

// What the tables of `run` and `report` show: which metrics (empty: every metric the tasks
// reported, then wall time), and a pivot of the first one by axes (rows x columns).
struct TableOptions {
  std::vector<std::string> metrics;
  std::vector<std::string> rows;
  std::vector<std::string> columns;
};

// One row per task, its axis values as columns, each metric's median and CV side by side; tasks
// that lack a metric are listed under the table.
std::string task_table(const ResultsTree& tree, const Analysis& analysis, const TableOptions& options);
// The median of `metric` in a grid: one row per combination of the `rows` axes, one column per
// combination of the `columns` axes (seed 004: model x config against benchmark_subset).
std::string pivot_table(const ResultsTree& tree, const Analysis& analysis, const std::string& metric,
                        const std::vector<std::string>& rows, const std::vector<std::string>& columns);
// Per metric the best task (by its direction) and the most consistent (lowest CV), and a
// recommendation sentence from the verdicts: summary.json's "summary" block.
nlohmann::json summary_block(const ResultsTree& tree, const Analysis& analysis);

// With prices per hour (`cost: {gpu_hour, core_hour}`): what one run of the task costs (its
// cores and GPUs for its median wall time) and, per throughput metric (higher is better, a unit
// "x/s"), how many x one dollar buys. Null when nothing is priced.
nlohmann::json task_cost(const TaskSamples& task, const TaskStats& stats, const AnalysisSettings& settings);

// Throws UserError unless every metric and axis named exists in the results (nothing is written then).
void check_table_options(const ResultsTree& tree, const TableOptions& options);

} // namespace bm
