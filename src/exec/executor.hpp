#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <fcntl.h>

#include "util/process_table.hpp"

namespace bm {

using Clock = std::chrono::steady_clock;

// One process to start: everything is already rendered; the executor only applies it.
struct ProcessSpec {
  std::uint64_t token = 0;           // chosen by the caller, returned in ProcessResult
  std::vector<std::string> argv;     // argv[0] is looked up in PATH when it has no '/'
  std::vector<std::string> env;      // the complete environment, "NAME=value" each
  std::string working_directory;     // empty: the orchestrator's own
  std::string stdout_path;           // appended to (created when missing); empty: /dev/null
  std::string stderr_path;           // appended to (created when missing); empty: /dev/null
  // With a descriptor, the two paths are relative to that directory and resolved without following
  // a link (a log that is a link, a FIFO or a device is refused, never written through); with
  // AT_FDCWD, ordinary paths whose last component must still be a regular file, not a link.
  int output_base = AT_FDCWD;
  std::vector<int> cpus;             // pin to these logical CPUs before exec; empty: not pinned
  std::optional<std::chrono::nanoseconds> timeout;  // wall-clock limit of this process
  std::chrono::nanoseconds kill_grace{std::chrono::seconds(2)};  // TERM -> KILL delay on timeout/interrupt
  std::chrono::nanoseconds start_delay{0};  // cool-down: start no sooner than this after start()
  // When set, the process starts only once this says yes, asked when it is due and then every
  // `recheck` (the thermal gate: a GPU hotter than the limit waits until it has cooled).
  std::function<bool()> ready;
  std::chrono::nanoseconds recheck{std::chrono::milliseconds(500)};
  // > 0: each stream keeps at most this many bytes of this process's output (its head and tail,
  // with a marker of what was dropped), read through a pipe; 0: written straight to the file.
  std::uint64_t output_cap = 0;
  std::uint64_t memory_max = 0;  // bytes, enforced by the process's cgroup where there is one
  std::uint64_t pids_max = 0;
};

// How one process ended. Exactly one of: spawn failed (start_error set), exited (exit_code), or
// killed by a signal (term_signal). timed_out is recorded apart: a timed-out process also
// carries the signal that ended it.
struct ProcessResult {
  std::uint64_t token = 0;
  std::string start_error;           // e.g. "execve(./missing): No such file or directory"
  int exit_code = -1;                // >= 0 when it exited
  int term_signal = 0;               // > 0 when a signal ended it
  bool timed_out = false;
  bool interrupted = false;          // ended because the run was interrupted
  Clock::time_point started{};
  Clock::time_point ended{};
  double wall_seconds = 0;           // ended - started
  double user_seconds = 0;           // of this child alone (wait4), not its reaped descendants mixed in
  double system_seconds = 0;
  long max_rss_kib = 0;              // peak resident set size, KiB
  std::uint64_t output_bytes[2] = {0, 0};    // stdout, stderr: written by the process (when capped)
  std::uint64_t output_dropped[2] = {0, 0};  // dropped from the middle to respect the cap
  std::string output_error;          // the log could not be written (the output was dropped)
  bool oom_killed = false;           // the cgroup's memory limit was hit (a kill by the OOM killer)
  std::uint64_t memory_peak = 0;     // bytes, of the whole process tree (cgroup accounting); 0: unknown
  // Measured beside it by the runner (its GPUs' energy and throttling while it ran), as metrics.
  std::vector<std::pair<std::string, double>> gpu_metrics;

  bool succeeded() const { return start_error.empty() && exit_code == 0 && !timed_out && !interrupted; }
  std::string describe() const;      // "exit code 3", "killed by signal 11 (SIGSEGV)", "timed out after 2.0s", ...
};

// What ended the wait: a process, or an interrupt request from the user (SIGINT/SIGTERM/SIGHUP).
struct ExecutorEvent {
  enum class Kind { ProcessEnded, Interrupted };
  Kind kind = Kind::ProcessEnded;
  ProcessResult result;              // for ProcessEnded
  int signal = 0;                    // for Interrupted
};

// Starts processes and reports their ends. Implementations: LocalExecutor (a vfork-style spawn, pidfd,
// epoll), a fake in tests, later a SLURM one. The caller (Runner) decides what to start; the
// executor never decides anything and never prints.
class Executor {
public:
  virtual ~Executor() = default;

  // Starts the process. A spawn failure (missing binary, bad working directory) is not thrown:
  // it comes back from wait() as a ProcessResult with start_error set.
  virtual void start(const ProcessSpec& spec) = 0;

  // Blocks until one started process ends or an interrupt arrives, and returns it. Timeouts are
  // enforced inside. Must not be called with nothing running unless interrupts are watched.
  virtual ExecutorEvent wait() = 0;

  // Number of started processes whose end has not been returned by wait() yet.
  virtual std::size_t running() const = 0;

  // Whether wait() has something to return now (a process ended, an interrupt): lets the caller
  // put off work that can wait, so a free slot gets its next process first. Never blocks.
  virtual bool has_pending() const { return false; }

  // Ends every running process: `signal` to each process group, SIGKILL after its kill_grace.
  // Their ends still come back through wait(), marked interrupted.
  virtual void terminate_all(int signal) = 0;

  // Called right after each process really starts, with its pid (= process group id), its start
  // time in clock ticks since boot (/proc/PID/stat field 22) and its cgroup directories: with
  // them, a later run can find what a killed benchmatrix left behind (the process, the rest of its
  // group, its cgroup) and tell it from an unrelated process that reused a pid.
  using SpawnListener = std::function<void(std::uint64_t token, int pid, std::uint64_t start_ticks,
                                           const std::vector<std::string>& cgroups)>;
  void set_spawn_listener(SpawnListener listener) { m_spawn_listener = std::move(listener); }

protected:
  SpawnListener m_spawn_listener;
};

// The start time of a live process in clock ticks since boot, or nullopt when there is no such
// process (or it is a zombie).
std::optional<std::uint64_t> process_start_ticks(int pid);

} // namespace bm
