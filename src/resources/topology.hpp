#pragma once

#include <string>
#include <vector>

namespace bm {

// One physical core as the machine shows it.
struct PhysicalCore {
  int core_index = 0;           // logical index of the core (0..n-1, in topology order)
  int package = 0;              // socket
  std::vector<int> cpus;        // OS indices of its processing units (hardware threads), ascending
};

// What the machine has and what this process may use.
struct Topology {
  std::string source;           // "hwloc" or "sysfs"; the fallback is said once by the caller
  std::string fallback_reason;  // why hwloc was not used, when source == "sysfs"
  std::string cpu_model;        // e.g. "AMD EPYC 9654 96-Core Processor"; empty when unknown
  std::vector<PhysicalCore> cores;  // only cores with at least one CPU in this process's affinity mask
  int logical_cpus = 0;         // online CPUs in the affinity mask

  // One CPU per physical core (its first processing unit), in ascending order: the CPUs that
  // benchmarks are pinned to. With reserve_core0, the physical core holding CPU 0 is left out.
  std::vector<int> usable_cpus(bool reserve_core0) const;
};

// Reads the topology with hwloc, falling back to /sys/devices/system/cpu when hwloc fails.
// Throws UserError only when both fail.
Topology detect_topology();

// The sysfs reader alone, over a root directory (tests point it at a fake tree).
// `allowed` is the affinity mask to intersect with; empty means all online CPUs.
// Missing files are skipped, as containers and old kernels leave some out: without `online` the
// cpuN directories are the online CPUs; without a sibling list, CPUs sharing (package, core_id)
// form a core; without that either, a CPU is a core of its own; a missing package id is 0.
// Throws SystemError when neither `online` nor any cpuN directory exists, and UserError naming
// the file when one exists but holds nonsense.
Topology read_sysfs_topology(const std::string& sysfs_cpu_dir, const std::vector<int>& allowed);

// Parses a Linux CPU list such as "0-3,8,10-11" into ascending unique ids. Throws UserError on
// malformed text (used for --cores too).
std::vector<int> parse_cpu_list(const std::string& text);

// The inverse: {0,1,2,3,8} -> "0-3,8".
std::string format_cpu_list(const std::vector<int>& cpus);

} // namespace bm
