#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace bm {

// One element of a cluster run, as `benchmatrix worker` runs it on a compute node: exactly these
// tasks, into the driver's OUT, journaling into the element's own folder.
struct ElementRun {
  std::vector<std::string> paths;             // the tasks' folders below OUT/tasks (unique, unlike ids)
  std::vector<std::string> ids;               // the ids they had when submitted, in the same order
  std::string run_dir;                        // below OUT: runs/<run>/elements/<job>_<index>
  std::vector<std::pair<std::string, std::string>> context;  // node, job and array ids, for each result
};

// Options shared by `run` and `exec`, as given on the command line (validated by the command).
struct RunOptions {
  std::optional<int> jobs;
  bool parallel = false;
  std::optional<std::string> cores;
  std::optional<std::string> gpus;
  std::optional<int> per_gpu;
  std::optional<std::string> out;
  std::string filter;
  bool force = false;
  std::optional<int> retries;
  std::string halt = "never";  // never, soon, now: what the first failed task does to the run
  std::optional<std::string> timeout;
  std::string executor;
  bool dry_run = false;
  bool oversubscribe = false;
  bool use_core0 = false;
  bool verbose = false;
  bool quiet = false;    // failures, interrupts and the summary only
  std::string progress = "auto";  // the live display: auto (on a terminal), always, never
  std::string color = "auto";     // auto (a terminal, NO_COLOR and FORCE_COLOR respected), always, never
  std::optional<std::string> events;  // JSON lines of the run's events: a file, or fd:N
  bool gate = false;  // exit 3 when the run's own comparisons with its baseline find a regression
  std::string isolation = "auto";  // auto, cgroup, none
  std::string durability = "group";  // group (sync every 50 ms, in the background), off
  // Reports to files of the user's choosing at the end (hyperfine's --export-*).
  std::optional<std::string> export_json;
  std::optional<std::string> export_csv;
  std::optional<std::string> export_markdown;
  std::optional<std::string> export_hyperfine;
  bool hyperfine_summary = false;    // exec: each task as hyperfine prints it, and "ran N times faster"
  std::optional<ElementRun> element;  // set by `worker` alone
};

struct WorkerOptions {
  std::string submission;              // runs/<run>/slurm/array-N.json
  std::optional<long> element;         // default: SLURM_ARRAY_TASK_ID
};

struct ListOptions {
  std::string config;
  std::optional<std::string> out;
  std::string filter;
  bool json = false;
};

struct TopologyOptions {
  std::optional<int> jobs;
  bool parallel = false;
  std::optional<std::string> cores;
  bool use_core0 = false;
};

struct ExecOptions {
  std::vector<std::string> parameters;  // "NAME=V1,V2"
  std::vector<std::string> parameter_lists;  // -L NAME VALUES, flattened in pairs
  std::vector<std::string> parameter_scans;  // -P NAME MIN MAX, flattened in threes
  std::optional<std::string> step;           // -D: the step of -P
  std::optional<int> runs;                   // default 10 unless -m/-M
  std::optional<int> min_runs;
  std::optional<int> max_runs;
  int warmup = 0;
  std::string prepare;
  std::vector<std::string> command_names;
  bool argv_mode = false;                    // `--` was given: the words are one argv
  bool shell = false;
  std::string name;
  std::string gbench;                     // a Google Benchmark program: its benchmarks are the matrix
  std::string metrics_file;               // a file each run writes in its folder (config metrics_file)
  std::vector<std::string> command;
};

// Overrides of the analysis settings for `report` and `compare`.
struct AnalysisOptions {
  std::optional<std::string> baseline;    // axis=value
  std::optional<std::string> metric;
  std::optional<std::string> threshold;   // 0.05 or 5%
  std::optional<std::string> correction;
  std::optional<double> confidence;
  bool remove_outliers = false;
};

// `import FILE`: another tool's results made a results tree.
struct ImportOptions {
  std::string file;
  std::optional<std::string> out;
  std::string format = "auto";     // auto, hyperfine, pytest_benchmark
  std::string name;                // default: import-<file stem>
  bool force = false;
};

struct ReportOptions {
  std::string out;
  std::optional<std::string> output;  // where to write the reports; OUT when not given
  AnalysisOptions analysis;
  std::optional<std::string> rows;     // a pivot of the metric: axes down ...
  std::optional<std::string> columns;  // ... and across
  // One report each to a named file (hyperfine's habit); with any of them, OUT is left as it is.
  std::optional<std::string> export_json;
  std::optional<std::string> export_csv;
  std::optional<std::string> export_markdown;
  std::optional<std::string> export_html;
  std::optional<std::string> export_hyperfine;  // hyperfine's --export-json schema
  std::optional<std::string> export_plots;  // a folder: the standard plots as SVG (and PNG)
  std::optional<std::size_t> sample_budget;  // raw sample values report.html embeds at most

  bool exports() const {
    return export_json || export_csv || export_markdown || export_html || export_hyperfine || export_plots;
  }
};

struct CompareOptions {
  std::string base;
  std::string candidate;
  AnalysisOptions analysis;
  bool allow_missing = false;                  // only regressions fail the gate
  std::optional<std::string> export_json;      // the comparisons, machine-readable
  std::optional<std::string> export_markdown;  // ready for a CI job summary
  std::optional<std::string> export_junit;     // one test case per comparison
};

// The parsed command line: which command, and its options.
struct CommandLine {
  enum class Command { None, Run, List, Topology, Exec, Report, Compare, Import, Version, Worker };
  Command command = Command::None;
  std::string config;
  RunOptions run;
  ListOptions list;
  TopologyOptions topology;
  ExecOptions exec;
  ReportOptions report;
  CompareOptions compare;
  ImportOptions import;
  WorkerOptions worker;
  bool version_json = false;
};

// Parses argv with CLI11. Returns the exit code to end with when parsing alone decides it
// (help, version, usage error: printed here), or nullopt to go on.
std::optional<int> parse_command_line(int argc, char** argv, CommandLine& out);

} // namespace bm
