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

std::optional<ProcessStat> read_process_stat(int pid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", pid);
  std::FILE* file = std::fopen(path, "re");
  if (file == nullptr) {
    return std::nullopt;
  }
  char buffer[1024];
  size_t length = std::fread(buffer, 1, sizeof buffer - 1, file);
  std::fclose(file);
  buffer[length] = '\0';
  // The command name (field 2) may hold spaces and parentheses: fields resume after the last ')'.
  const char* rest = std::strrchr(buffer, ')');
  if (rest == nullptr) {
    return std::nullopt;
  }
  ProcessStat stat;
  unsigned long long start = 0;
  // After ") ": state (3), ppid (4), pgrp (5), then fields 6..21, then starttime (22).
  if (std::sscanf(rest + 1, " %c %*d %d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
                  &stat.state, &stat.group, &start) != 3) {
    return std::nullopt;
  }
  stat.start_ticks = start;
  return stat;
}

std::optional<std::uint64_t> process_start_ticks(int pid) {
  std::optional<ProcessStat> stat = read_process_stat(pid);
  if (!stat || stat->state == 'Z' || stat->state == 'X') {
    return std::nullopt;
  }
  return stat->start_ticks;
}

} // namespace bm
