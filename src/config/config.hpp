#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "util/error.hpp"

namespace bm {

enum class Priority { High = 0, Normal = 1, Low = 2 };
std::string to_string(Priority priority);
std::optional<Priority> parse_priority(std::string_view text);

// Where a task's own metrics come from (task protocol): JSON lines appended to
// $BENCHMATRIX_RESULT_FILE, always read when present.
using EnvList = std::vector<std::pair<std::string, std::string>>;

// The formats of result files a task writes (config `metrics_file`, a Google Benchmark source) or a
// user imports (`benchmatrix import`); read by collect/result_files.
enum class ResultFormat {
  Auto,             // detected from the content
  Metrics,          // a JSON object of name -> number, or the task protocol's records
  LmEval,           // lm-evaluation-harness results: results[task]["metric,filter"]
  GoogleBenchmark,  // --benchmark_out_format=json
  Hyperfine,        // hyperfine --export-json
  PytestBenchmark,  // pytest-benchmark --benchmark-json
};
std::string_view to_string(ResultFormat format);
std::optional<ResultFormat> parse_result_format(std::string_view text);
std::string result_format_names();  // the names parse_result_format accepts, for errors

// A file a task writes into its folder in every measured run, read after the run
// (config `metrics_file`): metrics beside those of the task protocol.
struct MetricsFileOptions {
  // Relative to the task's folder. Not set: metrics.json is read when a run writes it (seed 004's
  // benchmarks do); `metrics_file: none` reads nothing.
  std::string path;
  bool enabled = true;
  ResultFormat format = ResultFormat::Auto;
  std::vector<std::string> higher_is_better;   // metrics of a plain object that are better higher
  SourceLocation location;
};

// Settings that the config sets at top level and that an axis value may override. Unset fields
// fall through to the level above (top level, then the built-in defaults).
struct TaskSettings {
  std::optional<int> warmup;
  std::optional<int> runs;
  // Adaptive repetition: at least min_runs, at most max_runs, stopping once the confidence
  // interval of the median is narrower than target_rel_ci (relative half-width).
  std::optional<int> min_runs;
  std::optional<int> max_runs;
  std::optional<double> target_rel_ci;
  std::optional<std::chrono::nanoseconds> cooldown;  // pause before each run after the first
  std::optional<std::chrono::nanoseconds> timeout;
  std::optional<std::chrono::nanoseconds> kill_grace;
  std::optional<std::uint64_t> output_limit;  // bytes kept per output stream per process; 0 = all
  std::optional<std::uint64_t> memory;        // bytes; the cgroup's memory.max (no swap)
  std::optional<std::uint64_t> pids;          // the cgroup's pids.max
  std::optional<int> retries;
  std::optional<int> cpus;
  std::optional<int> gpus;
  std::optional<SourceLocation> cpus_location;  // where cpus / gpus / runs are set, for errors
  std::optional<SourceLocation> runs_location;
  std::optional<SourceLocation> gpus_location;
  std::optional<Priority> priority;
  EnvList env;  // added to (or replacing) the inherited environment, in order
  std::map<std::string, SourceLocation> env_locations;  // where each value is written, for errors

  // Fields set in `other` replace ours; env entries are appended (later ones win).
  void overlay(const TaskSettings& other);
};

// The fully resolved settings of one task, after defaults and overrides.
struct ResolvedSettings {
  int warmup = 0;
  int runs = 1;                 // fixed runs, or the adaptive maximum
  int min_runs = 0;             // > 0: adaptive mode, runs is then the maximum
  double target_rel_ci = 0;
  std::chrono::nanoseconds cooldown{0};
  std::optional<std::chrono::nanoseconds> timeout;
  std::chrono::nanoseconds kill_grace{std::chrono::seconds(2)};
  std::uint64_t output_limit = 64ULL << 20;
  std::uint64_t memory = 0;
  std::uint64_t pids = 0;
  int retries = 0;
  int cpus = 1;
  int gpus = 0;
  SourceLocation cpus_location;  // where the config sets them (empty: the default)
  SourceLocation runs_location;
  bool runs_set = false;         // runs (or adaptive repetition) written in the config
  SourceLocation gpus_location;
  Priority priority = Priority::Normal;
  EnvList env;
  std::map<std::string, SourceLocation> env_locations;

