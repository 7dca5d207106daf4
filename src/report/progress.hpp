#pragma once

#include <chrono>
#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "collect/result.hpp"
#include "report/status.hpp"

namespace bm {

// How far a run is, for a person: the counts, what runs where, and when it will likely end. Fed
// by the run's events on the loop's thread and read from a display thread: every member is
// guarded by one mutex, and the loop's side only records (the estimate is made by the reader).
//
// The estimate of the time left: each task not finished yet is expected to take what the same
// task spec took in an earlier run (its last success in the journal), else the median of the
// tasks finished in this run that share its values on every axis but the first (the variants of
// one workload), else the median of all tasks finished in this run; with none of these, it is
// unknown. The work left, less what the running tasks have done, spread over the slots.
class RunProgress {
public:
  using TimePoint = std::chrono::steady_clock::time_point;

  struct Running {
    std::size_t task = 0;
    std::string label;            // in snapshots
    std::string slot;
    std::vector<int> cpus;
    std::vector<int> gpus;
    int attempt = 1;
    ProcessStep step;
    bool step_known = false;
    std::string waiting;          // why its next process has not started yet (cool-down, hot GPU)
    TimePoint started;
  };

  struct Snapshot {
    std::size_t total = 0;        // tasks this run runs
    std::size_t done = 0;         // succeeded
    std::size_t failed = 0;
    std::size_t interrupted = 0;
    std::size_t skipped = 0;      // already done before this run
    std::vector<Running> running;  // oldest first
    double elapsed = 0;
    std::optional<double> eta;    // seconds left; nullopt: not known yet
    std::size_t slots = 0;
  };

  // `history`: task id -> seconds its last success took (Store::recorded_durations).
  RunProgress(const Plan& plan, std::unordered_map<std::string, double> history, TimePoint start);

  void run_started(const RunHeader& header);
  void task_started(std::size_t task, const Lease& lease, int attempt, TimePoint now);
  void process_started(std::size_t task, const ProcessStep& step);
  void task_waiting(std::size_t task, const std::string& reason);  // "" : no longer waiting
  void task_ended(std::size_t task);  // no longer running; counted at task_finished
  void task_finished(const TaskOutcome& outcome, bool will_retry);

  Snapshot snapshot(TimePoint now);
  // "12/60 done, 2 running, 1 failed, 3 skipped, 1m02s elapsed, about 4m left"
  static std::string status_line(const Snapshot& snapshot);

private:
  void estimate(TimePoint now);  // with m_mutex held

  const Plan& m_plan;
  std::mutex m_mutex;
  std::unordered_map<std::string, double> m_history;
  TimePoint m_start;
  std::vector<std::string> m_slot_names;
  std::vector<std::size_t> m_tasks;   // the plan indices this run runs
  enum : std::uint8_t { k_outside, k_pending, k_running, k_finished };
  std::vector<std::uint8_t> m_state;  // by plan index
  std::vector<Running> m_running;
  std::size_t m_done = 0, m_failed = 0, m_interrupted = 0, m_skipped = 0;
  // Durations of the tasks finished in this run: all of them, and by workload (every axis value
  // but the first's). Workload ids are made on the first estimate, off the loop's path.
  std::vector<std::pair<std::size_t, double>> m_finished;  // plan index, seconds
  std::vector<std::uint32_t> m_workload;  // by plan index
  std::size_t m_workloads = 0;
  bool m_dirty = true;
  TimePoint m_estimated_at;
  std::optional<double> m_work_left;  // seconds of work left at m_estimated_at, over all slots
  std::size_t m_pending_at_estimate = 0;
};

// "1h02m", "3m05s", "42s"
std::string format_eta(double seconds);

} // namespace bm
