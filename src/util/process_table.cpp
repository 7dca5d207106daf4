#include "util/process_table.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>

namespace bm {

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
  unsigned long long start = 0, user = 0, system = 0, rss = 0;
  long long children_user = 0, children_system = 0;
  // After ") ": state (3), ppid (4), pgrp (5), fields 6..13, utime (14), stime (15), cutime (16),
  // cstime (17), fields 18..21, starttime (22), vsize (23), rss (24).
  if (std::sscanf(rest + 1, " %c %*d %d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %lld %lld %*d %*d %*d %*d %llu %*u %llu",
                  &stat.state, &stat.group, &user, &system, &children_user, &children_system, &start, &rss) != 8) {
    return std::nullopt;
  }
  stat.start_ticks = start;
  stat.cpu_ticks = user + system + static_cast<unsigned long long>(children_user + children_system);
  stat.rss_pages = rss;
  return stat;
}

std::vector<int> process_ids() {
  std::vector<int> pids;
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) {
    return pids;
  }
  while (dirent* entry = ::readdir(proc)) {
    char* end = nullptr;
    long pid = std::strtol(entry->d_name, &end, 10);
    if (end != entry->d_name && *end == '\0' && pid > 0) {
      pids.push_back(static_cast<int>(pid));
    }
  }
  ::closedir(proc);
  return pids;
}

} // namespace bm
