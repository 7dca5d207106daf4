#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <tuple>
#include <sys/types.h>
#include <vector>

#include "collect/result.hpp"
#include "exec/executor.hpp"
#include "plan/plan.hpp"
#include "resources/pool.hpp"
#include "store/task_folder.hpp"

namespace bm {

// What every process of a run shares: the inherited environment and overrides from the command
// line.
struct AttemptContext {
  std::vector<std::string> inherited_env;                // "NAME=value", BENCHMATRIX_* removed
  std::optional<std::chrono::nanoseconds> timeout;       // --timeout: replaces the config's
};

// One attempt of one task in its slot (seed 002, idea 2): setup once, warm-ups, measured runs,
// teardown, all on the same lease. It is a state machine fed by the runner: next_process() says
// what to start, process_ended() takes how it ended. It decides nothing about other tasks.
class TaskAttempt {
public:
  TaskAttempt(const Plan& plan, std::size_t task, int attempt, Lease lease, std::string slot_name,
              TaskFolderRef folder, const AttemptContext& context);

  // The next process of the lifecycle, or nullopt when the attempt is over.
  std::optional<ProcessSpec> next_process(std::uint64_t token);
  void process_ended(const ProcessResult& result);
  // The run is being interrupted: an attempt not yet over ends as interrupted, starting nothing more.
  void stop();
  // The attempt cannot start (its folder is unusable): it fails at once, for `reason`.
  void fail_before_start(std::string reason);
  void add_warning(std::string warning) { m_outcome.warnings.push_back(std::move(warning)); }

  bool finished() const { return m_finished; }
  // The process next_process() started last is a `prepare`: the same attempt's run follows it.
  bool preparing() const { return m_preparing; }
  // The phase of the process next_process() would start; nullopt when the attempt is over.
  std::optional<Phase> next_phase() const;
  // The step of the process next_process() started last (while it runs).
  ProcessStep running_step() const;
  // The record of the process that ended last.
  const RunRecord& last_run() const { return m_outcome.runs.back(); }
  // Interleaving, for the record in result.json.
  void set_interleaving(std::uint64_t seed, std::vector<std::vector<std::string>> rounds);
  const Lease& lease() const { return m_lease; }
  std::size_t task() const { return m_task; }
  std::string task_id() const { return m_plan.task_id(m_task); }
  TaskOutcome take_outcome();

private:
  struct Step {
    Phase phase;
    int index;
  };

  // A file the task writes its results to in each measured run: the Google Benchmark source's
  // (benchmatrix names it, and removes it before each run) or the config's metrics_file (the
  // task's: read only when the run rewrote it).
  struct ResultFile {
    std::string path;                     // below the task's folder
    ResultFormat format = ResultFormat::Auto;
    bool owned = false;
    std::vector<std::string> higher_is_better;
    std::optional<std::tuple<dev_t, ino_t, std::int64_t, off_t>> before;  // its identity before the run
    bool implicit = false;                // the default metrics.json: its absence is no warning
  };

  std::vector<std::string> environment(const Step& step) const;  // of one process
  void collect_metrics(RunRecord& record);
  void prepare_result_files();
  // Reads the result files after a measured run; returns why the run failed by them (empty: it did not).
  std::string collect_result_files(RunRecord& record, bool run_succeeded);
  void fail(const Step& step, const RunRecord& record);
  bool precise_enough(int runs_done);

  const Plan& m_plan;
  std::size_t m_task;
  Lease m_lease;
  TaskFolderRef m_folder;
  TaskCommands m_commands;
  ResolvedSettings m_settings;
  std::optional<std::chrono::nanoseconds> m_timeout;
  std::vector<std::string> m_base_env;  // inherited + config + the per-attempt protocol variables
  std::vector<Step> m_steps;
  std::size_t m_next_step = 0;
  std::size_t m_teardown_step = 0;      // index of teardown in m_steps, or m_steps.size()
  std::uint64_t m_metrics_offset = 0;   // bytes of metrics.jsonl already consumed
  std::vector<ResultFile> m_result_files;
  std::string m_skipped;
  bool m_preparing = false;             // the running process is the `prepare` of the next step
  bool m_prepared = false;              // the next step's `prepare` ran                // the benchmark skipped itself, saying this
  std::chrono::steady_clock::time_point m_started;
  CpuTimes m_cpu_before;                // the task's cores' counters when a measured run started
  bool m_finished = false;
  bool m_running = false;
  TaskOutcome m_outcome;
};

} // namespace bm
