#include "resources/topology.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <sched.h>
#include <stdexcept>
#include <utility>

#include <fmt/format.h>
#include <hwloc.h>

#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/strings.hpp"

namespace bm {

namespace {

namespace fs = std::filesystem;

constexpr int k_max_cpu = 4095;
constexpr const char* k_real_sysfs_cpu_dir = "/sys/devices/system/cpu";

#pragma GCC diagnostic push
// The CPU_* macros are C casts underneath; the warning is off only around them.
#pragma GCC diagnostic ignored "-Wold-style-cast"
void free_cpu_set(cpu_set_t* set) {
  CPU_FREE(set);
}

// The CPUs this process may run on (its affinity mask), ascending. Empty when the mask cannot be
// read: callers then take every online CPU, and pinning still obeys the kernel's mask.
std::vector<int> affinity_cpus() {
  std::unique_ptr<cpu_set_t, decltype(&free_cpu_set)> set(CPU_ALLOC(k_max_cpu + 1), &free_cpu_set);
  if (!set) {
    return {};
  }
  size_t size = CPU_ALLOC_SIZE(k_max_cpu + 1);
  CPU_ZERO_S(size, set.get());
  if (::sched_getaffinity(0, size, set.get()) != 0) {
    return {};
  }
  std::vector<int> cpus;
  for (int cpu = 0; cpu <= k_max_cpu; ++cpu) {
    if (CPU_ISSET_S(static_cast<size_t>(cpu), size, set.get())) {
      cpus.push_back(cpu);
    }
  }
  return cpus;
}
#pragma GCC diagnostic pop

bool allows(const std::vector<int>& allowed, int cpu) {
  return allowed.empty() || std::binary_search(allowed.begin(), allowed.end(), cpu);
}

std::string proc_cpu_model() {
  try {
    for (const auto& line : split(read_file("/proc/cpuinfo"), '\n')) {
      if (starts_with(line, "model name")) {
        size_t colon = line.find(':');
        if (colon != std::string::npos) {
          return std::string(trim(std::string_view(line).substr(colon + 1)));
        }
      }
    }
  } catch (const std::exception&) {
    // The model is decoration for reports; a machine without /proc/cpuinfo still runs benchmarks.
  }
  return {};
}

// hwloc reports failures through errno, which it does not always set.
[[noreturn]] void throw_hwloc_failure(const char* call) {
  int error = errno;
  throw std::runtime_error(fmt::format("{} failed: {}", call, error != 0 ? std::strerror(error) : "unknown error"));
}

// Owns an hwloc topology for the length of one detection; neither copied nor moved.
class HwlocTopology {
public:
  HwlocTopology() {
    errno = 0;
    if (hwloc_topology_init(&m_topology) != 0) {
      throw_hwloc_failure("hwloc_topology_init");
    }
  }
  ~HwlocTopology() { hwloc_topology_destroy(m_topology); }
  HwlocTopology(const HwlocTopology&) = delete;
  HwlocTopology& operator=(const HwlocTopology&) = delete;

