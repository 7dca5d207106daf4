#include "store/machine.hpp"

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
  return context;
}

} // namespace bm
