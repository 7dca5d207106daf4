#include "resources/topology.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sched.h>
#include <unistd.h>
#include <utility>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "util/error.hpp"

namespace bm {
namespace {

namespace fs = std::filesystem;

// A fake /sys/devices/system/cpu in a temporary directory, removed when the test ends.
class FakeSysfs {
public:
  explicit FakeSysfs(const std::string& name)
      : m_root(fs::path(::testing::TempDir()) / ("bm_sysfs_" + name + "_" + std::to_string(::getpid()))) {
    fs::remove_all(m_root);
    fs::create_directories(m_root);
  }
  ~FakeSysfs() {
    std::error_code ignored;
    fs::remove_all(m_root, ignored);
  }
  FakeSysfs(const FakeSysfs&) = delete;
  FakeSysfs& operator=(const FakeSysfs&) = delete;

  std::string root() const { return m_root.string(); }

  void online(const std::string& list) const { write(m_root / "online", list); }

  // One CPU's topology files; an empty string leaves that file out.
  void cpu(int cpu, const std::string& siblings, const std::string& package = "0",
           const std::string& core_id = "") const {
    fs::path dir = m_root / ("cpu" + std::to_string(cpu)) / "topology";
    fs::create_directories(dir);
    for (const auto& [file, content] : {std::pair{"thread_siblings_list", siblings},
                                        std::pair{"physical_package_id", package}, std::pair{"core_id", core_id}}) {
      if (!content.empty()) {
        write(dir / file, content);
      }
    }
  }

private:
  static void write(const fs::path& path, const std::string& content) { std::ofstream(path) << content << "\n"; }

