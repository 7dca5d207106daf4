#pragma once

#include <signal.h>

namespace bm {

// SIGINT, SIGTERM and SIGHUP: the signals that ask benchmatrix to stop.
sigset_t interrupt_signals();

// Whether `signal` is blocked in the calling thread's mask.
bool is_blocked(int signal);

// Blocks the interrupt signals and SIGCHLD for the process while it lives, so that they are only
// ever received through a signalfd in one place (LocalExecutor::wait) and never interrupt a
// system call halfway. Create it in main before any thread starts: threads inherit the mask, and
// one that did not block them would take them with their default action. Restoring the mask
// delivers whatever is still pending, so an interrupt that nobody read is not lost.
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

// Ends the process "by the signal", as shells expect after an interrupt (a calling loop stops,
// the status reads 128+n): restores the default disposition, then raises and unblocks it.
// Returns only where the default action of `signal` does not end the process.
void reraise_default(int signal);

} // namespace bm