  static ResolvedSettings from(const TaskSettings& settings);
};

// A command line as written: an argv of templates, or one shell string when `shell` is set.
struct CommandTemplate {
  std::vector<std::string> words;           // argv templates; one element when shell
  std::vector<SourceLocation> locations;    // where each word is in the file
  bool shell = false;

  bool empty() const { return words.empty(); }
};

struct Axis;

// One value of an axis: a scalar ("std_sort") or an object with a name, fields for
// {axis.field}, per-value overrides, and nested axes that exist only under this value
// (seed 004: benchmark longbench -> subsets).
struct AxisValue {
  std::string name;
  std::map<std::string, std::string> fields;
  TaskSettings overrides;
  std::vector<Axis> sub_axes;
  SourceLocation location;
  bool enabled = true;  // `enabled: false` leaves the value out of the matrix (kept in the file)
};

struct Axis {
  std::string name;
  std::vector<AxisValue> values;
  SourceLocation location;
  // `{discover: COMMAND}`: the values are what the command prints, filled in by discover()
  // (after the run's `before:` step, which may build the program that lists them).
  CommandTemplate discover;
  SourceLocation discover_location;
};

// A partial assignment of axis values, for include/exclude: {algo: heap_sort, n: 1000}.
struct Combination {
  std::vector<std::pair<std::string, std::string>> values;
  SourceLocation location;
};

struct ResourceSettings {
  std::optional<std::vector<int>> cores;    // explicit CPU ids; nullopt = automatic
  SourceLocation cores_location;            // where they are listed, for errors
  bool reserve_core0 = true;
  std::optional<int> jobs;                  // slots; nullopt = 1 (or --parallel)
  std::vector<int> gpus;                    // listed GPU ids (checked against NVML when it answers)
  int per_gpu = 1;
  std::optional<int> max_concurrent;        // GPU tasks at once, spread over the GPUs (seed 004)
  SourceLocation max_concurrent_location;
  std::optional<unsigned> thermal_limit;    // Celsius: a measured run waits for its GPUs to cool below
  std::chrono::nanoseconds cool_down{0};    // between two tasks of one slot
  CommandTemplate gpu_check;                // run once on each GPU before it gets work; empty: none
  std::chrono::nanoseconds gpu_check_timeout{std::chrono::minutes(5)};
};

// The resource monitor (config `monitor:`): one sampler for the run, every `interval`.
struct MonitorConfig {
  bool enabled = true;
  std::chrono::milliseconds interval{100};
};

// How results are analysed (config `analysis:`); `benchmatrix report` reads it back from plan.json.
struct AnalysisSettings {
  std::string baseline_axis;                // empty: no comparisons
  std::string baseline_value;
  SourceLocation baseline_location;         // for errors: the baseline must name an axis value
  std::string metric;                       // empty: the tasks' first own metric, else wall_time
  double confidence = 0.95;
  double threshold = 0.02;                  // smallest relative difference that matters
  std::string correction = "holm";          // holm, bonferroni, bh, none
  bool remove_outliers = false;
  std::string outlier_method = "modified_z";  // iqr, modified_z, z
  double outlier_threshold = 0;             // 0: the method's default (1.5, 3.5, 3.0)
  int resamples = 2000;                     // bootstrap resamples
  bool gate = false;                        // `run` exits 3 when its comparisons find a regression
  double gpu_hour = 0;                      // `cost:` prices per hour of what a task holds (0: not priced)
  double core_hour = 0;
  std::uint64_t seed = 1;                   // bootstrap seed

