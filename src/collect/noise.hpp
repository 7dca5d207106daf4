#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace bm {

// CPU time counters of some CPUs, from /proc/stat, in seconds.
struct CpuTimes {
  bool ok = false;
  double busy = 0;   // user, nice, system, irq, softirq (guest time is within user)
  double steal = 0;  // taken by the hypervisor for other guests
};
CpuTimes read_cpu_times(const std::vector<int>& cpus);
// The 1-minute load average; negative when unreadable.
double load_average();

// How disturbed the measured runs of one task were, summed over them: CPU time that other
// processes took on the task's own cores (their busy time less the task's own user and system
// time), time stolen by the hypervisor, and the highest load average seen at a run's start.
struct Noise {
  bool measured = false;      // the counters could be read for pinned cores
  double core_seconds = 0;    // wall time of the measured runs x the task's cores
  double others_seconds = 0;  // other processes' CPU time on those cores
  double steal_seconds = 0;
  double load_average = -1;   // highest 1-minute load average at a measured run's start
  int online_cpus = 0;

  // Adds one measured run: the counters at its start and end, its wall and CPU time.
  void add_run(const CpuTimes& before, const CpuTimes& after, std::size_t cores, double wall, double task_cpu);
  // Why the runs count as disturbed, with the figures ("other processes took 12% of the task's
  // cores"); nullopt when they do not: others above 5% of the cores' time, steal above 2%, or (for
  // unpinned runs, whose cores cannot be told) a load average above the online CPUs.
  std::optional<std::string> disturbed() const;
};

} // namespace bm
