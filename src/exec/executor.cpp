#include "exec/executor.hpp"

#include <cstdio>
#include <cstring>

#include <fmt/format.h>

namespace bm {
namespace {

// "SIGSEGV"; real-time and unknown signals have no abbreviation, so their description instead.
std::string signal_name(int signal) {
  if (const char* abbreviation = sigabbrev_np(signal)) {
    return fmt::format("SIG{}", abbreviation);
  }
  if (const char* description = sigdescr_np(signal)) {
    return description;
  }
  return "unknown signal";
}

} // namespace

std::string ProcessResult::describe() const {
  if (!start_error.empty()) {
    return "could not start: " + start_error;
  }
  if (interrupted) {
    return "interrupted";
  }
  if (timed_out) {
    std::string how = term_signal > 0 ? "killed by " + signal_name(term_signal) : fmt::format("exit code {}", exit_code);
    return fmt::format("timed out after {:.1f}s ({})", wall_seconds, how);
  }
  if (oom_killed && (term_signal > 0 || exit_code != 0)) {
    return fmt::format("out of memory: the memory limit was hit and the OOM killer ended it ({})",
                       term_signal > 0 ? "signal " + std::to_string(term_signal) : "exit code " + std::to_string(exit_code));
  }
  if (term_signal > 0) {
    return fmt::format("killed by signal {} ({})", term_signal, signal_name(term_signal));
  }
  if (exit_code != 0) {
    return fmt::format("exit code {}", exit_code);
  }
  return "succeeded";
}

std::optional<std::uint64_t> process_start_ticks(int pid) {
  std::optional<ProcessStat> stat = read_process_stat(pid);
  if (!stat || stat->state == 'Z' || stat->state == 'X') {
    return std::nullopt;
  }
  return stat->start_ticks;
}

} // namespace bm
