#include "resources/topology.hpp"

#include <filesystem>
#include <fstream>
#include <sched.h>

#include <gtest/gtest.h>

#include "util/error.hpp"

namespace bm {
namespace {

namespace fs = std::filesystem;

// A fake /sys/devices/system/cpu: `siblings[i]` is CPU i's thread_siblings_list.
fs::path fake_sysfs(const std::string& name, const std::string& online, const std::vector<std::string>& siblings) {
  fs::path root = fs::path(::testing::TempDir()) / ("bm_sysfs_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(root);
  fs::create_directories(root);
  if (!online.empty()) {
    std::ofstream(root / "online") << online << "\n";
  }
  for (size_t cpu = 0; cpu < siblings.size(); ++cpu) {
    fs::path dir = root / ("cpu" + std::to_string(cpu)) / "topology";
    fs::create_directories(dir);
    if (!siblings[cpu].empty()) {
      std::ofstream(dir / "thread_siblings_list") << siblings[cpu] << "\n";
      std::ofstream(dir / "physical_package_id") << "0\n";
    }
  }
  return root;
}

TEST(CpuList, ParsesAndFormats) {
  EXPECT_EQ(parse_cpu_list("0-3,8,10-11\n"), (std::vector<int>{0, 1, 2, 3, 8, 10, 11}));
  EXPECT_EQ(parse_cpu_list(" 3,1,1 "), (std::vector<int>{1, 3}));
  EXPECT_EQ(format_cpu_list({0, 1, 2, 3, 8, 10, 11}), "0-3,8,10-11");
  EXPECT_EQ(format_cpu_list({5}), "5");
  EXPECT_EQ(format_cpu_list({}), "");
}

TEST(CpuList, RejectsMalformedLists) {
  for (const char* bad : {"", "a", "3-1", "-1", "1,,2", "4096", "1-", "0x1"}) {
    EXPECT_THROW(parse_cpu_list(bad), UserError) << bad;
  }
}

TEST(SysfsTopology, GroupsHardwareThreadsIntoPhysicalCores) {
  auto root = fake_sysfs("smt", "0-3", {"0,2", "1,3", "0,2", "1,3"});
  Topology topology = read_sysfs_topology(root.string(), {});
  ASSERT_EQ(topology.cores.size(), 2u);
  EXPECT_EQ(topology.cores[0].cpus, (std::vector<int>{0, 2}));
  EXPECT_EQ(topology.cores[1].cpus, (std::vector<int>{1, 3}));
  EXPECT_EQ(topology.logical_cpus, 4);
  EXPECT_EQ(topology.usable_cpus(true), (std::vector<int>{1}));
  EXPECT_EQ(topology.usable_cpus(false), (std::vector<int>{0, 1}));
}

TEST(SysfsTopology, SixteenCoresLeaveCore0Free) {
  std::vector<std::string> siblings;
  for (int i = 0; i < 16; ++i) {
    siblings.push_back(std::to_string(i));
  }
  Topology topology = read_sysfs_topology(fake_sysfs("sixteen", "0-15", siblings).string(), {});
  std::vector<int> expected;
  for (int i = 1; i < 16; ++i) {
    expected.push_back(i);
  }
  EXPECT_EQ(topology.usable_cpus(true), expected);
}

TEST(SysfsTopology, RestrictedToTheAffinityMaskAndToleratesMissingFiles) {
  auto root = fake_sysfs("mask", "", {"0", "1", "", "3"});  // no `online`; cpu2 has no topology files
  Topology topology = read_sysfs_topology(root.string(), {1, 2, 3});
  ASSERT_EQ(topology.cores.size(), 3u);
  EXPECT_EQ(topology.usable_cpus(true), (std::vector<int>{1, 2, 3}));
  EXPECT_THROW(read_sysfs_topology((root / "nonexistent").string(), {}), SystemError);
}

TEST(Topology, RealMachineFromHwlocWithinTheAffinityMask) {
  Topology topology = detect_topology();
  EXPECT_EQ(topology.source, "hwloc") << topology.fallback_reason;
  ASSERT_FALSE(topology.cores.empty());
  cpu_set_t mask;
  ASSERT_EQ(sched_getaffinity(0, sizeof mask, &mask), 0);
  for (int cpu : topology.usable_cpus(false)) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wold-style-cast"
    EXPECT_TRUE(CPU_ISSET(cpu, &mask)) << cpu;
#pragma GCC diagnostic pop
  }
  Topology sysfs = read_sysfs_topology("/sys/devices/system/cpu", {});
  EXPECT_EQ(sysfs.cores.size(), topology.cores.size());
}

} // namespace
} // namespace bm
