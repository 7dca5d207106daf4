#include "collect/noise.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <unistd.h>

#include <fmt/format.h>

namespace bm {

CpuTimes read_cpu_times(const std::vector<int>& cpus) {
  CpuTimes times;
  if (cpus.empty()) {
    return times;
  }
  std::ifstream in("/proc/stat");
  if (!in) {
    return times;
  }
  static const double tick = 1.0 / static_cast<double>(std::max(1L, ::sysconf(_SC_CLK_TCK)));
  std::string line;
  std::size_t found = 0;
  while (std::getline(in, line)) {
    if (line.size() < 4 || line.compare(0, 3, "cpu") != 0 || line[3] < '0' || line[3] > '9') {
      if (found > 0 && line.compare(0, 3, "cpu") != 0) {
        break;  // the per-CPU lines come together
      }
      continue;
    }
    char* end = nullptr;
    long id = std::strtol(line.c_str() + 3, &end, 10);
    if (std::find(cpus.begin(), cpus.end(), static_cast<int>(id)) == cpus.end()) {
      continue;
    }
    // user nice system idle iowait irq softirq steal guest guest_nice
    unsigned long long v[8] = {};
    const char* p = end;
    for (auto& value : v) {
      value = std::strtoull(p, &end, 10);
      p = end;
    }
    times.busy += static_cast<double>(v[0] + v[1] + v[2] + v[5] + v[6]) * tick;
    times.steal += static_cast<double>(v[7]) * tick;
    ++found;
  }
  times.ok = found == cpus.size();
  return times;
}

double load_average() {
  double loads[1] = {0};
  return ::getloadavg(loads, 1) == 1 ? loads[0] : -1;
}

void Noise::add_run(const CpuTimes& before, const CpuTimes& after, std::size_t cores, double wall, double task_cpu) {
  if (online_cpus == 0) {
    online_cpus = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  }
  if (!before.ok || !after.ok || cores == 0) {
    return;
  }
  measured = true;
  core_seconds += wall * static_cast<double>(cores);
  others_seconds += std::max(0.0, (after.busy - before.busy) - task_cpu);
  steal_seconds += std::max(0.0, after.steal - before.steal);
}

std::optional<std::string> Noise::disturbed() const {
  std::vector<std::string> why;
  // Counters tick every 10 ms: below a few ticks in all, the share says nothing.
  if (measured && core_seconds > 0 && others_seconds > 0.05 && others_seconds > 0.05 * core_seconds) {
    why.push_back(fmt::format("other processes took {:.0f}% of its cores' time ({:.2f} s of {:.2f} s)",
                              100 * others_seconds / core_seconds, others_seconds, core_seconds));
  }
  if (measured && core_seconds > 0 && steal_seconds > 0.05 && steal_seconds > 0.02 * core_seconds) {
    why.push_back(fmt::format("the hypervisor stole {:.0f}% of its cores' time", 100 * steal_seconds / core_seconds));
  }
  // The load average is slow (a minute's decay) and machine-wide: a sign only where the task's own
  // cores could not be measured (unpinned runs).
  if (!measured && online_cpus > 0 && load_average > static_cast<double>(online_cpus)) {
    why.push_back(fmt::format("load average {:.1f} on {} CPUs", load_average, online_cpus));
  }
  if (why.empty()) {
    return std::nullopt;
  }
  std::string text = why[0];
  for (std::size_t i = 1; i < why.size(); ++i) {
    text += "; " + why[i];
  }
  return text;
}

} // namespace bm
