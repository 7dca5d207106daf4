#include "resources/topology.hpp"

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <map>
#include <optional>
#include <sched.h>

#include <fmt/format.h>
#include <hwloc.h>

#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/strings.hpp"

namespace bm {

namespace {

constexpr int k_max_cpu = 4095;

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wold-style-cast"
// The CPUs this process may run on (its affinity mask), ascending.
std::vector<int> affinity_cpus() {
  std::vector<int> cpus;
  cpu_set_t* set = CPU_ALLOC(k_max_cpu + 1);
  size_t size = CPU_ALLOC_SIZE(k_max_cpu + 1);
  CPU_ZERO_S(size, set);
  if (::sched_getaffinity(0, size, set) == 0) {
    for (int cpu = 0; cpu <= k_max_cpu; ++cpu) {
      if (CPU_ISSET_S(static_cast<size_t>(cpu), size, set)) {
        cpus.push_back(cpu);
      }
    }
  }
  CPU_FREE(set);
  return cpus;
}
#pragma GCC diagnostic pop

std::string proc_cpu_model() {
  try {
    for (const auto& line : split(read_file("/proc/cpuinfo"), '\n')) {
      if (starts_with(line, "model name")) {
        size_t colon = line.find(':');
        if (colon != std::string::npos) {
          return std::string(trim(line.substr(colon + 1)));
        }
      }
    }
  } catch (const std::exception&) {
  }
  return {};
}

// Owns a loaded hwloc topology.
class HwlocTopology {
public:
  HwlocTopology() {
    if (hwloc_topology_init(&m_topology) != 0) {
      throw std::runtime_error("hwloc_topology_init failed");
    }
    if (hwloc_topology_load(m_topology) != 0) {
      hwloc_topology_destroy(m_topology);
      throw std::runtime_error("hwloc_topology_load failed");
    }
  }
  ~HwlocTopology() { hwloc_topology_destroy(m_topology); }
  HwlocTopology(const HwlocTopology&) = delete;
  HwlocTopology& operator=(const HwlocTopology&) = delete;
  hwloc_topology_t get() const { return m_topology; }

private:
  hwloc_topology_t m_topology = nullptr;
};

Topology read_hwloc_topology(const std::vector<int>& allowed) {
  HwlocTopology hwloc;
  Topology topology;
  topology.source = "hwloc";
  int cores = hwloc_get_nbobjs_by_type(hwloc.get(), HWLOC_OBJ_CORE);
  if (cores <= 0) {
    throw std::runtime_error("hwloc found no cores");
  }
  for (int i = 0; i < cores; ++i) {
    hwloc_obj_t core = hwloc_get_obj_by_type(hwloc.get(), HWLOC_OBJ_CORE, static_cast<unsigned>(i));
    PhysicalCore physical;
    physical.core_index = static_cast<int>(topology.cores.size());
    hwloc_obj_t package = hwloc_get_ancestor_obj_by_type(hwloc.get(), HWLOC_OBJ_PACKAGE, core);
    physical.package = package ? static_cast<int>(package->logical_index) : 0;
    if (package && topology.cpu_model.empty()) {
      if (const char* model = hwloc_obj_get_info_by_name(package, "CPUModel")) {
        topology.cpu_model = model;
      }
    }
    int pus = hwloc_get_nbobjs_inside_cpuset_by_type(hwloc.get(), core->cpuset, HWLOC_OBJ_PU);
    for (int k = 0; k < pus; ++k) {
      hwloc_obj_t pu = hwloc_get_obj_inside_cpuset_by_type(hwloc.get(), core->cpuset, HWLOC_OBJ_PU,
                                                           static_cast<unsigned>(k));
      int cpu = static_cast<int>(pu->os_index);
      if (allowed.empty() || std::binary_search(allowed.begin(), allowed.end(), cpu)) {
        physical.cpus.push_back(cpu);
      }
    }
    std::sort(physical.cpus.begin(), physical.cpus.end());
    if (!physical.cpus.empty()) {
      topology.logical_cpus += static_cast<int>(physical.cpus.size());
      topology.cores.push_back(std::move(physical));
    }
  }
  if (topology.cores.empty()) {
    throw std::runtime_error("hwloc found no core in this process's affinity mask");
  }
  if (topology.cpu_model.empty()) {
    topology.cpu_model = proc_cpu_model();
  }
  return topology;
}

std::optional<std::string> read_optional(const std::filesystem::path& path) {
  try {
    return std::string(trim(read_file(path)));
  } catch (const SystemError&) {
    return std::nullopt;
  }
}

} // namespace

std::vector<int> parse_cpu_list(const std::string& text) {
  std::string_view whole = trim(text);
  if (whole.empty()) {
    throw UserError("empty CPU list; expected something like 0-3,8");
  }
  std::vector<int> cpus;
  auto number = [&](std::string_view part, std::string_view item) {
    int value = -1;
    auto [end, error] = std::from_chars(part.data(), part.data() + part.size(), value);
    if (part.empty() || error != std::errc() || end != part.data() + part.size() || value < 0 || value > k_max_cpu) {
      throw UserError(fmt::format("'{}' in CPU list '{}' is not a CPU id (0-{}) or range", printable(item),
                                  printable(whole), k_max_cpu));
    }
    return value;
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
    if (reserve_core0 && std::find(core.cpus.begin(), core.cpus.end(), 0) != core.cpus.end()) {
      continue;
    }
    usable.push_back(core.cpus.front());
  }
  std::sort(usable.begin(), usable.end());
  return usable;
}

Topology read_sysfs_topology(const std::string& sysfs_cpu_dir, const std::vector<int>& allowed) {
  namespace fs = std::filesystem;
  Topology topology;
  topology.source = "sysfs";
  std::vector<int> online;
  if (auto text = read_optional(fs::path(sysfs_cpu_dir) / "online")) {
    online = parse_cpu_list(*text);
  } else {
    std::error_code error;
    for (const auto& entry : fs::directory_iterator(sysfs_cpu_dir, error)) {
      std::string name = entry.path().filename().string();
      if (starts_with(name, "cpu") && name.size() > 3 &&
          name.find_first_not_of("0123456789", 3) == std::string::npos) {
        online.push_back(std::stoi(name.substr(3)));
      }
    }
    std::sort(online.begin(), online.end());
  }
  if (online.empty()) {
    throw SystemError("read", sysfs_cpu_dir + "/online", ENOENT);
  }
  // Group hardware threads into physical cores by their sibling lists; a CPU whose topology
  // files are missing is taken as a core of its own.
  std::map<int, PhysicalCore> by_first_cpu;
  for (int cpu : online) {
    if (!allowed.empty() && !std::binary_search(allowed.begin(), allowed.end(), cpu)) {
      continue;
    }
    fs::path dir = fs::path(sysfs_cpu_dir) / ("cpu" + std::to_string(cpu)) / "topology";
    std::vector<int> siblings = {cpu};
    auto list = read_optional(dir / "thread_siblings_list");
    if (!list) {
      list = read_optional(dir / "core_cpus_list");
    }
    if (list) {
      siblings = parse_cpu_list(*list);
    }
    int first = *std::min_element(siblings.begin(), siblings.end());
    PhysicalCore& core = by_first_cpu[first];
    core.cpus.push_back(cpu);
    if (auto package = read_optional(dir / "physical_package_id")) {
      core.package = std::max(0, std::atoi(package->c_str()));
    }
  }
  for (auto& [first, core] : by_first_cpu) {
    std::sort(core.cpus.begin(), core.cpus.end());
    core.core_index = static_cast<int>(topology.cores.size());
    topology.logical_cpus += static_cast<int>(core.cpus.size());
    topology.cores.push_back(core);
  }
  if (sysfs_cpu_dir == "/sys/devices/system/cpu") {
    topology.cpu_model = proc_cpu_model();
  }
  return topology;
}

Topology detect_topology() {
  std::vector<int> allowed = affinity_cpus();
  try {
    return read_hwloc_topology(allowed);
  } catch (const std::exception& error) {
    Topology topology = read_sysfs_topology("/sys/devices/system/cpu", allowed);
    topology.fallback_reason = error.what();
    return topology;
  }
}

} // namespace bm
