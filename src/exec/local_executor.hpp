#pragma once

#include "exec/cgroups.hpp"
#include "exec/executor.hpp"
#include "exec/exit_watcher.hpp"
#include "exec/output_sink.hpp"
#include "util/fs.hpp"

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <utility>
#include <unordered_map>
#include <vector>
#include <optional>
#include <signal.h>
#include <sys/types.h>

namespace bm {

// How a LocalExecutor learns that a child exited.
enum class ExitWatch {
  Pidfd,    // one pidfd per child in the epoll set; becomes Sigchld where pidfd_open is missing
  Sigchld,  // a signalfd for SIGCHLD, then waitid on each of our children: old kernels, and tests
};

// Runs processes on this machine. Each child gets its own process group, the original signal
// mask, stdin from /dev/null and its output appended straight to files; exits and interrupts are
// learned in one epoll_wait whose timeout is the nearest deadline, never by sleeping.
//
// Preconditions: the caller has blocked SIGINT, SIGTERM, SIGHUP and SIGCHLD (SignalBlocker)
// before constructing it, passes the mask from before that for the children, and uses it from
// one thread only. A run is timed from the child's execve to its exit as seen by a thread that
// only waits for exits (ExitWatcher), so a busy event loop never lengthens a measured run.
// Paths: stdout/stderr paths are relative to the orchestrator's directory; argv[0] with a '/'
// and relative PATH entries are relative to the child's working directory, as exec sees them.
class LocalExecutor final : public Executor {
public:
  explicit LocalExecutor(const sigset_t& child_signal_mask, ExitWatch exit_watch = ExitWatch::Pidfd);
  // Kills every process group still running and reaps its leader.
  ~LocalExecutor() override;
  LocalExecutor(const LocalExecutor&) = delete;
  LocalExecutor& operator=(const LocalExecutor&) = delete;

  void start(const ProcessSpec& spec) override;
  ExecutorEvent wait() override;
  std::size_t running() const override { return m_unreturned; }
  bool has_pending() const override;
  void terminate_all(int signal) override;

  // Puts every process in a cgroup of its own (or not, with null). The manager must outlive the
  // executor.
  void set_cgroups(CgroupManager* cgroups) { m_cgroups = cgroups; }

  // The mechanism in use: Pidfd falls back to Sigchld where the kernel lacks pidfd_open.
  ExitWatch exit_watch() const { return m_exit_watch; }

private:
  struct Child {
    std::uint64_t token = 0;
    pid_t pid = -1;  // also its process group id
    UniqueFd pidfd;  // empty under ExitWatch::Sigchld
    Clock::time_point started{};
    std::optional<Clock::time_point> terminate_at;  // SIGTERM to the group then (timeout)
    std::optional<Clock::time_point> kill_at;       // SIGKILL to the group then (grace ended)
    std::chrono::nanoseconds kill_grace{};
    bool timed_out = false;
    bool interrupted = false;
    std::unique_ptr<OutputSink> sinks[2];  // stdout, stderr when the output is capped
    std::optional<TaskCgroup> cgroup;
    std::string program;  // what the launcher execs
    UniqueFd report;      // the launcher's report pipe (read end)
  };

  void start_now(const ProcessSpec& spec);
  void start_due(Clock::time_point now);
  void queue_start_failure(std::uint64_t token, std::string message);
  void read_output(std::uint64_t key);
  void read_signals(Clock::time_point seen);
  void finish_if_exited(pid_t pid, Clock::time_point seen);
  // Whether a process that died of a stop signal got it together with benchmatrix (see finish_if_exited).
  bool stopped_with_us(const ProcessResult& result) const;
  void enforce_deadlines(Clock::time_point now);
  int epoll_timeout_ms(Clock::time_point now) const;

  sigset_t m_child_signal_mask;
  ExitWatch m_exit_watch;
  UniqueFd m_epoll;
  UniqueFd m_signals;   // signalfd: interrupts, and SIGCHLD under ExitWatch::Sigchld
  std::optional<Clock::time_point> m_last_interrupt;  // when an interrupt signal was last read
  std::unordered_map<std::uint64_t, int> m_descriptor_waits;  // starts put off for lack of descriptors, by token
  UniqueFd m_dev_null;  // stdin of every child, and its output when no path is given
  std::map<pid_t, Child> m_children;
  std::vector<std::pair<Clock::time_point, ProcessSpec>> m_delayed;  // cool-downs: started when due
  std::deque<ProcessSpec> m_waiting_for_descriptors;
  CgroupManager* m_cgroups = nullptr;  // EMFILE: started as running ones end
  std::deque<ExecutorEvent> m_ready;  // seen but not yet returned; at most one per child and signal read
  std::size_t m_unreturned = 0;       // started, end not yet returned by wait()
  std::unique_ptr<ExitWatcher> m_watcher;  // ExitWatch::Pidfd: the children's pidfds
};

} // namespace bm