  nlohmann::json to_json() const;
  static AnalysisSettings from_json(const nlohmann::json& json);  // missing keys keep defaults
};

// `source:`: the benchmarks a program already holds, discovered with the program's own listing
// and run one per process. The loader fills `command` and the axis from it (see discover()).
struct SourceConfig {
  enum class Kind { None, GoogleBenchmark, BenchHeader };
  Kind kind = Kind::None;
  std::string program;                    // a path; may name top-level axes: "{build}"
  SourceLocation program_location;
  std::vector<std::string> args;          // given to every run (and to the listing)
  std::vector<SourceLocation> args_locations;
  std::string axis = "benchmark";         // the axis its benchmarks become
  // Google Benchmark: names such as BM_x/8/threads:4 become the benchmark's family and nested
  // axes, one per part (positional arguments named by `arg_names`, else arg1, arg2, ...).
  bool split = false;
  std::vector<std::string> arg_names;
  SourceLocation location;
  // Filled by discover(): what each program lists, by the program's path as rendered.
  std::map<std::string, std::vector<std::string>> available;
};
std::string_view to_string(SourceConfig::Kind kind);

// The file, in the task's folder, that a Google Benchmark source makes each run write its results to.
inline constexpr const char* k_gbench_out_file = "gbench.json";

// `executor: {type: slurm, ...}`: how a run goes to a SLURM cluster (docs/CLUSTER.md).
struct SlurmSettings {
  std::string partition;
  std::string account;
  std::string qos;
  std::optional<std::chrono::nanoseconds> time;      // per element; default: from the tasks' timeouts
  std::vector<std::string> sbatch;                   // more sbatch flags, as written
  std::chrono::nanoseconds element_time = std::chrono::minutes(10);  // bundling: one element's target length
  std::optional<int> tasks_per_element;              // bundling, fixed
  int tasks_at_once = 1;                             // tasks an element runs side by side (its local pool)
  std::optional<int> max_running;                    // array elements running at once (--array=...%K)
  int infra_retries = 3;                             // re-queues of a task lost to the cluster
  std::chrono::nanoseconds poll = std::chrono::seconds(10);  // first squeue interval (grows to 8x)
  bool gpus_per_task = false;                        // --gpus-per-task=N instead of --gres=gpu:N
  std::string worker;                                // benchmatrix on the nodes; default: this binary
};

struct Config {
  std::string file;                         // as given by the user
  std::string directory;                    // absolute directory of the config file
  std::string name;
  CommandTemplate command;
  CommandTemplate setup;                    // optional: once per task, before the warm-ups
  CommandTemplate teardown;                 // optional: once per task, after the runs (even failed)
  CommandTemplate prepare;                  // optional: before every warm-up and measured run, unmeasured
  std::string workdir;                      // as written; empty = where benchmatrix runs
  std::vector<Axis> axes;                   // in file order: the first varies slowest
  std::vector<Combination> include;
  std::vector<Combination> exclude;
  CommandTemplate before;                   // once per run, before discovery and planning
  CommandTemplate after;                    // once per run at its end, even after failures or an interrupt
  SourceConfig source;
  MetricsFileOptions metrics_file;
  TaskSettings defaults;                    // top-level repeat:, task:, env:
  ResourceSettings resources;
  MonitorConfig monitor;
  std::vector<std::string> parallel_names;  // seed 002's `parallel`: one name per slot
  // repeat.interleave: the measured runs of the variants compared with one baseline run in
  // rounds of one run each, in an order shuffled per round from this seed. On by default when the
  // config has a baseline (`interleave: false` opts out): drift then hits every variant alike.
  bool interleave = false;
  bool interleave_set = false;  // written in the config (else it follows analysis.baseline)
  std::uint64_t interleave_seed = 1;
  // Which inherited variables a task sees: nullopt = all (as hyperfine and GNU parallel do);
  // a list = only those (`env: clean` or `env_inherit: [...]`), for a reproducible environment.
  std::optional<std::vector<std::string>> env_inherit;
  std::string executor = "local";
  SlurmSettings slurm;
  std::optional<std::vector<std::string>> reports;  // `report:`; absent: every report
  AnalysisSettings analysis;
  std::string text_hash;                    // hash of the config's bytes, for plan.json
};

} // namespace bm
