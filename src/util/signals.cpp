#include "util/signals.hpp"

#include <cstring>
#include <ctime>
#include <sys/signalfd.h>

#include "util/error.hpp"

namespace bm {

namespace {

int g_blockers = 0;
sigset_t g_original;

} // namespace

sigset_t interrupt_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  sigaddset(&set, SIGPIPE);
  sigaddset(&set, SIGUSR2);
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
  if (g_blockers++ == 0) {
    g_original = m_original;
  }
}

SignalBlocker::~SignalBlocker() {
  --g_blockers;
  sigprocmask(SIG_SETMASK, &m_original, nullptr);
}

sigset_t original_signal_mask() {
  if (g_blockers > 0) {
    return g_original;
  }
  sigset_t current;
  sigprocmask(SIG_BLOCK, nullptr, &current);
  return current;
}

bool interrupt_waiting() {
  sigset_t pending;
  if (sigpending(&pending) != 0) {
    return false;
  }
  bool any = false;
  for (int signal : {SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGUSR2}) {
    any = any || (sigismember(&pending, signal) == 1 && is_blocked(signal));
  }
  return any;
}

std::optional<int> pending_interrupt() {
  if (!interrupt_waiting()) {
    return std::nullopt;
  }
  sigset_t interrupts = interrupt_signals();
  timespec now{0, 0};
  int signal = sigtimedwait(&interrupts, nullptr, &now);
  return signal > 0 ? std::optional<int>(signal) : std::nullopt;
}

void check_interrupt() {
  if (std::optional<int> signal = pending_interrupt()) {
    throw Interrupted(*signal);
  }
}

std::string Interrupted::describe(int signal) {
  const char* name = sigabbrev_np(signal);
  return std::string("interrupted by ") + (name != nullptr ? std::string("SIG") + name : std::to_string(signal));
}

UniqueFd interrupt_fd() {
  sigset_t interrupts = interrupt_signals();
  UniqueFd fd(::signalfd(-1, &interrupts, SFD_NONBLOCK | SFD_CLOEXEC));
  if (!fd) {
    throw_errno("signalfd");
  }
  return fd;
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
