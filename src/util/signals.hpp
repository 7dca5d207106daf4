#pragma once

#include <exception>
#include <optional>
#include <string>

#include <signal.h>

#include "util/fs.hpp"

namespace bm {

// SIGINT, SIGTERM, SIGHUP, SIGPIPE and SIGUSR2: the signals that ask benchmatrix to stop. SIGPIPE
// comes when its output was a pipe whose reader has gone (`benchmatrix run ... | head -1`):
// benchmatrix then stops as for Ctrl-C, rather than die and leave its tasks running. SIGUSR2 is
// SLURM's warning before a preemption or the time limit (sbatch --signal=B:USR2@90).
sigset_t interrupt_signals();

// Whether `signal` is blocked in the calling thread's mask.
bool is_blocked(int signal);

// Blocks the interrupt signals and SIGCHLD for the process while it lives, so that they are only
// ever received where benchmatrix looks for them (a signalfd in a wait, or pending_interrupt()
// between steps of long work) and never interrupt a system call halfway. Create it first thing in
// main, before any thread starts: threads inherit the mask, and one that did not block them would
// take them with their default action. Restoring the mask delivers whatever is still pending, so
// an interrupt that nobody read is not lost.
class SignalBlocker {
public:
  SignalBlocker();
  ~SignalBlocker();
  SignalBlocker(const SignalBlocker&) = delete;
  SignalBlocker& operator=(const SignalBlocker&) = delete;

  // The mask from before: children must start with it (POSIX_SPAWN_SETSIGMASK), since a blocked
  // mask survives exec and would make a benchmark deaf to Ctrl-C and timeouts.
  const sigset_t& original_mask() const { return m_original; }

private:
  sigset_t m_original;
};

// The mask the process had before the outermost SignalBlocker (the current one when there is
// none): what every child process starts with.
sigset_t original_signal_mask();

// Long work (statistics over millions of samples, reading and writing reports) stops when asked:
// pending_interrupt() takes an interrupt signal that is pending, if any, without waiting;
// check_interrupt() throws Interrupted for it. main() turns Interrupted into exit code 130.
std::optional<int> pending_interrupt();
// Whether an interrupt signal is pending (blocked, not yet taken), without taking it.
bool interrupt_waiting();
void check_interrupt();

class Interrupted : public std::exception {
public:
  explicit Interrupted(int signal) : m_signal(signal), m_text(describe(signal)) {}
  int signal() const { return m_signal; }
  const char* what() const noexcept override { return m_text.c_str(); }
  static std::string describe(int signal);  // "interrupted by SIGINT"

private:
  int m_signal;
  std::string m_text;
};

// A signalfd that becomes readable when an interrupt signal arrives (they must be blocked), for
// waits that watch other descriptors too (a discovery command's output).
UniqueFd interrupt_fd();

// Ends the process "by the signal", as shells expect after an interrupt (a calling loop stops,
// the status reads 128+n): restores the default disposition, then raises and unblocks it.
// Returns only where the default action of `signal` does not end the process.
void reraise_default(int signal);

} // namespace bm
