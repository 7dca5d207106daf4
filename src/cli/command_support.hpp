#pragma once

#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "cli/options.hpp"
#include "config/config.hpp"
#include "plan/plan.hpp"
#include "stats/analysis.hpp"
#include "report/reports.hpp"
#include "report/tables.hpp"
#include "store/results_reader.hpp"
#include "store/store.hpp"

// What the commands share; each command lives in its own file.

namespace bm {

inline constexpr int k_exit_ok = 0;
inline constexpr int k_exit_failed = 1;
inline constexpr int k_exit_usage = 2;
inline constexpr int k_exit_regression = 3;
inline constexpr int k_exit_interrupted = 130;

// results/<name> unless --out says otherwise.
std::filesystem::path default_out(const Config& config, const std::optional<std::string>& out);
// Plan indices that --filter keeps; UserError when it keeps none.
std::vector<std::size_t> select_tasks(const Plan& plan, const std::string& filter_text);

// A run-level step (`before:`, `after:`) as it ran: its output (stdout and stderr together) and status.
struct StepRecord {
  std::string name;                 // "before" or "after"
  std::vector<std::string> argv;
  std::string started;              // ISO 8601 UTC
  double seconds = 0;
  std::string outcome;              // "succeeded", "exit code 2", ...
  bool succeeded = false;
  std::string output;

  nlohmann::json to_json() const;   // for execution_summary.json (the output goes to NAME.log)
};
// Writes a step's NAME.log and NAME.json into the run's folder.
void write_step(const std::filesystem::path& run_dir, const StepRecord& record);
// What a run does around its plan: the `before:` step that ran ahead of discovery, and where the
// run's folder is, for the `after:` step's record.
struct RunSteps {
  std::optional<StepRecord> before;
  std::filesystem::path run_dir;    // set by run_plan once the run has a folder
};

// Loads (or takes) a config, runs its `before:` step, discovers, plans, runs, then its `after:`
// step, even when the run failed or was interrupted.
int run_config(Config config, const RunOptions& options);
int run_plan(const Plan& plan, const RunOptions& options, RunSteps* steps = nullptr);
// The selected tasks a run has to run in OUT (those not done; all of them with `force`), after
// checking that OUT's structure is benchmatrix's and that it holds this config's results.
struct WorkToDo {
  std::vector<std::size_t> to_run;
  std::size_t already_done = 0;
};
WorkToDo work_to_do(const Plan& plan, const Store& store, const std::vector<std::size_t>& selected, bool force);
// The plan's tasks at these folders (below OUT/tasks), which must still have these ids; UserError
// naming those it no longer plans as they were.
std::vector<std::size_t> tasks_by_path(const Plan& plan, const std::vector<std::string>& paths,
                                       const std::vector<std::string>& ids);
// After a run: the statistics and reports over OUT (the tasks outside `selected` that never ran are
// not missing), the --export-* files and the gate. Returns the run's exit code (`failed`: some
// task failed or the run stopped early).
int report_finished_run(const Plan& plan, const std::filesystem::path& out, const std::vector<std::size_t>& selected,
                        const RunOptions& options, bool failed);
// A program that does not exist is one error before anything runs (UserError).
void check_programs(const Plan& plan, const std::vector<std::size_t>& tasks);
// `--executor slurm`: the plan's tasks as SLURM job arrays (cli/slurm_command.cpp).
int run_on_slurm(const Plan& plan, const RunOptions& options, RunSteps* steps);
// `benchmatrix worker`: one element of such an array, on its compute node.
int worker_command(const WorkerOptions& options);
int report_command(const ReportOptions& options);
int import_command(const ImportOptions& options);
int compare_command(const CompareOptions& options);

// Recomputes the statistics of a results tree and writes the reports `outputs` names into it;
// prints the comparisons (and the per-task table if asked).
Analysis analyze_and_report(const ResultsTree& tree, const AnalysisSettings& settings, bool print_tasks,
                            const ReportOutputs& outputs = {});
// What a run or `report` prints of an analysis: the task table (when `print_tasks`; `tables` says
// which metrics it shows, and the pivot), the comparisons and the recommendation.
void print_analysis(const ResultsTree& tree, const Analysis& analysis, bool print_tasks, const TableOptions& tables = {});

} // namespace bm
