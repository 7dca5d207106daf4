#include "exec/signals.hpp"

#include "util/error.hpp"

namespace bm {

sigset_t interrupt_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  return set;
}

bool is_blocked(int signal) {
  sigset_t current;
  if (sigprocmask(SIG_BLOCK, nullptr, &current) != 0) {
    throw_errno("sigprocmask");
  }
  return sigismember(&current, signal) == 1;
}

SignalBlocker::SignalBlocker() {
  sigset_t blocked = interrupt_signals();
  // SIGCHLD too: the executor may learn exits from a signalfd, which only sees blocked signals.
  sigaddset(&blocked, SIGCHLD);
  if (sigprocmask(SIG_BLOCK, &blocked, &m_original) != 0) {
    throw_errno("sigprocmask");
  }
}

SignalBlocker::~SignalBlocker() {
  sigprocmask(SIG_SETMASK, &m_original, nullptr);
}

void reraise_default(int signal) {
  struct sigaction action {};
  action.sa_handler = SIG_DFL;
  sigemptyset(&action.sa_mask);
  sigaction(signal, &action, nullptr);
  // Raised while still blocked it stays pending, and unblocking delivers it before
  // sigprocmask returns.
  raise(signal);
  sigset_t only;
  sigemptyset(&only);
  sigaddset(&only, signal);
  sigprocmask(SIG_UNBLOCK, &only, nullptr);
}

} // namespace bm
