#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "exec/executor.hpp"
#include "report/status.hpp"
#include "resources/monitor.hpp"
#include "resources/pool.hpp"
#include "sched/attempt_group.hpp"
#include "sched/scheduler.hpp"
#include "store/store.hpp"

namespace bm {

struct RunnerOptions {
  AttemptContext attempt;
  std::optional<int> retries;   // --retries: replaces the config's
  nlohmann::json context;       // machine facts for result files
  Monitor* monitor = nullptr;   // samples every task's resources; null: none
  std::chrono::nanoseconds cool_down{0};  // between two tasks of one slot
  std::optional<unsigned> thermal_limit;  // Celsius: a measured run waits for its GPUs to cool
  enum class Halt { Never, Soon, Now };
  Halt halt = Halt::Never;                // --halt: what the first failed task does to the run
};

// Runs the selected tasks: the one loop of benchmatrix. It asks the scheduler what is next, the
// pool for resources, the executor to start processes, and hands every end to the attempts, the
// store and the status. It prints nothing itself.
class Runner {
public:
  Runner(const Plan& plan, Store& store, Executor& executor, ResourcePool& pool, Status& status,
         RunnerOptions options);
  ~Runner();
  Runner(const Runner&) = delete;
  Runner& operator=(const Runner&) = delete;

  // Runs `tasks` (plan indices, in plan order) to the end or to an interrupt.
  RunSummary run(const std::vector<std::size_t>& tasks, RunSummary summary);
  // The counts so far: what a run that stopped on an error (a full disk) still reports.
  const RunSummary& summary() const { return m_summary; }

private:
  struct Running {
    std::unique_ptr<AttemptGroup> group;
    std::size_t attempt = 0;  // which of the group's attempts the process belongs to
    bool measured = false;    // a measured run: its GPUs' counters are read around it
    bool waiting = false;     // its start waits (cool-down, thermal gate): said done when it starts
    std::vector<GpuCounters> gpu_counters;  // at its real start, per GPU of the lease
  };

  struct Finished {
    TaskOutcome outcome;
    bool decided = false;  // checked (Store::inspect), counted, and a retry queued if it gets one
    bool will_retry = false;
  };

  bool persist(bool all);  // true when a retry was queued
  void prepare_ahead();
  void submit_all(const std::vector<std::size_t>& tasks);
  void fill();
  void advance(std::unique_ptr<AttemptGroup> group, bool first = false);
  void check_gpus();
  void remove_gpu(int gpu, const std::string& reason);
  void judge_gpus(const TaskOutcome& outcome);
  bool retry_elsewhere(Finished& finished);
  std::optional<std::string> too_hot(const std::vector<int>& gpus);
  void on_process_ended(const ProcessResult& result);
  void on_interrupt(int signal);
  void finish_attempt(std::unique_ptr<TaskAttempt> attempt);
  void halt(const TaskOutcome& failed);
  bool retries_left(const TaskOutcome& outcome) const;  // --retries, else the task's own  // --halt: the first failed task (after its retries) stops the run
  bool decide(Finished& finished);

  const Plan& m_plan;
  Store& m_store;
  Executor& m_executor;
  ResourcePool& m_pool;
  Status& m_status;
  RunnerOptions m_options;
  Scheduler m_scheduler;
  std::vector<std::vector<std::size_t>> m_groups;     // interleaved groups, by QueuedTask::group
  std::unordered_map<std::uint64_t, Running> m_running;  // by process token
  std::uint64_t m_next_token = 1;
  std::vector<std::size_t> m_to_describe;  // attempts started whose task.json is not written yet
  std::vector<Finished> m_finished;      // attempts ended whose files are not written yet
  int m_interrupts = 0;
  bool m_halted = false;       // --halt: a task failed; nothing more starts
  RunSummary m_summary;
  std::map<int, std::chrono::steady_clock::time_point> m_slot_free_since;  // for the cool-down
  std::set<int> m_removed_gpus;
  std::map<std::size_t, std::set<int>> m_failed_on;   // task -> GPUs its failed attempts ran on
  std::map<int, std::set<std::size_t>> m_strikes;     // GPU -> tasks that failed there, then succeeded elsewhere
  std::set<std::size_t> m_moved;                      // tasks run again because their GPU left
};

} // namespace bm
