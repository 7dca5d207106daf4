#pragma once

#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "report/console_status.hpp"
#include "report/progress.hpp"
#include "report/status.hpp"

namespace bm {

// The run on a terminal, while it runs: finished tasks and failures scroll above a block that is
// redrawn in place, at most ten times a second and whenever the terminal is resized:
//
//   [12/60] 2 running, 1 failed, 3m05s elapsed, about 4m10s left
//     slot 0  core 1  algo=heap_sort n=1000000   run 3/10   12.3s
//     slot 1  core 2  algo=std_sort n=1000000    warmup 1/1  0.4s
//     +3 more
//
// Slots are listed oldest task first; what does not fit the screen is counted. The cursor is
// hidden while the block is shown and restored when the display ends, on a crash signal and on
// Ctrl-Z (the block comes back on fg). A thread of its own draws; the run's events only record.
class LiveDisplay final : public Status {
public:
  // Draws on `terminal` (a TTY). With `lines`, the task lines (ConsoleStatus) are printed above the
  // block; without, they go elsewhere (stdout is not the terminal) and only the block is drawn.
  LiveDisplay(std::FILE* terminal, RunProgress& progress, ConsoleOptions options, bool lines);
  ~LiveDisplay() override;
  LiveDisplay(const LiveDisplay&) = delete;
  LiveDisplay& operator=(const LiveDisplay&) = delete;

  void run_started(const Plan& plan, const RunHeader& header) override;
  void task_started(const Plan& plan, std::size_t task, const Lease& lease, int attempt) override;
  void task_finished(const Plan& plan, const TaskOutcome& outcome, const std::filesystem::path& dir,
                     bool will_retry) override;
  void interrupted(int signal, bool forced) override;
  void run_finished(const Plan& plan, const RunSummary& summary) override;

  // The block's lines for a terminal `columns` wide with room for `rows` lines (exposed for tests).
  static std::vector<std::string> block(const RunProgress::Snapshot& snapshot, std::size_t columns, std::size_t rows,
                                        const Colors& colors, std::chrono::steady_clock::time_point now);

private:
  void loop();
  void draw(bool last);  // with m_mutex held
  void stop();

  std::FILE* m_terminal;
  int m_fd;
  RunProgress& m_progress;
  ConsoleOptions m_options;
  ConsoleStatus m_lines;
  bool m_print_lines;
  std::mutex m_mutex;
  std::condition_variable m_wake;
  std::deque<std::string> m_pending;     // text to print above the block
  std::vector<std::size_t> m_drawn;      // the visible length of each line of the block on screen
  std::size_t m_columns = 80;
  bool m_stopping = false;
  bool m_started = false;
  std::thread m_thread;
};

// Not a terminal (CI, a pipe): every 60 s while tasks run, one plain line of where the run is.
class ProgressHeartbeat final : public Status {
public:
  ProgressHeartbeat(std::FILE* out, RunProgress& progress, std::chrono::seconds interval);
  ~ProgressHeartbeat() override;
  ProgressHeartbeat(const ProgressHeartbeat&) = delete;
  ProgressHeartbeat& operator=(const ProgressHeartbeat&) = delete;

  void run_started(const Plan& plan, const RunHeader& header) override;
  void task_started(const Plan&, std::size_t, const Lease&, int) override {}
  void task_finished(const Plan&, const TaskOutcome&, const std::filesystem::path&, bool) override {}
  void interrupted(int, bool) override {}
  void run_finished(const Plan& plan, const RunSummary& summary) override;

private:
  void stop();

  std::FILE* m_out;
  RunProgress& m_progress;
  std::chrono::seconds m_interval;
  std::mutex m_mutex;
  std::condition_variable m_wake;
  bool m_stopping = false;
  std::thread m_thread;
};

// Feeds a RunProgress from the run's events (before the displays that read it).
class ProgressRecorder final : public Status {
public:
  explicit ProgressRecorder(RunProgress& progress) : m_progress(progress) {}
  void run_started(const Plan&, const RunHeader& header) override { m_progress.run_started(header); }
  void task_started(const Plan&, std::size_t task, const Lease& lease, int attempt) override {
    m_progress.task_started(task, lease, attempt, std::chrono::steady_clock::now());
  }
  void process_started(const Plan&, std::size_t task, const ProcessStep& step) override {
    m_progress.process_started(task, step);
  }
  void task_ended(const Plan&, std::size_t task) override { m_progress.task_ended(task); }
  void task_waiting(const Plan&, std::size_t task, const std::string& reason) override {
    m_progress.task_waiting(task, reason);
  }
  void task_finished(const Plan&, const TaskOutcome& outcome, const std::filesystem::path&, bool will_retry) override {
    m_progress.task_finished(outcome, will_retry);
  }
  void interrupted(int, bool) override {}
  void run_finished(const Plan&, const RunSummary&) override {}

private:
  RunProgress& m_progress;
};

} // namespace bm
