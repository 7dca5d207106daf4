#include "store/machine.hpp"

#include <cstdio>
#include <sys/utsname.h>
#include <unistd.h>

#include "resources/topology.hpp"
#include "util/clock.hpp"
#include "util/fs.hpp"
#include "util/strings.hpp"

namespace bm {

namespace {

std::string os_name() {
  try {
    for (const auto& line : split(read_file("/etc/os-release"), '\n')) {
      if (starts_with(line, "PRETTY_NAME=")) {
        std::string value = line.substr(12);
        if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
          value = value.substr(1, value.size() - 2);
        }
        return value;
      }
    }
  } catch (const std::exception&) {
  }
  return "unknown";
}

// The first line of a small sysfs file, or empty when it cannot be read (a VM, a container).
std::string sysfs_line(const char* path) {
  std::FILE* file = std::fopen(path, "re");
  if (file == nullptr) {
    return {};
  }
  char buffer[128] = {};
  bool read = std::fgets(buffer, sizeof buffer, file) != nullptr;
  std::fclose(file);
  std::string line = read ? buffer : "";
  while (!line.empty() && (line.back() == '\n' || line.back() == ' ')) {
    line.pop_back();
  }
  return line;
}

} // namespace

nlohmann::json machine_context(const Topology& topology) {
  utsname names{};
  ::uname(&names);
  nlohmann::json context;
  context["date"] = utc_timestamp();
  context["host"] = names.nodename;
  context["tool"] = "benchmatrix";
  context["tool_version"] = BENCHMATRIX_VERSION;
  context["os"] = os_name();
  context["kernel"] = std::string(names.sysname) + " " + names.release;
  context["arch"] = names.machine;
  context["cpu_model"] = topology.cpu_model;
  context["physical_cores"] = topology.cores.size();
  context["logical_cpus"] = topology.logical_cpus;
  context["topology_source"] = topology.source;
  // What changes a CPU's speed from one run to the next, where the kernel says it.
  std::string governor = sysfs_line("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor");
  context["cpu_governor"] = governor.empty() ? "unknown (no cpufreq in /sys)" : governor;
  std::string no_turbo = sysfs_line("/sys/devices/system/cpu/intel_pstate/no_turbo");
  std::string boost = sysfs_line("/sys/devices/system/cpu/cpufreq/boost");
  context["cpu_turbo"] = !no_turbo.empty() ? (no_turbo == "0" ? "on" : "off")
                         : !boost.empty()  ? (boost == "1" ? "on" : "off")
                                           : "unknown";
  return context;
}

} // namespace bm