  fs::path m_root;
};

std::vector<std::vector<int>> cpus_of(const Topology& topology) {
  std::vector<std::vector<int>> cpus;
  for (const auto& core : topology.cores) {
    cpus.push_back(core.cpus);
  }
  return cpus;
}

std::vector<int> range(int first, int last) {
  std::vector<int> cpus;
  for (int cpu = first; cpu <= last; ++cpu) {
    cpus.push_back(cpu);
  }
  return cpus;
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wold-style-cast"
std::vector<int> affinity_mask() {
  cpu_set_t mask;
  CPU_ZERO(&mask);
  EXPECT_EQ(sched_getaffinity(0, sizeof mask, &mask), 0);
  std::vector<int> cpus;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (CPU_ISSET(cpu, &mask)) {
      cpus.push_back(cpu);
    }
  }
  return cpus;
}
#pragma GCC diagnostic pop

TEST(CpuList, ParsesAndFormats) {
  EXPECT_EQ(parse_cpu_list("0-3,8,10-11\n"), (std::vector<int>{0, 1, 2, 3, 8, 10, 11}));
  EXPECT_EQ(parse_cpu_list(" 3,1,1 "), (std::vector<int>{1, 3}));
  EXPECT_EQ(parse_cpu_list("\n2-4,3-5\n"), range(2, 5));
  EXPECT_EQ(parse_cpu_list("4095"), (std::vector<int>{4095}));
  EXPECT_EQ(parse_cpu_list("7-7"), (std::vector<int>{7}));
  EXPECT_EQ(format_cpu_list({0, 1, 2, 3, 8}), "0-3,8");
  EXPECT_EQ(format_cpu_list({0, 1, 2, 3, 8, 10, 11}), "0-3,8,10-11");
  EXPECT_EQ(format_cpu_list({11, 10, 5, 5}), "5,10-11");
  EXPECT_EQ(format_cpu_list({5}), "5");
  EXPECT_EQ(format_cpu_list({}), "");
  for (const char* list : {"0", "0-1", "0,2,4-9,4095"}) {
    EXPECT_EQ(format_cpu_list(parse_cpu_list(list)), list);
  }
}

TEST(CpuList, RejectsMalformedListsNamingTheBadPart) {
  struct Case {
    const char* text;
    const char* named;
  };
  for (const Case& bad : {Case{"", "empty"}, Case{"  \n", "empty"}, Case{"a", "'a'"}, Case{"3-1", "'3-1'"},
                          Case{"-1", "'-1'"}, Case{"1,,2", "''"}, Case{"1,", "''"}, Case{"4096", "'4096'"},
                          Case{"0-4096", "'0-4096'"}, Case{"1-", "'1-'"}, Case{"0x1", "'0x1'"},
                          Case{"1-2-3", "'1-2-3'"}, Case{"+1", "'+1'"}, Case{"1 2", "'1 2'"}}) {
    try {
      parse_cpu_list(bad.text);
      ADD_FAILURE() << "accepted '" << bad.text << "'";
    } catch (const UserError& error) {
      EXPECT_NE(std::string(error.what()).find(bad.named), std::string::npos)
          << "'" << bad.text << "' gave: " << error.what();
    }
  }
}

TEST(SysfsTopology, GroupsHardwareThreadsIntoPhysicalCores) {
  FakeSysfs sysfs("smt");
  sysfs.online("0-3");
  sysfs.cpu(0, "0,2");
  sysfs.cpu(1, "1,3");
  sysfs.cpu(2, "0,2");
  sysfs.cpu(3, "1,3");
  Topology topology = read_sysfs_topology(sysfs.root(), {});
  EXPECT_EQ(topology.source, "sysfs");
  EXPECT_EQ(topology.cpu_model, "");  // a fake tree says nothing of the real CPU
  EXPECT_EQ(cpus_of(topology), (std::vector<std::vector<int>>{{0, 2}, {1, 3}}));
  EXPECT_EQ(topology.cores[0].core_index, 0);
  EXPECT_EQ(topology.cores[1].core_index, 1);
  EXPECT_EQ(topology.logical_cpus, 4);
  EXPECT_EQ(topology.usable_cpus(true), (std::vector<int>{1}));
  EXPECT_EQ(topology.usable_cpus(false), (std::vector<int>{0, 1}));
}

TEST(SysfsTopology, SixteenCoresLeaveCore0Free) {
  FakeSysfs sysfs("sixteen");
  sysfs.online("0-15");
  for (int cpu = 0; cpu < 16; ++cpu) {
    sysfs.cpu(cpu, std::to_string(cpu));
  }
  Topology topology = read_sysfs_topology(sysfs.root(), {});
  EXPECT_EQ(topology.cores.size(), 16u);
  EXPECT_EQ(topology.usable_cpus(true), range(1, 15));
  EXPECT_EQ(topology.usable_cpus(false), range(0, 15));
}

TEST(SysfsTopology, ReadsPackages) {
  FakeSysfs sysfs("packages");
  sysfs.online("0-3");
  sysfs.cpu(0, "0", "0");
  sysfs.cpu(1, "1", "0");
  sysfs.cpu(2, "2", "1");
  sysfs.cpu(3, "3", "1");
  Topology topology = read_sysfs_topology(sysfs.root(), {});
  ASSERT_EQ(topology.cores.size(), 4u);
  EXPECT_EQ(topology.cores[1].package, 0);
  EXPECT_EQ(topology.cores[2].package, 1);
}

TEST(SysfsTopology, KeepsOnlyCpusInTheAffinityMask) {
  // Four SMT cores: (0,4) (1,5) (2,6) (3,7).
  FakeSysfs sysfs("mask");
  sysfs.online("0-7");
  for (int cpu = 0; cpu < 8; ++cpu) {
    sysfs.cpu(cpu, fmt::format("{},{}", cpu % 4, cpu % 4 + 4));
  }
  // CPU 0 is outside the mask, so no core is reserved; 99 is not online and is ignored.
  Topology topology = read_sysfs_topology(sysfs.root(), {7, 1, 2, 4, 5, 99});
  EXPECT_EQ(cpus_of(topology), (std::vector<std::vector<int>>{{4}, {1, 5}, {2}, {7}}));
  EXPECT_EQ(topology.cores[3].core_index, 3);
  EXPECT_EQ(topology.logical_cpus, 5);
  EXPECT_EQ(topology.usable_cpus(true), (std::vector<int>{1, 2, 4, 7}));

  // CPU 0 in the mask reserves its whole core, sibling 4 included.
  EXPECT_EQ(read_sysfs_topology(sysfs.root(), {0, 3, 4, 6}).usable_cpus(true), (std::vector<int>{3, 6}));
  // Online CPUs outside the mask only: no cores at all.
  EXPECT_TRUE(read_sysfs_topology(sysfs.root(), {42}).cores.empty());
}

TEST(SysfsTopology, MissingFilesAreSkipped) {
  // No `online`: the cpuN directories count. cpu0/cpu1 pair by core_id alone, cpu2 has no
  // topology files and stands alone, cpu3 has a sibling list; cpufreq is not a CPU.
  FakeSysfs sysfs("missing");
  sysfs.cpu(0, "", "0", "0");
  sysfs.cpu(1, "", "0", "0");
  sysfs.cpu(2, "", "");
  sysfs.cpu(3, "3", "1", "5");
  fs::create_directories(fs::path(sysfs.root()) / "cpufreq");
  Topology topology = read_sysfs_topology(sysfs.root(), {});
  EXPECT_EQ(cpus_of(topology), (std::vector<std::vector<int>>{{0, 1}, {2}, {3}}));
  EXPECT_EQ(topology.cores[1].package, 0);
  EXPECT_EQ(topology.cores[2].package, 1);
  EXPECT_EQ(topology.usable_cpus(true), (std::vector<int>{2, 3}));
}

TEST(SysfsTopology, NoCpusOrNonsenseIsAClearError) {
  FakeSysfs sysfs("errors");
  try {
    read_sysfs_topology(sysfs.root(), {});
    ADD_FAILURE() << "an empty tree was accepted";
  } catch (const SystemError& error) {
    EXPECT_NE(std::string(error.what()).find("online"), std::string::npos) << error.what();
  }
  EXPECT_THROW(read_sysfs_topology(sysfs.root() + "/nonexistent", {}), SystemError);

  sysfs.online("0-1");
  sysfs.cpu(0, "0");
  sysfs.cpu(1, "one");
  try {
    read_sysfs_topology(sysfs.root(), {});
    ADD_FAILURE() << "a malformed sibling list was accepted";
  } catch (const UserError& error) {
    EXPECT_NE(std::string(error.what()).find("cpu1/topology/thread_siblings_list"), std::string::npos)
        << error.what();
  }
  sysfs.online("zero");
  EXPECT_THROW(read_sysfs_topology(sysfs.root(), {}), UserError);
}

TEST(Topology, RealMachineFromHwlocWithinTheAffinityMask) {
  Topology topology = detect_topology();
  EXPECT_EQ(topology.source, "hwloc") << topology.fallback_reason;
  EXPECT_EQ(topology.fallback_reason, "");
  ASSERT_FALSE(topology.cores.empty());
  std::vector<int> mask = affinity_mask();
  EXPECT_EQ(topology.logical_cpus, static_cast<int>(mask.size()));
  for (bool reserve_core0 : {false, true}) {
    for (int cpu : topology.usable_cpus(reserve_core0)) {
      EXPECT_TRUE(std::binary_search(mask.begin(), mask.end(), cpu)) << cpu;
    }
  }
  EXPECT_EQ(topology.usable_cpus(false).size(), topology.cores.size());

  // The fallback sees the same cores (hwloc reads sysfs too on Linux), perhaps in another order.
  std::vector<std::vector<int>> from_hwloc = cpus_of(topology);
  std::vector<std::vector<int>> from_sysfs = cpus_of(read_sysfs_topology("/sys/devices/system/cpu", mask));
  std::sort(from_hwloc.begin(), from_hwloc.end());
  std::sort(from_sysfs.begin(), from_sysfs.end());
  EXPECT_EQ(from_sysfs, from_hwloc);
}

} // namespace
} // namespace bm
