#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "collect/metrics.hpp"
#include "collect/executables.hpp"
#include "collect/noise.hpp"

namespace bm {

// Prepare: the config's `prepare` command, run before each warm-up and measured run (unmeasured).
enum class Phase { Setup, Warmup, Run, Teardown, Prepare };
std::string_view to_string(Phase phase);

// Where a task's lifecycle stands: the phase of its current process, which one of how many
// ("run 3 of 10"; for adaptive repetition the count is the most it may take).
struct ProcessStep {
  Phase phase = Phase::Run;
  int index = 0;
  int count = 0;
};

// One process of a task's lifecycle, as measured.
struct RunRecord {
  Phase phase = Phase::Run;
  int index = 0;                  // 1-based within its phase
  double started_unix = 0;        // wall-clock start, seconds since the epoch
  double wall_seconds = 0;
  double user_seconds = 0;
  double system_seconds = 0;
  long max_rss_kib = 0;            // 0: unknown
  bool cpu_times_known = true;    // user and system seconds measured (not for runs imported from hyperfine)
  std::uint64_t memory_peak = 0;  // bytes, the whole process tree, from its cgroup; 0: unknown
  bool oom_killed = false;
  int exit_code = -1;
  int term_signal = 0;
  bool timed_out = false;
  bool interrupted = false;
  std::string start_error;
  std::string outcome;            // "succeeded", "exit code 3", "killed by SIGSEGV", ...
  std::vector<std::pair<std::string, double>> metrics;  // what the task reported for this run
};

// Skipped: the benchmark said it cannot run here (Google Benchmark's SkipWithMessage); it is done,
// without samples to compare.
enum class TaskStatus { Succeeded, Failed, Interrupted, Skipped };
std::string_view to_string(TaskStatus status);

// Everything known about one finished attempt of a task: what the store writes.
struct TaskOutcome {
  std::size_t task = 0;           // index in the plan
  TaskStatus status = TaskStatus::Succeeded;
  std::string reason;             // for failures: "run 3 of 10: exit code 1"
  int attempt = 1;                // 1 + retries used
  std::string slot;
  std::vector<int> cpus;
  std::vector<int> gpus;
  std::string started;            // ISO 8601 UTC
  std::string finished;
  double wall_seconds = 0;        // of the whole attempt, setup to teardown
  std::vector<RunRecord> runs;    // every process, in order
  std::map<std::string, MetricInfo> metric_info;  // for the task's own metrics
  std::vector<std::string> warnings;
  std::string repetition;         // adaptive repetition: why it stopped where it did
  std::uint64_t interleave_seed = 0;
  std::vector<std::vector<std::string>> interleaved_rounds;  // task ids per round, in run order
  Noise noise;                    // how disturbed its measured runs were
  std::vector<ExecutableHash> executables;  // the programs its command ran, by content
  nlohmann::json monitor;         // the monitor's summary of its series (null: not monitored)
  nlohmann::json benchmark_context;  // what its result files say of the machine (Google Benchmark's context)
};

} // namespace bm
