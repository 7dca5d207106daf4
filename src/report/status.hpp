#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "collect/result.hpp"
#include "plan/plan.hpp"
#include "resources/pool.hpp"

namespace bm {

// What a run is about to do, said once at its start.
struct RunHeader {
  std::size_t planned = 0;        // tasks in the plan
  std::size_t selected = 0;       // after --filter
  std::size_t to_run = 0;         // selected minus those already done
  std::size_t already_done = 0;   // skipped: result.json exists for the same spec
  std::size_t slots = 0;
  std::vector<int> cpus;
  bool pinned = true;
  std::vector<int> gpus;
  std::filesystem::path out_dir;
  std::vector<std::string> notices;  // fallbacks and warnings, each said once
  std::vector<std::string> slot_names;  // by Lease::slot
  std::vector<std::size_t> tasks;    // the plan indices to run, in plan order
  std::size_t failed_before = 0;     // of the tasks to run, those whose last attempt failed
  std::string selected_by = "--filter";  // what chose the selected tasks ("this element" on a cluster)
};

struct FailedTask {
  std::size_t task = 0;
  std::string reason;
  std::filesystem::path dir;
};

// How the run went: what execution_summary.json holds and the console's last lines.
struct RunSummary {
  std::size_t planned = 0;
  std::size_t selected = 0;
  std::size_t skipped_done = 0;
  std::size_t completed = 0;
  std::size_t failed = 0;
  std::size_t interrupted = 0;
  std::size_t skipped = 0;      // the benchmark skipped itself (done, nothing to compare)
  std::size_t not_started = 0;
  std::size_t attempts = 0;
  std::size_t processes = 0;
  double wall_seconds = 0;
  bool was_interrupted = false;
  int interrupt_signal = 0;
  std::string started;
  std::string finished;
  std::vector<FailedTask> failures;
  std::string stop_reason;  // why tasks were left unstarted without an interrupt (no GPU left)
};

// The run's events go through this interface as typed calls, from the run loop's thread; the
// scheduler and the pool never print. Implementations: the console's lines (ConsoleStatus), the
// live terminal display (LiveDisplay), the JSON-lines stream of `run --events` (EventStream), all
// at once through StatusFanOut; tests record the calls.
class Status {
public:
  virtual ~Status() = default;
  virtual void run_started(const Plan& plan, const RunHeader& header) = 0;
  virtual void task_started(const Plan& plan, std::size_t task, const Lease& lease, int attempt) = 0;
  // A process of the task's lifecycle was started (`step` says which), and one ended.
  virtual void process_started(const Plan& /*plan*/, std::size_t /*task*/, const ProcessStep& /*step*/) {}
  virtual void process_ended(const Plan& /*plan*/, std::size_t /*task*/, const RunRecord& /*record*/) {}
  // The task's last process is over (its slot is free again); task_finished follows once its
  // files are written, which may be after the slot's next task started.
  virtual void task_ended(const Plan& /*plan*/, std::size_t /*task*/) {}
  // The task's next process waits before it starts (`reason`: a cool-down, a GPU too hot).
  virtual void task_waiting(const Plan& /*plan*/, std::size_t /*task*/, const std::string& /*reason*/) {}
  // A GPU left the pool: no task starts on it any more.
  virtual void gpu_removed(int /*gpu*/, const std::string& /*reason*/) {}
  virtual void task_finished(const Plan& plan, const TaskOutcome& outcome, const std::filesystem::path& dir,
                             bool will_retry) = 0;
  virtual void interrupted(int signal, bool forced) = 0;
  virtual void run_finished(const Plan& plan, const RunSummary& summary) = 0;
};

// Hands every event to each of several statuses, in order.
class StatusFanOut final : public Status {
public:
  void add(Status& status) { m_statuses.push_back(&status); }

  void run_started(const Plan& plan, const RunHeader& header) override {
    for (Status* status : m_statuses) {
      status->run_started(plan, header);
    }
  }
  void task_started(const Plan& plan, std::size_t task, const Lease& lease, int attempt) override {
    for (Status* status : m_statuses) {
      status->task_started(plan, task, lease, attempt);
    }
  }
  void process_started(const Plan& plan, std::size_t task, const ProcessStep& step) override {
    for (Status* status : m_statuses) {
      status->process_started(plan, task, step);
    }
  }
  void process_ended(const Plan& plan, std::size_t task, const RunRecord& record) override {
    for (Status* status : m_statuses) {
      status->process_ended(plan, task, record);
    }
  }
  void task_ended(const Plan& plan, std::size_t task) override {
    for (Status* status : m_statuses) {
      status->task_ended(plan, task);
    }
  }
  void task_waiting(const Plan& plan, std::size_t task, const std::string& reason) override {
    for (Status* status : m_statuses) {
      status->task_waiting(plan, task, reason);
    }
  }
  void gpu_removed(int gpu, const std::string& reason) override {
    for (Status* status : m_statuses) {
      status->gpu_removed(gpu, reason);
    }
  }
  void task_finished(const Plan& plan, const TaskOutcome& outcome, const std::filesystem::path& dir,
                     bool will_retry) override {
    for (Status* status : m_statuses) {
      status->task_finished(plan, outcome, dir, will_retry);
    }
  }
  void interrupted(int signal, bool forced) override {
    for (Status* status : m_statuses) {
      status->interrupted(signal, forced);
    }
  }
  void run_finished(const Plan& plan, const RunSummary& summary) override {
    for (Status* status : m_statuses) {
      status->run_finished(plan, summary);
    }
  }

private:
  std::vector<Status*> m_statuses;
};

} // namespace bm
