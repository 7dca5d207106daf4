#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace bm {

// What /proc/PID/stat says of a process.
struct ProcessStat {
  char state = 0;                 // R, S, D, Z, ...
  int group = 0;                  // its process group id
  std::uint64_t start_ticks = 0;  // clock ticks since boot
  std::uint64_t cpu_ticks = 0;    // user + system time, its own and its reaped children's
  std::uint64_t rss_pages = 0;    // resident set size
};
std::optional<ProcessStat> read_process_stat(int pid);

// The pid of every process in /proc now.
std::vector<int> process_ids();

} // namespace bm