  void load() {
    errno = 0;
    if (hwloc_topology_load(m_topology) != 0) {
      throw_hwloc_failure("hwloc_topology_load");
    }
  }
  hwloc_topology_t get() const { return m_topology; }

private:
  hwloc_topology_t m_topology = nullptr;
};

// Throws (any std::exception) when hwloc cannot give a usable answer, so the caller falls back.
Topology read_hwloc_topology(const std::vector<int>& allowed) {
  HwlocTopology hwloc;
  hwloc.load();
  Topology topology;
  topology.source = "hwloc";
  hwloc_topology_t handle = hwloc.get();
  if (hwloc_get_nbobjs_by_type(handle, HWLOC_OBJ_CORE) <= 0) {
    throw std::runtime_error("hwloc found no Core objects");
  }
  for (hwloc_obj_t core = hwloc_get_next_obj_by_type(handle, HWLOC_OBJ_CORE, nullptr); core != nullptr;
       core = hwloc_get_next_obj_by_type(handle, HWLOC_OBJ_CORE, core)) {
    PhysicalCore physical;
    for (hwloc_obj_t pu = hwloc_get_next_obj_inside_cpuset_by_type(handle, core->cpuset, HWLOC_OBJ_PU, nullptr);
         pu != nullptr; pu = hwloc_get_next_obj_inside_cpuset_by_type(handle, core->cpuset, HWLOC_OBJ_PU, pu)) {
      int cpu = static_cast<int>(pu->os_index);
      if (allows(allowed, cpu)) {
        physical.cpus.push_back(cpu);
      }
    }
    if (physical.cpus.empty()) {
      continue;
    }
    std::sort(physical.cpus.begin(), physical.cpus.end());
    hwloc_obj_t package = hwloc_get_ancestor_obj_by_type(handle, HWLOC_OBJ_PACKAGE, core);
    if (package != nullptr) {
      physical.package = static_cast<int>(package->logical_index);
      const char* model = hwloc_obj_get_info_by_name(package, "CPUModel");
      if (model != nullptr && topology.cpu_model.empty()) {
        topology.cpu_model = model;
      }
    }
    physical.core_index = static_cast<int>(topology.cores.size());
    topology.logical_cpus += static_cast<int>(physical.cpus.size());
    topology.cores.push_back(std::move(physical));
  }
  if (topology.cores.empty()) {
    throw std::runtime_error("hwloc found no core in this process's affinity mask");
  }
  if (topology.cpu_model.empty()) {
    topology.cpu_model = proc_cpu_model();
  }
  return topology;
}

// A sysfs file's trimmed content, or nothing when it cannot be read (absent, permission).
std::optional<std::string> read_optional(const fs::path& path) {
  try {
    return std::string(trim(read_file(path)));
  } catch (const SystemError&) {
    return std::nullopt;
  }
}

// A sysfs file that exists but holds nonsense is named in the error rather than guessed around.
std::vector<int> parse_cpu_list_file(const fs::path& path, const std::string& text) {
  try {
    return parse_cpu_list(text);
  } catch (const UserError& error) {
    throw UserError(fmt::format("{}: {}", path.string(), error.what()));
  }
}

std::optional<int> parse_id(std::string_view text) {
  int value = -1;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) {
    return std::nullopt;
  }
  return value;
}

std::optional<int> read_id_file(const fs::path& path) {
  std::optional<std::string> text = read_optional(path);
  if (!text) {
    return std::nullopt;
  }
  std::optional<int> value = parse_id(*text);
  if (!value) {
    throw UserError(fmt::format("{}: expected a number, found '{}'", path.string(), printable(*text)));
  }
  return value;
}

// Online CPUs from dir/online, or from the cpuN directories when that file is absent.
std::vector<int> online_cpus(const fs::path& dir) {
  if (std::optional<std::string> text = read_optional(dir / "online")) {
    return parse_cpu_list_file(dir / "online", *text);
  }
  std::vector<int> online;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(dir, error)) {
    std::string name = entry.path().filename().string();
    if (!starts_with(name, "cpu")) {
      continue;
    }
    std::optional<int> cpu = parse_id(std::string_view(name).substr(3));
    if (cpu && *cpu >= 0 && *cpu <= k_max_cpu && entry.is_directory()) {
      online.push_back(*cpu);
    }
  }
  if (online.empty()) {
    throw SystemError("read", (dir / "online").string() + " (and no cpuN directories)", error ? error.value() : ENOENT);
  }
  std::sort(online.begin(), online.end());
  return online;
}

// What sysfs says about one CPU; every file is optional because containers and old kernels
// leave some out (a missing or negative package id reads as 0).
struct SysfsCpu {
  int package = 0;
  std::optional<int> core_id;
  std::optional<std::vector<int>> siblings;
};

SysfsCpu read_sysfs_cpu(const fs::path& dir, int cpu) {
  fs::path topology = dir / ("cpu" + std::to_string(cpu)) / "topology";
  SysfsCpu facts;
  facts.package = std::max(0, read_id_file(topology / "physical_package_id").value_or(0));
  facts.core_id = read_id_file(topology / "core_id");
  for (const char* name : {"thread_siblings_list", "core_cpus_list"}) {
    if (std::optional<std::string> text = read_optional(topology / name)) {
      facts.siblings = parse_cpu_list_file(topology / name, *text);
      break;
    }
  }
  return facts;
}

} // namespace

std::vector<int> parse_cpu_list(const std::string& text) {
  std::string_view whole = trim(text);
  if (whole.empty()) {
    throw UserError("empty CPU list; expected something like 0-3,8");
  }
  std::vector<int> cpus;
  auto number = [&](std::string_view part, std::string_view item) {
    std::optional<int> value = parse_id(part);
    if (!value || *value < 0 || *value > k_max_cpu) {
      throw UserError(fmt::format("'{}' in CPU list '{}' is not a CPU id (0-{}) or a range such as 0-3",
                                  printable(item), printable(whole), k_max_cpu));
    }
    return *value;
  };
  for (const auto& raw : split(whole, ',')) {
    std::string_view item = trim(raw);
    size_t dash = item.find('-');
    if (dash == std::string_view::npos) {
      cpus.push_back(number(item, item));
      continue;
    }
    int first = number(item.substr(0, dash), item);
    int last = number(item.substr(dash + 1), item);
    if (last < first) {
      throw UserError(fmt::format("'{}' in CPU list '{}' is a range that runs backwards", printable(item),
                                  printable(whole)));
    }
    for (int cpu = first; cpu <= last; ++cpu) {
      cpus.push_back(cpu);
    }
  }
  std::sort(cpus.begin(), cpus.end());
  cpus.erase(std::unique(cpus.begin(), cpus.end()), cpus.end());
  return cpus;
}

std::string format_cpu_list(const std::vector<int>& cpus) {
  std::vector<int> sorted = cpus;
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  std::string out;
  for (size_t i = 0; i < sorted.size();) {
    size_t j = i;
    while (j + 1 < sorted.size() && sorted[j + 1] == sorted[j] + 1) {
      ++j;
    }
    if (!out.empty()) {
      out += ',';
    }
    out += j == i ? std::to_string(sorted[i]) : fmt::format("{}-{}", sorted[i], sorted[j]);
    i = j + 1;
  }
  return out;
}

std::vector<int> Topology::usable_cpus(bool reserve_core0) const {
  std::vector<int> usable;
  for (const auto& core : cores) {
    if (core.cpus.empty()) {
      continue;
    }
    // cores hold only CPUs in the mask, so a CPU 0 outside the mask reserves nothing.
    if (reserve_core0 && std::find(core.cpus.begin(), core.cpus.end(), 0) != core.cpus.end()) {
      continue;
    }
    usable.push_back(*std::min_element(core.cpus.begin(), core.cpus.end()));
  }
  std::sort(usable.begin(), usable.end());
  return usable;
}

Topology read_sysfs_topology(const std::string& sysfs_cpu_dir, const std::vector<int>& allowed) {
  fs::path dir(sysfs_cpu_dir);
  std::vector<int> mask = allowed;
  std::sort(mask.begin(), mask.end());
  std::vector<int> online = online_cpus(dir);

  // A core is named by its smallest hardware thread. Siblings come from the sibling list; without
  // one, CPUs sharing (package, core_id) are siblings; without that either, a CPU is its own core.
  // Facts are read for every online CPU, not only allowed ones, so cores keep the machine's order.
  std::map<std::pair<int, int>, int> first_by_core_id;
  std::map<int, PhysicalCore> by_first_cpu;
  for (int cpu : online) {
    SysfsCpu facts = read_sysfs_cpu(dir, cpu);
    int first = cpu;
    if (facts.siblings && !facts.siblings->empty()) {
      first = std::min(cpu, facts.siblings->front());
    } else if (facts.core_id) {
      first = first_by_core_id.try_emplace({facts.package, *facts.core_id}, cpu).first->second;
    }
    if (!allows(mask, cpu)) {
      continue;
    }
    PhysicalCore& core = by_first_cpu[first];
    core.package = facts.package;
    core.cpus.push_back(cpu);
  }

  Topology topology;
  topology.source = "sysfs";
  for (auto& [first, core] : by_first_cpu) {
    core.core_index = static_cast<int>(topology.cores.size());
    topology.logical_cpus += static_cast<int>(core.cpus.size());
    topology.cores.push_back(std::move(core));
  }
  // Test trees are fake; only the real one describes the CPU in /proc/cpuinfo.
  if (sysfs_cpu_dir == k_real_sysfs_cpu_dir) {
    topology.cpu_model = proc_cpu_model();
  }
  return topology;
}

Topology detect_topology() {
  std::vector<int> allowed = affinity_cpus();
  std::string reason;
  try {
    return read_hwloc_topology(allowed);
  } catch (const std::exception& error) {
    reason = error.what();
  }
  try {
    Topology topology = read_sysfs_topology(k_real_sysfs_cpu_dir, allowed);
    topology.fallback_reason = reason;
    return topology;
  } catch (const std::exception& error) {
    throw UserError(fmt::format("cannot read the CPU topology: hwloc: {}; sysfs: {}", reason, error.what()));
  }
}

} // namespace bm
